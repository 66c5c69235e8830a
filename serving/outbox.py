"""The durable queue of served predictions on disk: a SQLite outbox (WAL, synchronous=FULL).

Rows go in from the recorder (`serving.prediction_log`), are grouped into batches of one model
version, leased to one shipper at a time, and marked sent only after MLflow accepted them. The
journal segments a killed process left (`serving.prediction_journal`) are inserted together
with a `journal_done` mark, so a replay stores them exactly once. The shipper process publishes
its counters here (`shipper_status`) for the record-only workers' /metrics.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from serving.prediction_journal import claimed, read_segment, segments

_log = logging.getLogger("serving.prediction_log")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    model_version TEXT NOT NULL,
    items TEXT NOT NULL,
    scores TEXT NOT NULL,
    risk REAL,
    latency_ms REAL NOT NULL,
    batch_id INTEGER
);
CREATE INDEX IF NOT EXISTS ix_predictions_unclaimed
    ON predictions (model_version, id) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS ix_predictions_batch ON predictions (batch_id);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    model_version TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    n_rows INTEGER NOT NULL,
    lease_until REAL,
    sent_ms INTEGER,
    run_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    quarantined INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_batches_unsent ON batches (id) WHERE sent_ms IS NULL;
CREATE TABLE IF NOT EXISTS journal_done (
    segment TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS shipper_status (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    heartbeat_unix REAL NOT NULL,
    last_ship_unix REAL NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    shipped INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    quarantined INTEGER NOT NULL
);
PRAGMA user_version = 1;
"""


class Record(NamedTuple):
    """One served prediction as stored in the outbox (NIP and NIP-shaped items pseudonymised)."""

    record_id: int
    ts: float
    kind: str
    subject: str
    model_version: str
    items: list[str]
    scores: list[float]
    risk: float | None
    latency_ms: float


@dataclass(frozen=True)
class Batch:
    """A fixed set of outbox rows of one model version; the unit shipped (and retried) as one."""

    batch_id: int
    uid: str
    model_version: str
    created_ms: int
    n_rows: int
    attempts: int = 1

    @property
    def artifact_file(self) -> str:
        """Deterministic per batch, so a retry overwrites instead of duplicating."""
        created = datetime.fromtimestamp(self.created_ms / 1000, tz=UTC)
        return f"predictions/{created:%Y-%m-%d}/batch-{created:%H%M%S}-{self.uid[:12]}.csv"


