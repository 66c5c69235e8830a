"""The outbox's queue semantics on SQLite and PostgreSQL: batches, leases and their expiry,
exactly-once journal marks, and two shippers ("hosts") that never take the same rows or batch."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from serving.outbox import LEGACY_FILE, Batch, Outbox, encode_row, import_legacy_outbox


def _rows(n: int, version: str = "3") -> list[tuple[Any, ...]]:
    return [
        encode_row((1_700_000_000.0 + i, "path", f"p_{i}", version, ["C1"], [0.5], 0.2, 3.0))
        for i in range(n)
    ]


@pytest.fixture
def outbox(database_url: str) -> Iterator[Outbox]:
    box = Outbox(database_url)
    yield box
    box.close()


def test_batches_leases_expiry_sent_and_pruning(outbox: Outbox) -> None:
    outbox.append(_rows(7, "3") + _rows(2, "4"))
    assert outbox.claim_batches(max_rows=3, now_ms=1_000) == 4  # 3 + 3 + 1 of v3, 2 of v4
    assert outbox.pending_rows() == 9
    now = time.time()
    first = outbox.lease_next(lease_s=60, now=now)
    assert first is not None and (first.model_version, first.n_rows, first.attempts) == ("3", 3, 1)
    assert [r.subject for r in outbox.records(first.batch_id)] == ["p_0", "p_1", "p_2"]
    leased = [outbox.lease_next(60, now) for _ in range(4)]
    assert leased[-1] is None  # the other three are leased too
    again = outbox.lease_next(60, now + 61)  # the first lease expired: a dead shipper's batch
    assert again is not None and (again.batch_id, again.attempts) == (first.batch_id, 2)
    outbox.mark_sent(first.batch_id, "run-1", now_ms=5_000)
    outbox.mark_failed(leased[0].batch_id, "refused", quarantine=True)  # type: ignore[union-attr]
    assert outbox.pending_rows() == 9 - 3 - 3
    assert outbox.prune_sent(older_than_ms=4_000) == 0
    assert outbox.prune_sent(older_than_ms=6_000) == 3
    assert outbox.records(first.batch_id) == []


def test_segment_mark_is_stored_once_with_its_rows(outbox: Outbox) -> None:
    outbox.append(_rows(2), segment="123-a.jsonl")
    outbox.append([], segment="123-a.jsonl")  # a second mark of the same segment is ignored
    assert outbox.segment_done("123-a.jsonl") and not outbox.segment_done("123-b.jsonl")
    outbox.forget_segment("123-a.jsonl")
    assert not outbox.segment_done("123-a.jsonl") and outbox.pending_rows() == 2


def test_shipper_status_is_one_row_replaced(outbox: Outbox) -> None:
    assert outbox.read_status() == {}
    outbox.write_status({"pid": 41, "heartbeat_unix": 1.5, "shipped": 3})
    outbox.write_status({"pid": 42, "heartbeat_unix": 2.5, "shipped": 7})
    status = outbox.read_status()
    assert (status["pid"], status["heartbeat_unix"], status["shipped"]) == (42.0, 2.5, 7.0)
    assert status["failures"] == 0.0


def _together(n: int, work: Callable[[int], None]) -> None:
    """Run `work(i)` in `n` threads that start at the same moment; re-raise their errors."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


def test_two_hosts_never_claim_the_same_rows_or_lease_the_same_batch(database_url: str) -> None:
    """Two shippers on their own engines (two hosts) claim and lease at the same moments."""
    hosts = [Outbox(database_url), Outbox(database_url)]
    try:
        hosts[0].append(_rows(300, "3") + _rows(100, "4"))
        _together(2, lambda i: hosts[i].claim_batches(max_rows=7, now_ms=1_000))
        leased: list[list[Batch]] = [[], []]

        def lease_all(i: int) -> None:
            while (batch := hosts[i].lease_next(lease_s=600, now=time.time())) is not None:
                leased[i].append(batch)

        _together(2, lease_all)
        ids = [b.batch_id for b in leased[0] + leased[1]]
        assert len(ids) == len(set(ids)), "a batch was leased twice"
        rows = [r.record_id for b in leased[0] + leased[1] for r in hosts[0].records(b.batch_id)]
        assert sorted(rows) == list(range(1, 401))  # every row in exactly one leased batch
        assert sum(b.n_rows for b in leased[0] + leased[1]) == 400
        assert hosts[1].pending_rows() == 400 and hosts[1].lease_next(600, time.time()) is None
    finally:
        for host in hosts:
            host.close()


_OLD_SCHEMA = """
CREATE TABLE predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
    kind TEXT NOT NULL, subject TEXT NOT NULL, model_version TEXT NOT NULL, items TEXT NOT NULL,
    scores TEXT NOT NULL, risk REAL, latency_ms REAL NOT NULL, batch_id INTEGER);
CREATE TABLE batches (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE,
    model_version TEXT NOT NULL, created_ms INTEGER NOT NULL, n_rows INTEGER NOT NULL,
    lease_until REAL, sent_ms INTEGER, run_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, quarantined INTEGER NOT NULL DEFAULT 0);
CREATE TABLE journal_done (segment TEXT PRIMARY KEY);
"""


def test_an_old_outbox_file_is_imported_once(outbox: Outbox, tmp_path: Path) -> None:
    """An install from before the outbox moved into the database: its unshipped rows and its
    journal's uncommitted segments arrive once; shipped and quarantined rows stay behind."""
    home = tmp_path / "home"
    folder = home / (LEGACY_FILE + ".journal")
    folder.mkdir(parents=True)
    with closing(sqlite3.connect(home / LEGACY_FILE)) as old, old:
        old.executescript(_OLD_SCHEMA)
        old.execute("INSERT INTO batches VALUES (1, 'a', '3', 1, 2, NULL, 5, 'r', 1, NULL, 0)")
        old.execute("INSERT INTO batches VALUES (2, 'b', '3', 1, 1, NULL, NULL, NULL, 1, 'x', 0)")
        old.execute("INSERT INTO batches VALUES (3, 'c', '3', 1, 1, NULL, NULL, NULL, 1, 'x', 1)")
        insert = "INSERT INTO predictions (ts, kind, subject, model_version, items, scores, "
        insert += "risk, latency_ms, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        batch_of = [1, 1, 2, 3, None, None]  # 2 sent, 1 unsent, 1 quarantined, 2 unclaimed
        for i, row in enumerate(_rows(6)):
            old.execute(insert, (*row, batch_of[i]))
        old.execute("INSERT INTO journal_done VALUES ('1-stored.jsonl')")
    line = json.dumps(list(_rows(1)[0])) + "\n"
    (folder / "1-stored.jsonl").write_text(line)  # committed to the old file: not again
    (folder / "2-lost.jsonl").write_text(line * 2)  # never committed: replayed
    assert import_legacy_outbox(home, outbox) == 3 + 2
    assert not (home / LEGACY_FILE).exists() and (home / (LEGACY_FILE + ".imported")).exists()
    assert list(folder.iterdir()) == []
    assert import_legacy_outbox(home, outbox) == 0
    outbox.claim_batches(100, 1)
    batch = outbox.lease_next(60, time.time())
    assert batch is not None
    subjects = [r.subject for r in outbox.records(batch.batch_id)]
    assert subjects == ["p_2", "p_4", "p_5", "p_0", "p_0"]  # the old file's, then the journal's
