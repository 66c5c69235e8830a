"""Durable log of served predictions: a local SQLite outbox, shipped to MLflow off the request path.

A SQLite-backed MLflow stores only a few dozen traces a second and MLflow's async tracing drops
traces when its queue fills, so requests never talk to MLflow. `record` pseudonymises the NIP and
enqueues (microseconds); a writer thread batch-inserts into the outbox every few tens of
milliseconds; a flusher groups unsent rows into batches and ships each batch to one serving run
per model version (a CSV artifact, aggregate metrics with a step, a few sampled traces).

Shipping is CPU work under the GIL (MLflow's client, CSV, percentiles), and in a request-serving
process it stretched the latency tail 2x. So the roles split: `kompeten serve` runs the workers
as `role="record"` (writer only) and ships from its own low-priority process
(`serving.prediction_shipper`, `role="ship"`), which publishes its counters in the outbox for
the workers' /metrics. A single process (tests, a plain uvicorn factory run) uses `role="both"`.

A batch is marked sent only after MLflow accepted it, and shipping a batch twice writes the same
artifact and the same metric points, so an outage or a crash between "accepted" and "marked"
neither loses nor duplicates rows.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import queue
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import (
    LiveSpan,
    Metric,
    SpanType,
    TraceData,
    TraceInfo,
    TraceLocation,
    TraceState,
)
from mlflow.exceptions import MlflowException
from mlflow.tracing.client import TracingClient
from mlflow.tracing.constant import SpansLocation, TraceMetadataKey, TraceTagKey
from mlflow.tracing.utils import generate_trace_id_v3
from opentelemetry.sdk.trace import TracerProvider

from features.privacy import NIP_PATTERN, PersonalDataError, refuse_nip_like
from features.pseudonym import pseudonymize
from features.settings import Settings
from serving.prediction_journal import Journal, SegmentEnd, claimed, read_segment, segments

_log = logging.getLogger(__name__)

SERVING_EXPERIMENT = "kompeten-serving"
TAG_ROLE = "kompeten.role"
TAG_MODEL_NAME = "kompeten.model_name"
TAG_MODEL_VERSION = "kompeten.model_version"
TABLE_COLUMNS = (
    "record_id",
    "timestamp",
    "kind",
    "nip_pseudonym",
    "model_version",
    "items",
    "scores",
    "risk",
    "latency_ms",
)
_NIP_RE = NIP_PATTERN
_METRIC_KEY_RE = re.compile(r"[^0-9A-Za-z_\-./ ]")
_PSEUDONYM_CACHE_MAX = 65_536
_STATUS_MAX_AGE_S = 5.0
Role = Literal["both", "record", "ship"]
ROLES: tuple[Role, ...] = ("both", "record", "ship")
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


@dataclass(frozen=True)
class FlushResult:
    """What one flush cycle did; `error` is set when shipping stopped on a failure."""

    shipped_rows: int = 0
    shipped_batches: int = 0
    traces: int = 0
    pending_rows: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Shipper(Protocol):
    """Where batches go. `ship` must be idempotent per batch and raise when not accepted."""

    def ship(self, batch: Batch, records: Sequence[Record]) -> str: ...

    def log_traces(self, run_id: str, records: Sequence[Record]) -> int: ...


# --- pure helpers ----------------------------------------------------------------------------


def looks_like_nip(value: str) -> bool:
    """An 18-digit string: the NIP shape (mentor recommendations list NIPs as items)."""
    return len(value) == 18 and value.isdigit()


def batch_metrics(records: Sequence[Record]) -> dict[str, float]:
    """Aggregate numbers for one batch: volume by kind, latency quantiles, scores, risk."""
    if not records:
        return {"requests": 0.0}
    latency = np.array([r.latency_ms for r in records], dtype=float)
    out: dict[str, float] = {"requests": float(len(records))}
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    for kind, count in sorted(kinds.items()):
        out[f"requests_{_metric_key(kind)}"] = float(count)
    p50, p95, p99 = np.percentile(latency, [50, 95, 99])
    out.update(
        latency_ms_mean=float(latency.mean()),
        latency_ms_p50=float(p50),
        latency_ms_p95=float(p95),
        latency_ms_p99=float(p99),
        latency_ms_max=float(latency.max()),
    )
    all_scores = [s for r in records for s in r.scores]
    top_scores = [r.scores[0] for r in records if r.scores]
    out["empty_results"] = float(sum(1 for r in records if not r.items))
    if all_scores:
        out["score_mean"] = float(np.mean(all_scores))
        out["top_score_mean"] = float(np.mean(top_scores))
    risks = np.array([r.risk for r in records if r.risk is not None], dtype=float)
    out["risk_count"] = float(risks.size)
    if risks.size:
        r10, r50, r90 = np.percentile(risks, [10, 50, 90])
        out.update(
            risk_mean=float(risks.mean()),
            risk_p10=float(r10),
            risk_p50=float(r50),
            risk_p90=float(r90),
        )
    return out


def batch_table(records: Sequence[Record]) -> str:
    """The batch as CSV text (items and scores as JSON lists), one row per served prediction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for r in records:
        writer.writerow(
            (
                r.record_id,
                datetime.fromtimestamp(r.ts, tz=UTC).isoformat(timespec="milliseconds"),
                r.kind,
                r.subject,
                r.model_version,
                json.dumps(r.items, ensure_ascii=False),
                json.dumps([round(s, 6) for s in r.scores]),
                "" if r.risk is None else round(r.risk, 6),
                round(r.latency_ms, 3),
            )
        )
    return buffer.getvalue()