class Outbox:
    """The durable queue on disk. Every method opens its own connection, so any thread may call."""

    def __init__(self, path: Path, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
        # WAL + FULL: a committed insert survives a power cut; commits are batched, so cheap.
        conn.execute("PRAGMA synchronous=FULL")
        return _ClosingConnection(conn)  # type: ignore[return-value]

    def append(self, rows: Sequence[tuple[Any, ...]], segment: str | None = None) -> None:
        """Insert (ts, kind, subject, model_version, items_json, scores_json, risk, latency);
        with `segment`, mark that journal segment done in the same transaction."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO predictions (ts, kind, subject, model_version, items, scores, risk, "
                "latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if segment is not None:
                conn.execute("INSERT OR IGNORE INTO journal_done (segment) VALUES (?)", (segment,))
            conn.execute("COMMIT")

    def segment_done(self, segment: str) -> bool:
        with self._connect() as conn:
            found = conn.execute("SELECT 1 FROM journal_done WHERE segment = ?", (segment,))
            return found.fetchone() is not None

    def forget_segment(self, segment: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM journal_done WHERE segment = ?", (segment,))

    def claim_batches(self, max_rows: int, now_ms: int) -> int:
        """Group unclaimed rows into batches (one model version, at most `max_rows` each)."""
        created = 0
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            versions = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT model_version FROM predictions WHERE batch_id IS NULL"
                )
            ]
            for version in versions:
                while True:
                    cur = conn.execute(
                        "INSERT INTO batches (uid, model_version, created_ms, n_rows) "
                        "VALUES (?, ?, ?, 0)",
                        (uuid.uuid4().hex, version, now_ms),
                    )
                    batch_id = cur.lastrowid
                    n = conn.execute(
                        "UPDATE predictions SET batch_id = ? WHERE id IN (SELECT id FROM "
                        "predictions WHERE batch_id IS NULL AND model_version = ? ORDER BY id "
                        "LIMIT ?)",
                        (batch_id, version, max_rows),
                    ).rowcount
                    if n == 0:
                        conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                        break
                    conn.execute("UPDATE batches SET n_rows = ? WHERE id = ?", (n, batch_id))
                    created += 1
                    if n < max_rows:
                        break
            conn.execute("COMMIT")
        return created

    def lease_next(self, lease_s: float, now: float) -> Batch | None:
        """The oldest unsent batch nobody else is shipping, leased to the caller."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT id, uid, model_version, created_ms, n_rows, attempts + 1 FROM batches "
                "WHERE sent_ms IS NULL AND quarantined = 0 "
                "AND (lease_until IS NULL OR lease_until < ?) "
                "ORDER BY id LIMIT 1",
                (now,),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE batches SET lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                    (now + lease_s, row[0]),
                )
            conn.execute("COMMIT")
        return Batch(*row) if row is not None else None

    def records(self, batch_id: int) -> list[Record]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, ts, kind, subject, model_version, items, scores, risk, latency_ms "
                "FROM predictions WHERE batch_id = ? ORDER BY id",
                (batch_id,),
            ).fetchall()
        return [
            Record(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7], r[8])
            for r in rows
        ]

    def mark_sent(self, batch_id: int, run_id: str, now_ms: int) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE batches SET sent_ms = ?, run_id = ?, lease_until = NULL, last_error = NULL "
                "WHERE id = ?",
                (now_ms, run_id, batch_id),
            )

    def mark_failed(self, batch_id: int, error: str, quarantine: bool = False) -> None:
        """Release the batch for a retry, or quarantine it: kept on disk, never shipped."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE batches SET lease_until = NULL, last_error = ?, quarantined = ? "
                "WHERE id = ?",
                (error[:500], int(quarantine), batch_id),
            )

    def pending_rows(self) -> int:
        """Rows waiting for MLflow (unclaimed or in unsent batches; quarantine excluded)."""
        with self._connect() as conn:
            unclaimed = conn.execute(
                "SELECT COUNT(*) FROM predictions WHERE batch_id IS NULL"
            ).fetchone()[0]
            unsent = conn.execute(
                "SELECT COALESCE(SUM(n_rows), 0) FROM batches "
                "WHERE sent_ms IS NULL AND quarantined = 0"
            ).fetchone()[0]
        return int(unclaimed) + int(unsent)

    def prune_sent(self, older_than_ms: int) -> int:
        """Forget rows MLflow accepted long ago (the outbox is a queue, not an archive)."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            old = "SELECT id FROM batches WHERE sent_ms IS NOT NULL AND sent_ms < ?"
            n = conn.execute(
                f"DELETE FROM predictions WHERE batch_id IN ({old})", (older_than_ms,)
            ).rowcount
            conn.execute(f"DELETE FROM batches WHERE id IN ({old})", (older_than_ms,))
            conn.execute("COMMIT")
        return n

    def write_status(self, status: Mapping[str, float]) -> None:
        """The shipper's counters, for the record-only workers' /metrics."""
        values = [status.get(k, 0.0) for k in _STATUS_FIELDS]
        with self._connect() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO shipper_status (id, {', '.join(_STATUS_FIELDS)}) "
                f"VALUES (1, {', '.join('?' * len(_STATUS_FIELDS))})",
                values,
            )

    def read_status(self) -> dict[str, float]:
        """What `write_status` stored last; empty when no shipper ran yet."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {', '.join(_STATUS_FIELDS)} FROM shipper_status WHERE id = 1"
            ).fetchone()
        if row is None:
            return {}
        return {k: float(v) for k, v in zip(_STATUS_FIELDS, row, strict=True)}


_STATUS_FIELDS = (
    "pid",
    "heartbeat_unix",
    "last_ship_unix",
    "consecutive_failures",
    "shipped",
    "failures",
    "quarantined",
)


class _ClosingConnection:
    """`with` on a sqlite3 connection commits but does not close; this one closes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._conn.close()


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def encode_row(item: tuple[Any, ...]) -> tuple[Any, ...]:
    """(ts, kind, subject, version, items, scores, risk, latency) as the outbox stores it:
    items and scores as JSON lists, a non-finite risk as NULL."""
    ts, kind, subject, version, items, scores, risk, latency_ms = item
    return (
        ts,
        kind,
        subject,
        version,
        json.dumps(items, ensure_ascii=False),
        json.dumps([float(s) for s in scores]),
        _finite_or_none(risk),
        float(latency_ms),
    )


def recover_journal(folder: Path, outbox: Outbox) -> int:
    """Insert the journal segments in `folder` that dead processes left, each exactly once
    (a segment is claimed by one process; its rows and its done mark commit together).
    Returns the rows stored; a segment that cannot be stored is kept for the next start."""
    stored = 0
    for path in segments(folder):
        with claimed(path) as mine:
            if not mine:
                continue
            name = path.name
            try:
                if not outbox.segment_done(name):
                    rows = read_segment(path)
                    outbox.append(rows, segment=name)
                    stored += len(rows)
                    if rows:
                        _log.warning(
                            "recovered %d served predictions a stopped process had not stored",
                            len(rows),
                        )
                path.unlink(missing_ok=True)
                outbox.forget_segment(name)
            except Exception:
                _log.exception("prediction journal segment %s not recovered (kept)", name)
    return stored
