"""The durable queue of served predictions: four tables in the service's database.

Rows go in from the recorder (`serving.prediction_log`), are grouped into batches of one model
version, leased to one shipper at a time, and marked sent only after MLflow accepted them. The
journal segments a killed process left (`serving.prediction_journal`) are inserted together
with a `prediction_journal_done` mark, so a replay stores them exactly once. The shipper
process publishes its counters here (`prediction_shipper_status`) for the record-only workers'
/metrics.

The database is `Settings.resolved_database_url` (`features.database.make_engine`): a SQLite
file by default, PostgreSQL when several hosts share one queue. Two shippers never take the
same rows or batch: on SQLite every writing transaction starts with BEGIN IMMEDIATE (one writer
at a time), on PostgreSQL the rows to claim and the batch to lease are locked with
``FOR UPDATE SKIP LOCKED``. SQLite commits here are synchronous=FULL (a committed row survives
a power cut; the writer batches its inserts, so this is cheap).
"""

from __future__ import annotations

import json
import logging
import math
import socket
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from features.database import create_tables, is_sqlite, make_engine
from serving.prediction_journal import claimed, read_segment, segments

_log = logging.getLogger("serving.prediction_log")

#: Where the outbox lived before it moved into the database (read once, then renamed).
LEGACY_FILE = "prediction_outbox.db"

metadata = MetaData()
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid

