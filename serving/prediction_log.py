"""Durable log of served predictions: a database outbox, shipped to MLflow off the request path.

A SQLite-backed MLflow stores only a few dozen traces a second and MLflow's async tracing drops
traces when its queue fills, so requests never talk to MLflow. `record` pseudonymises the NIP and
enqueues (microseconds); a writer thread batch-inserts into the outbox every few tens of
milliseconds; a flusher groups unsent rows into batches and ships each batch to one serving run
per model version (a CSV artifact, aggregate metrics with a step, a few sampled traces).

Shipping is CPU work under the GIL (MLflow's client, CSV, percentiles), and in a request-serving
process it stretched the latency tail 2x. So the roles split: `kompeten serve` runs the workers
as `role="record"` (writer only) and ships from its own low-priority process
(`serving.prediction_shipper`, `role="ship"`), which publishes its counters in the outbox for
the workers' /metrics. The outbox lives in `Settings.resolved_database_url` (SQLite by default;
on a shared PostgreSQL, shippers on several hosts share one queue); the journal stays on this
host's disk (home/prediction_journal/). A single process (tests, a plain uvicorn factory run)
uses `role="both"`.

A batch is marked sent only after MLflow accepted it, and shipping a batch twice writes the same
artifact and the same metric points, so an outage or a crash between "accepted" and "marked"
neither loses nor duplicates rows.

The parts live beside it: `serving.outbox` (the queue's tables), `serving.prediction_journal`
(the write-ahead journal), `serving.prediction_batches` (a batch's metrics and table) and
`serving.mlflow_client.MlflowShipper` (the MLflow writes). This module is the runtime: the
request-path `record`, the writer and flusher threads, and their counters.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy.exc import SQLAlchemyError

from features.privacy import NIP_PATTERN, PersonalDataError
from features.pseudonym import pseudonymize
from features.settings import Settings
from serving.outbox import Batch, Outbox, Record, encode_row, import_legacy_outbox, recover_journal
from serving.prediction_batches import looks_like_nip, retry_delay
from serving.prediction_journal import Journal, SegmentEnd

_log = logging.getLogger(__name__)

_NIP_RE = NIP_PATTERN
_PSEUDONYM_CACHE_MAX = 65_536
_STATUS_MAX_AGE_S = 5.0
Role = Literal["both", "record", "ship"]
ROLES: tuple[Role, ...] = ("both", "record", "ship")
JOURNAL_FOLDER = "prediction_journal"


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


@dataclass(frozen=True)
class PredictionLogConfig:
    """How a `PredictionLog` runs. `database_url` / `flush_interval_s` left None come from
    `Settings.resolved_database_url` and `Settings.prediction_flush_seconds`."""

    #: Which threads run: "both" (writer and flusher), "record" (writer only; another process
    #: ships) or "ship" (flusher only).
    role: Role = "both"
    #: How long the writer gathers records before one insert.
    write_delay_s: float = 0.05
    #: How often a "ship" process looks for a full batch between flushes.
    watch_s: float = 2.0
    #: The outbox's database (tests); None: the service's database.
    database_url: str | None = None
    flush_interval_s: float | None = None
    #: Rows per shipped batch; a full batch is shipped before the interval ends.
    batch_rows: int = 5_000
    #: Sampled traces logged per flush (best effort).
    traces_per_flush: int = 3
    #: Backoff after failed flushes: base, doubling, capped.
    retry_base_s: float = 5.0
    max_backoff_s: float = 300.0
    #: How long a leased batch belongs to one shipper before another may take it.
    lease_s: float = 600.0
    #: Days sent rows stay in the outbox (0 = forever).
    retention_days: float = 7.0
    http_timeout_s: float = 10.0
    http_max_retries: int = 2
    #: Bound on `stop()`: draining the queue and a last flush.
    stop_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")


_STOP = object()


class PredictionLog:
    """Records every served prediction without slowing the request; ships them to MLflow.

    `record` never blocks on I/O and never raises; rows live in the outbox until MLflow accepted
    them. `config` says which threads run and how (`PredictionLogConfig`).
    """

    def __init__(
        self,
        settings: Settings,
        config: PredictionLogConfig | None = None,
        *,
        shipper: Shipper | None = None,
    ) -> None:
        self.settings = settings
        self.config = config = config or PredictionLogConfig()
        self.role = config.role
        self.database_url = config.database_url or settings.resolved_database_url
        self.flush_interval_s = float(
            config.flush_interval_s or settings.prediction_flush_seconds or 30.0
        )
        if shipper is None:
            from serving.mlflow_client import MlflowShipper

            shipper = MlflowShipper(
                settings.resolved_tracking_uri,
                model_name=settings.model_name,
                artifact_root=settings.artifact_root,
            )
        self.shipper: Shipper = shipper
        self.outbox = Outbox(self.database_url)
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
        self.journal_folder = Path(settings.home) / JOURNAL_FOLDER
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
            row = encode_row(
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
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(self.config.http_timeout_s)))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(self.config.http_max_retries))
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
        deadline = time.monotonic() + self.config.stop_timeout_s
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
        self.outbox.close()  # pooled connections; a later start opens new ones

    def _recover(self) -> None:
        """Store the journal segments that dead processes left (each exactly once)."""
        rows = recover_journal(self.journal_folder, self.outbox)
        rows += import_legacy_outbox(self.settings.home, self.outbox)  # once, if one is left
        with self._write_lock:
            self._pending_rows += rows
        self.recovered_rows += rows

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
                self._stopping.wait(self.config.write_delay_s)
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
                if before < self.config.batch_rows <= self._pending_rows:
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
                self._failures,
                self.flush_interval_s,
                self.config.retry_base_s,
                self.config.max_backoff_s,
            )
            deadline = time.monotonic() + delay
            while not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self.role == "ship":  # no writer here to say a batch is full: look
                    self._wake.wait(min(remaining, self.config.watch_s))
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
            writer.join(self.config.stop_timeout_s)
        self._flush_cycle()

    def _full_batch_waiting(self) -> bool:
        try:
            return self.outbox.pending_rows() >= self.config.batch_rows
        except SQLAlchemyError:
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
        except SQLAlchemyError:
            _log.exception("shipper status not written")

    def _ship_all(self) -> FlushResult:
        now = time.time()
        self.outbox.claim_batches(self.config.batch_rows, int(now * 1000))
        shipped_rows = shipped_batches = 0
        shipped: list[tuple[str, list[Record]]] = []
        error = None
        while True:
            batch = self.outbox.lease_next(self.config.lease_s, time.time())
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
        if self.config.retention_days > 0:
            self.outbox.prune_sent(int((now - self.config.retention_days * 86_400) * 1000))
        self._pending_rows = self.outbox.pending_rows()
        return FlushResult(shipped_rows, shipped_batches, traces, self._pending_rows, error)

    def _sample_traces(self, shipped: list[tuple[str, list[Record]]]) -> int:
        """A few traces per flush, after the rows are safe: best effort, at most once."""
        pool = [(run_id, r) for run_id, records in shipped for r in records]
        if not pool or self.config.traces_per_flush <= 0:
            return 0
        logged = 0
        for run_id, record in random.sample(pool, min(self.config.traces_per_flush, len(pool))):
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
        except SQLAlchemyError:
            return cached
        self._status_cache = (time.monotonic(), fresh)
        return fresh


def _is_permanent(exc: Exception, attempts: int) -> bool:
    """Errors a retry cannot fix: a personal-data refusal now, a rejected payload after 3 tries
    (MLflow's INVALID_PARAMETER_VALUE, which `MlflowShipper` raises as an MlflowException)."""
    if isinstance(exc, PersonalDataError):
        return True
    code = getattr(exc, "error_code", None)
    return code == "INVALID_PARAMETER_VALUE" and attempts >= 3