def retry_delay(failures: int, interval_s: float, base_s: float, cap_s: float) -> float:
    """Seconds until the next flush: the interval when healthy, doubling backoff after failures."""
    if failures <= 0:
        return interval_s
    return min(cap_s, base_s * 2 ** (failures - 1))


def _metric_key(name: str) -> str:
    return _METRIC_KEY_RE.sub("_", name) or "unknown"


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --- the outbox (SQLite) ---------------------------------------------------------------------


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


# --- MLflow ----------------------------------------------------------------------------------


class MlflowShipper:
    """Ships batches to MLflow through its own client (the global tracking URI is not touched)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str = SERVING_EXPERIMENT,
        model_name: str = "",
        artifact_root: Path | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.model_name = model_name
        self.artifact_root = artifact_root
        self._client: Any = None
        self._tracing: Any = None
        self._tracer: Any = None
        self._experiment_id: str | None = None
        self._run_ids: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                    parents=True, exist_ok=True
                )
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.experiment_name)
            if exp is not None:
                self._experiment_id = exp.experiment_id
            else:
                location = None
                if self.artifact_root is not None and self.tracking_uri.startswith("sqlite:"):
                    folder = self.artifact_root / "serving"
                    folder.mkdir(parents=True, exist_ok=True)
                    location = folder.as_uri()
                self._experiment_id = self.client.create_experiment(
                    self.experiment_name, artifact_location=location
                )
        return self._experiment_id

    def run_id(self, model_version: str) -> str:
        """The serving run of a model version: found by tag, else created (oldest one wins)."""
        if model_version in self._run_ids:
            return self._run_ids[model_version]
        experiment_id = self.experiment_id()
        version = model_version.replace("'", "")
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`{TAG_ROLE}` = 'serving' and tags.`{TAG_MODEL_VERSION}` = '{version}'"
            ),
            order_by=["attributes.start_time ASC"],
            max_results=1,
        )
        if runs:
            run_id = runs[0].info.run_id
        else:
            tags = {TAG_ROLE: "serving", TAG_MODEL_VERSION: model_version}
            if self.model_name:
                tags[TAG_MODEL_NAME] = self.model_name
            run = self.client.create_run(
                experiment_id, run_name=f"serving-v{model_version}", tags=tags
            )
            run_id = run.info.run_id
        self._run_ids[model_version] = run_id
        return run_id

    def ship(self, batch: Batch, records: Sequence[Record]) -> str:
        table = batch_table(records)
        refuse_nip_like(table, batch.artifact_file)
        try:
            run_id = self.run_id(batch.model_version)
            metrics = [
                Metric(f"serving_{key}", value, batch.created_ms, batch.batch_id)
                for key, value in batch_metrics(records).items()
            ]
            self.client.log_batch(run_id, metrics=metrics, synchronous=True)
            self.client.log_text(run_id, table, batch.artifact_file)
        except Exception:
            # The run may have been deleted, or the store swapped: look it up again next time.
            self._run_ids.pop(batch.model_version, None)
            raise
        return run_id

    def log_traces(self, run_id: str, records: Sequence[Record]) -> int:
        """One synchronous trace per sampled record, linked to the serving run."""
        return sum(self._log_trace(run_id, r) for r in records)

    def _log_trace(self, run_id: str, record: Record) -> int:
        if self._tracing is None:
            self._tracing = TracingClient(self.tracking_uri)
            # A private provider: these spans bypass MLflow's global (async, dropping) exporter.
            self._tracer = TracerProvider().get_tracer("kompeten.serving")
        experiment_id = self.experiment_id()
        inputs = {"nip_pseudonym": record.subject, "kind": record.kind}
        outputs = {"items": record.items, "scores": record.scores, "risk": record.risk}
        refuse_nip_like(json.dumps([inputs, outputs]), "trace")
        start_ns = int(record.ts * 1e9)
        end_ns = start_ns + int(record.latency_ms * 1e6)
        otel_span = self._tracer.start_span(f"recommend.{record.kind}", start_time=start_ns)
        trace_id = generate_trace_id_v3(otel_span)
        span = LiveSpan(otel_span, trace_id, SpanType.CHAIN)
        span.set_inputs(inputs)
        span.set_outputs(outputs)
        span.set_attributes({"model_version": record.model_version, "record_id": record.record_id})
        span.end(end_time_ns=end_ns)
        info = TraceInfo(
            trace_id=trace_id,
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=start_ns // 1_000_000,
            execution_duration=int(record.latency_ms),
            state=TraceState.OK,
            request_preview=json.dumps(inputs),
            response_preview=json.dumps(outputs)[:1000],
            trace_metadata={TraceMetadataKey.SOURCE_RUN: run_id},
            tags={
                TAG_ROLE: "serving",
                TAG_MODEL_VERSION: record.model_version,
                "kompeten.kind": record.kind,
                "kompeten.record_id": str(record.record_id),
            },
        )
        returned = self._tracing.start_trace(info)
        spans_in_store = False
        try:
            self._tracing.log_spans(experiment_id, [span])
            spans_in_store = True
        except Exception as exc:  # stores without span logging (file store behind a server)
            _log.debug("log_spans unsupported, uploading trace data: %s", exc)
        tags = dict(returned.tags or {})
        if not spans_in_store or (
            tags.get(TraceTagKey.SPANS_LOCATION) not in (None, SpansLocation.TRACKING_STORE.value)
        ):
            # Stores without span logging read spans from the trace's artifact instead.
            self._tracing._upload_trace_data(returned, TraceData(spans=[span]))
        return 1


# --- the log ---------------------------------------------------------------------------------

_STOP = object()


class PredictionLog:
    """Records every served prediction without slowing the request; ships them to MLflow.

    `record` never blocks on I/O and never raises; rows live in the outbox until MLflow accepted
    them. Optional Settings fields `prediction_outbox_path` and `prediction_flush_seconds` (or
    the keyword arguments) override the defaults. `role` says which threads run: "both" (writer
    and flusher), "record" (writer only; another process ships) or "ship" (flusher only).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        role: Role = "both",
        write_delay_s: float = 0.05,
        watch_s: float = 2.0,
        outbox_path: Path | None = None,
        flush_interval_s: float | None = None,
        batch_rows: int = 5_000,
        traces_per_flush: int = 3,
        retry_base_s: float = 5.0,
        max_backoff_s: float = 300.0,
        lease_s: float = 600.0,
        retention_days: float = 7.0,
        http_timeout_s: float = 10.0,
        http_max_retries: int = 2,
        stop_timeout_s: float = 15.0,
        shipper: Shipper | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        self.settings = settings
        self.role = role
        self.write_delay_s = write_delay_s
        self.watch_s = watch_s
        self.outbox_path = Path(
            outbox_path
            or getattr(settings, "prediction_outbox_path", None)
            or settings.home / "prediction_outbox.db"
        )
        if flush_interval_s is None:
            flush_interval_s = getattr(settings, "prediction_flush_seconds", None) or 30.0
        self.flush_interval_s = float(flush_interval_s)
        self.batch_rows = batch_rows
        self.traces_per_flush = traces_per_flush
        self.retry_base_s = retry_base_s
        self.max_backoff_s = max_backoff_s
        self.lease_s = lease_s
        self.retention_days = retention_days
        self.http_timeout_s = http_timeout_s
        self.http_max_retries = http_max_retries
        self.stop_timeout_s = stop_timeout_s
        self.shipper: Shipper = shipper or MlflowShipper(
            settings.resolved_tracking_uri,
            model_name=settings.model_name,
            artifact_root=settings.artifact_root,
        )
        self.outbox = Outbox(self.outbox_path)
        self._key = settings.pseudonym_key
        self._pseudonyms: dict[str, str] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        self._ship_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        self._failures = 0
        self._counts = {"refused": 0, "quarantined": 0, "written": 0, "shipped": 0, "failures": 0}
        self._pending_rows = self.outbox.pending_rows()
        self._last_ship_unix = 0.0
        self._status_cache: tuple[float, dict[str, float]] = (-math.inf, {})
        self.journal_folder = self.outbox_path.with_name(self.outbox_path.name + ".journal")
        self._journal: Journal | None = None
        self._journal_failures = 0
        self.recovered_rows = 0

    # -- request path --

    def record(
        self,
        kind: str,
        nip: str,
        model_version: str,
        items: Sequence[str],
        scores: Sequence[float],
        risk: float | None,
        latency_ms: float,
    ) -> None:
        """Queue one served prediction, and append it to the journal so that a killed process
        loses nothing. Pseudonymises here: the clear NIP never leaves the call."""
        try:
            row = _to_row(
                (
                    time.time(),
                    self._scrub(str(kind)),
                    self._pseudonym(str(nip)),
                    self._scrub(str(model_version)),
                    [self._scrub(i) for i in map(str, items)],
                    list(scores),
                    risk,
                    latency_ms,
                )
            )
        except Exception:
            self._counts["refused"] += 1
            _log.exception("prediction not recorded (bad arguments)")
            return
        journal = self._journal
        if journal is None:
            self._queue.put(row)
            return
        with journal.lock:  # the journal line and the queue entry stay in the same segment
            try:
                journal.append(row)
            except Exception:
                self._journal_failures += 1
                if self._journal_failures == 1 or self._journal_failures % 1000 == 0:
                    _log.exception("prediction journal not writable (row kept in memory only)")
            self._queue.put(row)

    def _scrub(self, text: str) -> str:
        """Pseudonymise NIPs inside a value (mentor items are NIPs); short values pass as is."""
        if len(text) < 18:
            return text
        if looks_like_nip(text):
            return self._pseudonym(text)
        return _NIP_RE.sub(lambda m: self._pseudonym(m.group()), text)

    def _pseudonym(self, nip: str) -> str:
        pseudonym = self._pseudonyms.get(nip)
        if pseudonym is None:
            if len(self._pseudonyms) >= _PSEUDONYM_CACHE_MAX:
                self._pseudonyms.clear()
            pseudonym = self._pseudonyms[nip] = pseudonymize(nip, self._key)
        return pseudonym

    # -- lifecycle --

    def start(self) -> PredictionLog:
        """Start the role's threads (daemons: a crash cannot hang the process)."""
        if self._writer is not None or self._flusher is not None:
            return self
        # Process-wide, but only when unset: a slow or dead tracking server must not hold
        # the flusher for minutes (MLflow's defaults retry 7 times with backoff).
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(self.http_timeout_s)))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(self.http_max_retries))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        self._stopping.clear()
        self._recover()  # the shipper too: `python -m serving.prediction_shipper` drains all
        if self.role != "ship":
            self._journal = Journal(self.journal_folder)
            self._writer = threading.Thread(
                target=self._write_loop, name="prediction-log-writer", daemon=True
            )
            self._writer.start()
        if self.role != "record":
            self._flusher = threading.Thread(
                target=self._flush_loop, name="prediction-log-flusher", daemon=True
            )
            self._flusher.start()
        return self

    def stop(self) -> None:
        """Drain the queue to the outbox, then one last shipping attempt, all within a bound."""
        deadline = time.monotonic() + self.stop_timeout_s
        self._stopping.set()
        self._wake.set()
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(max(0.0, deadline - time.monotonic()))
        else:
            self._drain()
        if self._flusher is not None:
            self._flusher.join(max(0.0, deadline - time.monotonic()))
            if self._flusher.is_alive():
                _log.warning("prediction flusher still shipping at shutdown; rows stay in outbox")
        left = self._queue.qsize()
        if left and not (self._writer and self._writer.is_alive()):
            self._drain()
        if self._journal is not None and not (self._writer and self._writer.is_alive()):
            self._journal.close()
            self._journal = None
        self._writer = self._flusher = None

    def _recover(self) -> None:
        """Insert the journal segments that dead processes left (each exactly once)."""
        for path in segments(self.journal_folder):
            with claimed(path) as mine:
                if mine:
                    self._recover_segment(path)

    def _recover_segment(self, path: Path) -> None:
        name = path.name
        try:
            if not self.outbox.segment_done(name):
                rows = read_segment(path)
                self.outbox.append(rows, segment=name)
                with self._write_lock:
                    self._pending_rows += len(rows)
                self.recovered_rows += len(rows)
                if rows:
                    _log.warning(
                        "recovered %d served predictions a stopped process had not stored",
                        len(rows),
                    )
            path.unlink(missing_ok=True)
            self.outbox.forget_segment(name)
        except Exception:
            _log.exception("prediction journal segment %s not recovered (kept)", name)

    def __enter__(self) -> PredictionLog:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- writer --

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, SegmentEnd):
                continue
            if item is not _STOP and not isinstance(item, threading.Event):
                # Gather for a moment: one insert per few dozen requests instead of one per
                # request, so this thread takes the GIL from the event loop far less often.
                self._stopping.wait(self.write_delay_s)
            batch, segment = self._take(item)
            done = self._write(batch, segment)
            if done:
                return

    def _take(self, first: Any) -> tuple[list[Any], SegmentEnd | None]:
        """`first` and what was queued with it: exactly the rows of one journal segment."""
        batch = [first]
        journal = self._journal
        if journal is None:
            while len(batch) < 20_000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            return batch, None
        end = journal.rotate(self._queue.put)
        while True:
            item = self._queue.get()
            if item is end:
                return batch, end
            if not isinstance(item, SegmentEnd):
                batch.append(item)

    def _write(self, batch: list[Any], segment: SegmentEnd | None = None) -> bool:
        """Insert queued records (retrying until the disk accepts them); True on the stop mark.

        With `segment`, the journal segment holding exactly these rows is marked done in the
        same transaction and then deleted.
        """
        rows = []
        markers: list[threading.Event] = []
        stop = False
        for item in batch:
            if item is _STOP:
                stop = True
            elif isinstance(item, threading.Event):
                markers.append(item)
            elif not isinstance(item, SegmentEnd):
                rows.append(item)
        stored = not rows
        attempt = 0
        while rows:
            try:
                with self._write_lock:
                    self.outbox.append(rows, None if segment is None else segment.path.name)
                    stored = True
                    self._counts["written"] += len(rows)
                    before = self._pending_rows
                    self._pending_rows += len(rows)
                if before < self.batch_rows <= self._pending_rows:
                    self._wake.set()  # a full batch is waiting: ship before the interval ends
                break
            except Exception:
                attempt += 1
                if attempt == 1 or attempt % 50 == 0:
                    _log.exception("outbox write failed (%d rows held in memory)", len(rows))
                time.sleep(min(2.0, 0.05 * attempt))
                if self._stopping.is_set() and attempt >= 20:
                    _log.error(
                        "outbox unwritable at shutdown: %d predictions left in the journal "
                        "for the next start",
                        len(rows),
                    )
                    break
        if segment is not None:
            try:
                if stored:
                    segment.path.unlink(missing_ok=True)
                    self.outbox.forget_segment(segment.path.name)
            except Exception:  # the mark stays: the next start deletes the file, adds nothing
                _log.exception("prediction journal segment %s not removed", segment.path.name)
            finally:
                segment.release()
        for marker in markers:
            marker.set()
        return stop

    def _drain(self) -> None:
        """Write whatever is queued, from the caller's thread (no writer thread running)."""
        if self._journal is not None:
            batch, segment = self._take(_STOP)
            self._write([i for i in batch if i is not _STOP], segment)
            return
        batch = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                batch.append(item)
        if batch:
            self._write(batch)

    def sync(self, timeout_s: float = 5.0) -> bool:
        """Block until everything recorded so far is in the outbox (tests, shutdown, flush)."""
        if self._writer is None or not self._writer.is_alive():
            self._drain()
            return True
        marker = threading.Event()
        self._queue.put(marker)
        return marker.wait(timeout_s)

    # -- flusher --

    def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            delay = retry_delay(
                self._failures, self.flush_interval_s, self.retry_base_s, self.max_backoff_s
            )
            deadline = time.monotonic() + delay
            while not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self.role == "ship":  # no writer here to say a batch is full: look
                    self._wake.wait(min(remaining, self.watch_s))
                    if not self._wake.is_set() and self._full_batch_waiting():
                        self._wake.set()
                else:
                    self._wake.wait(remaining)
                if self._wake.is_set() and self._failures == 0:
                    break  # a full batch is waiting; in backoff, the deadline stands
                self._wake.clear()
            self._wake.clear()
            if self._stopping.is_set():
                break
            self._flush_cycle()
        # Final attempt: the writer drains first (stop() queued its stop mark before waking us).
        writer = self._writer
        if writer is not None:
            writer.join(self.stop_timeout_s)
        self._flush_cycle()

    def _full_batch_waiting(self) -> bool:
        try:
            return self.outbox.pending_rows() >= self.batch_rows
        except sqlite3.Error:
            return False

    def flush(self, timeout_s: float = 5.0) -> FlushResult:
        """Ship everything recorded so far now, in the caller's thread."""
        self.sync(timeout_s)
        return self._flush_cycle()

    def _flush_cycle(self) -> FlushResult:
        with self._ship_lock:
            try:
                result = self._ship_all()
            except Exception as exc:  # the outbox itself failed; retry later
                _log.exception("prediction flush failed")
                result = FlushResult(error=f"outbox: {exc}")
            if result.ok:
                if self._failures:
                    _log.info("MLflow reachable again; prediction log caught up")
                self._failures = 0
                self._last_ship_unix = time.time()
            else:
                self._failures += 1
                self._counts["failures"] += 1
                if self._failures == 1 or self._failures % 10 == 0:
                    _log.warning(
                        "prediction shipping failed (%d in a row, %d rows waiting): %s",
                        self._failures,
                        result.pending_rows,
                        result.error,
                    )
            if self.role == "ship":
                self._publish_status()
            return result

    def _publish_status(self) -> None:
        try:
            self.outbox.write_status(
                {
                    "pid": float(os.getpid()),
                    "heartbeat_unix": time.time(),
                    "last_ship_unix": self._last_ship_unix,
                    "consecutive_failures": float(self._failures),
                    "shipped": float(self._counts["shipped"]),
                    "failures": float(self._counts["failures"]),
                    "quarantined": float(self._counts["quarantined"]),
                }
            )
        except sqlite3.Error:
            _log.exception("shipper status not written")

    def _ship_all(self) -> FlushResult:
        now = time.time()
        self.outbox.claim_batches(self.batch_rows, int(now * 1000))
        shipped_rows = shipped_batches = 0
        shipped: list[tuple[str, list[Record]]] = []
        error = None
        while True:
            batch = self.outbox.lease_next(self.lease_s, time.time())
            if batch is None:
                break
            records = self.outbox.records(batch.batch_id)
            try:
                run_id = self.shipper.ship(batch, records)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                if _is_permanent(exc, batch.attempts):
                    # One bad batch must not block the ones behind it.
                    _log.error("prediction batch %d quarantined: %s", batch.batch_id, error)
                    self.outbox.mark_failed(batch.batch_id, error, quarantine=True)
                    self._counts["quarantined"] += len(records)
                    error = None
                    continue
                self.outbox.mark_failed(batch.batch_id, error)
                break
            self.outbox.mark_sent(batch.batch_id, run_id, int(time.time() * 1000))
            shipped_rows += len(records)
            shipped_batches += 1
            shipped.append((run_id, records))
        self._counts["shipped"] += shipped_rows
        traces = self._sample_traces(shipped)
        if self.retention_days > 0:
            self.outbox.prune_sent(int((now - self.retention_days * 86_400) * 1000))
        self._pending_rows = self.outbox.pending_rows()
        return FlushResult(shipped_rows, shipped_batches, traces, self._pending_rows, error)

    def _sample_traces(self, shipped: list[tuple[str, list[Record]]]) -> int:
        """A few traces per flush, after the rows are safe: best effort, at most once."""
        pool = [(run_id, r) for run_id, records in shipped for r in records]
        if not pool or self.traces_per_flush <= 0:
            return 0
        logged = 0
        for run_id, record in random.sample(pool, min(self.traces_per_flush, len(pool))):
            try:
                logged += self.shipper.log_traces(run_id, [record])
            except Exception as exc:
                _log.warning("sampled trace not logged: %s", exc)
                break
        return logged

    # -- observability --

    def stats(self) -> Mapping[str, float]:
        """Counters for /metrics: recorded, written, shipped, failures, backlog.

        A record-only worker reports the shipper process's counters and the outbox's backlog
        (read at most every few seconds: scrapes must stay cheap).
        """
        stats = {
            **{k: float(v) for k, v in self._counts.items()},
            "queued": float(self._queue.qsize()),
            "pending_rows": float(self._pending_rows),
            "consecutive_failures": float(self._failures),
            "last_ship_unix": self._last_ship_unix,
        }
        if self.role == "record":
            stats.update(self._shipper_stats())
        return stats

    def _shipper_stats(self) -> dict[str, float]:
        read_at, cached = self._status_cache
        if time.monotonic() - read_at < _STATUS_MAX_AGE_S:
            return cached
        try:
            status = self.outbox.read_status()
            fresh = {
                k: status.get(k, 0.0)
                for k in ("shipped", "failures", "quarantined", "consecutive_failures")
            }
            fresh["last_ship_unix"] = status.get("last_ship_unix", 0.0)
            fresh["shipper_heartbeat_unix"] = status.get("heartbeat_unix", 0.0)
            fresh["pending_rows"] = float(self.outbox.pending_rows())
        except sqlite3.Error:
            return cached
        self._status_cache = (time.monotonic(), fresh)
        return fresh


def _is_permanent(exc: Exception, attempts: int) -> bool:
    """Errors a retry cannot fix: a personal-data refusal now, a rejected payload after 3 tries."""
    if isinstance(exc, PersonalDataError):
        return True
    code = getattr(exc, "error_code", None)
    return isinstance(exc, MlflowException) and code == "INVALID_PARAMETER_VALUE" and attempts >= 3


def _to_row(item: tuple[Any, ...]) -> tuple[Any, ...]:
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