predictions = Table(
    "prediction_outbox",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ts", Double, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("items", Text, nullable=False),
    Column("scores", Text, nullable=False),
    Column("risk", Double),
    Column("latency_ms", Double, nullable=False),
    Column("batch_id", BigInteger),
    Index(
        "ix_prediction_outbox_unclaimed",
        "model_version",
        "id",
        sqlite_where=text("batch_id IS NULL"),
        postgresql_where=text("batch_id IS NULL"),
    ),
    Index("ix_prediction_outbox_batch", "batch_id"),
    sqlite_autoincrement=True,  # ids are never reused: they name rows in the shipped tables
)
batches = Table(
    "prediction_batches",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("model_version", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("lease_until", Double),
    Column("sent_ms", BigInteger),
    Column("run_id", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("quarantined", Integer, nullable=False, server_default=text("0")),
    Index(
        "ix_prediction_batches_unsent",
        "id",
        sqlite_where=text("sent_ms IS NULL"),
        postgresql_where=text("sent_ms IS NULL"),
    ),
    sqlite_autoincrement=True,
)
journal_done = Table(
    "prediction_journal_done",
    metadata,
    Column("segment", String(200), primary_key=True),
)
_STATUS_FIELDS = (
    "pid",
    "heartbeat_unix",
    "last_ship_unix",
    "consecutive_failures",
    "shipped",
    "failures",
    "quarantined",
)
_STATUS_FLOATS = {"heartbeat_unix", "last_ship_unix"}
shipper_status = Table(
    "prediction_shipper_status",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    *(
        Column(name, Double if name in _STATUS_FLOATS else BigInteger, nullable=False)
        for name in _STATUS_FIELDS
    ),
    CheckConstraint("id = 1", name="ck_prediction_shipper_status_one_row"),
)


_RECORD_COLUMNS = (
    "id", "ts", "kind", "subject", "model_version", "items", "scores", "risk", "latency_ms"
)  # fmt: skip


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
    """The durable queue in the database at `url`. Thread-safe: each call takes a pooled
    connection for one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = is_sqlite(url)
        if self.is_sqlite:
            _serialise_sqlite_writers(self.engine)
        create_tables(metadata, self.engine)  # tolerates workers or hosts starting together

    @property
    def display_url(self) -> str:
        """The URL without its password, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Close pooled connections (the next call opens new ones)."""
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One writing transaction: BEGIN IMMEDIATE on SQLite, so writers queue up front."""
        engine = self.engine.execution_options(outbox_write=True) if self.is_sqlite else self.engine
        with engine.begin() as conn:
            yield conn

    def _insert(self, table: Table) -> Any:
        dialect = sqlite if self.is_sqlite else postgresql
        return dialect.insert(table)

    def append(self, rows: Sequence[tuple[Any, ...]], segment: str | None = None) -> None:
        """Insert (ts, kind, subject, model_version, items_json, scores_json, risk, latency);
        with `segment`, mark that journal segment done in the same transaction."""
        values = [dict(zip(_RECORD_COLUMNS[1:], row, strict=True)) for row in rows]
        with self._write() as conn:
            if values:
                conn.execute(insert(predictions), values)
            if segment is not None:
                mark = self._insert(journal_done).values(segment=segment)
                conn.execute(mark.on_conflict_do_nothing(index_elements=["segment"]))

    def segment_done(self, segment: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(select(1).where(journal_done.c.segment == segment)).first()
        return found is not None

    def forget_segment(self, segment: str) -> None:
        with self._write() as conn:
            conn.execute(delete(journal_done).where(journal_done.c.segment == segment))

    def claim_batches(self, max_rows: int, now_ms: int) -> int:
        """Group unclaimed rows into batches (one model version, at most `max_rows` each).

        Rows another shipper is claiming at this moment are skipped (PostgreSQL), or wait
        for its commit (SQLite): a row joins exactly one batch.
        """
        created = 0
        p = predictions.c
        with self._write() as conn:
            versions = conn.execute(
                select(p.model_version).where(p.batch_id.is_(None)).distinct()
            ).scalars()
            for version in list(versions):
                while True:
                    new = insert(batches).values(
                        uid=uuid.uuid4().hex, model_version=version, created_ms=now_ms, n_rows=0
                    )
                    batch_id = conn.execute(new.returning(batches.c.id)).scalar_one()
                    free = (
                        select(p.id)
                        .where(p.batch_id.is_(None), p.model_version == version)
                        .order_by(p.id)
                        .limit(max_rows)
                        .with_for_update(skip_locked=True)
                    )
                    n = conn.execute(
                        update(predictions)
                        .where(p.batch_id.is_(None), p.id.in_(free.scalar_subquery()))
                        .values(batch_id=batch_id)
                    ).rowcount
                    if n == 0:
                        conn.execute(delete(batches).where(batches.c.id == batch_id))
                        break
                    conn.execute(update(batches).where(batches.c.id == batch_id).values(n_rows=n))
                    created += 1
                    if n < max_rows:
                        break
        return created

    def lease_next(self, lease_s: float, now: float) -> Batch | None:
        """The oldest unsent batch nobody else is shipping, leased to the caller.

        A lease expires after `lease_s`, so a batch whose shipper died is taken again. Another
        shipper leasing at the same moment skips the locked batch and takes the next one.
        """
        b = batches.c
        with self._write() as conn:
            row = conn.execute(
                select(b.id, b.uid, b.model_version, b.created_ms, b.n_rows, b.attempts + 1)
                .where(
                    b.sent_ms.is_(None),
                    b.quarantined == 0,
                    or_(b.lease_until.is_(None), b.lease_until < now),
                )
                .order_by(b.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is not None:
                conn.execute(
                    update(batches)
                    .where(b.id == row[0])
                    .values(lease_until=now + lease_s, attempts=b.attempts + 1)
                )
        return Batch(*row) if row is not None else None

    def records(self, batch_id: int) -> list[Record]:
        p = predictions.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*(p[name] for name in _RECORD_COLUMNS))
                .where(p.batch_id == batch_id)
                .order_by(p.id)
            ).all()
        return [
            Record(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7], r[8])
            for r in rows
        ]

    def mark_sent(self, batch_id: int, run_id: str, now_ms: int) -> None:
        with self._write() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(sent_ms=now_ms, run_id=run_id, lease_until=None, last_error=None)
            )

    def mark_failed(self, batch_id: int, error: str, quarantine: bool = False) -> None:
        """Release the batch for a retry, or quarantine it: kept in the outbox, never shipped."""
        with self._write() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(lease_until=None, last_error=error[:500], quarantined=int(quarantine))
            )

    def pending_rows(self) -> int:
        """Rows waiting for MLflow (unclaimed or in unsent batches; quarantine excluded)."""
        b = batches.c
        with self.engine.connect() as conn:
            unclaimed = conn.execute(
                select(func.count()).where(predictions.c.batch_id.is_(None))
            ).scalar_one()
            unsent = conn.execute(
                select(func.coalesce(func.sum(b.n_rows), 0)).where(
                    b.sent_ms.is_(None), b.quarantined == 0
                )
            ).scalar_one()
        return int(unclaimed) + int(unsent)

    def prune_sent(self, older_than_ms: int) -> int:
        """Forget rows MLflow accepted long ago (the outbox is a queue, not an archive)."""
        b = batches.c
        old = select(b.id).where(b.sent_ms.is_not(None), b.sent_ms < older_than_ms)
        with self._write() as conn:
            n = conn.execute(
                delete(predictions).where(predictions.c.batch_id.in_(old.scalar_subquery()))
            ).rowcount
            conn.execute(delete(batches).where(b.id.in_(old.scalar_subquery())))
        return int(n)

    def write_status(self, status: Mapping[str, float]) -> None:
        """The shipper's counters, for the record-only workers' /metrics."""
        values: dict[str, Any] = {
            k: float(status.get(k, 0.0)) if k in _STATUS_FLOATS else int(status.get(k, 0.0))
            for k in _STATUS_FIELDS
        }
        upsert = self._insert(shipper_status).values(id=1, **values)
        with self._write() as conn:
            conn.execute(upsert.on_conflict_do_update(index_elements=["id"], set_=values))

    def read_status(self) -> dict[str, float]:
        """What `write_status` stored last; empty when no shipper ran yet."""
        columns = [shipper_status.c[k] for k in _STATUS_FIELDS]
        with self.engine.connect() as conn:
            row = conn.execute(select(*columns).where(shipper_status.c.id == 1)).first()
        if row is None:
            return {}
        return {k: float(v) for k, v in zip(_STATUS_FIELDS, row, strict=True)}


def _serialise_sqlite_writers(engine: Any) -> None:
    """SQLite has no row locks: a writing transaction takes the database's write lock at BEGIN
    (IMMEDIATE), so a shipper's select-then-update cannot interleave with another's. The
    driver's own implicit BEGIN is switched off; reads begin a plain (snapshot) transaction."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")  # WAL + FULL: commits survive a power cut
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("outbox_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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


def import_legacy_outbox(home: Path, outbox: Outbox) -> int:
    """Once per install: the rows an old outbox file (home/prediction_outbox.db, from before
    the outbox moved into the database) had not shipped, and its journal's leftover segments.

    The rows and a done mark commit together, then the file is renamed `*.imported`, so a
    restart imports nothing twice. A batch MLflow accepted just before the old process died,
    unmarked, is shipped again (as a new batch). Returns the rows stored.
    """
    path = Path(home) / LEGACY_FILE
    folder = path.with_name(path.name + ".journal")
    if not path.is_file():
        return recover_journal(folder, outbox)
    mark = f"legacy:{socket.gethostname()}:{path.resolve()}"[:200]
    with claimed(path) as mine:
        if not mine:
            return 0  # another process of this host is importing it
        try:
            rows, done = _legacy_unsent(path)
            for segment in segments(folder):  # stored in the old file: never replay
                if segment.name in done:
                    segment.unlink(missing_ok=True)
            stored = 0
            if not outbox.segment_done(mark):
                outbox.append(rows, segment=mark)
                stored = len(rows)
                _log.warning("imported %d unshipped predictions from %s", stored, path)
            path.rename(path.with_name(path.name + ".imported"))
        except (OSError, sqlite3.Error, SQLAlchemyError):
            _log.exception("old prediction outbox %s not imported (kept)", path)
            return 0
    return stored + recover_journal(folder, outbox)


def _legacy_unsent(path: Path) -> tuple[list[tuple[Any, ...]], set[str]]:
    """The old file's unshipped rows (quarantined ones stay behind) and its done segments."""
    conn = sqlite3.connect(path, timeout=15)
    try:
        rows = conn.execute(
            "SELECT p.ts, p.kind, p.subject, p.model_version, p.items, p.scores, p.risk, "
            "p.latency_ms FROM predictions p LEFT JOIN batches b ON p.batch_id = b.id "
            "WHERE p.batch_id IS NULL OR (b.sent_ms IS NULL AND b.quarantined = 0) "
            "ORDER BY p.id"
        ).fetchall()
        done = {name for (name,) in conn.execute("SELECT segment FROM journal_done")}
    finally:
        conn.close()
    return rows, done
