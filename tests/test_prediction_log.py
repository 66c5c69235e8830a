"""Prediction log: fast `record`, durable outbox, exactly-once shipping to MLflow, no clear NIPs."""

from __future__ import annotations

import csv
import io
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from sqlalchemy import func, select

from features.database import make_engine
from features.privacy import PersonalDataError
from features.pseudonym import pseudonymize
from features.settings import Settings
from serving.mlflow_client import SERVING_EXPERIMENT, MlflowShipper
from serving.outbox import Batch, Record, batches, predictions
from serving.prediction_journal import Journal
from serving.prediction_log import PredictionLog, PredictionLogConfig

NIPS = [f"19850330201001{i:04d}" for i in range(1, 21)]
MENTORS = ["197001011990031001", "197202021992032002"]
DOWN_URI = "http://127.0.0.1:1"


@pytest.fixture(autouse=True)
def _fast_failing_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed port must fail in milliseconds, not after MLflow's 7 retries with backoff."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")


@pytest.fixture(scope="module")
def mlflow_stores(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """One SQLite store per outbox backend for the module: creating its schema takes seconds
    on this machine, and a backend's run must not see the serving runs of the other's."""
    uris: dict[str, str] = {}

    def store(backend: str) -> str:
        if backend not in uris:
            uris[backend] = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
            MlflowClient(tracking_uri=uris[backend]).search_experiments()
        return uris[backend]

    return store


@pytest.fixture
def mlflow_uri(mlflow_stores: Callable[[str], str], database_url: str) -> str:
    return mlflow_stores(database_url.split(":", 1)[0])


@pytest.fixture
def settings(tmp_path: Path, mlflow_uri: str, database_url: str) -> Settings:
    """The outbox in the service's database: once on SQLite, once on PostgreSQL."""
    return Settings(home=tmp_path, mlflow_tracking_uri=mlflow_uri, database_url=database_url)


def _query(url: str, statement: Any) -> list[tuple[Any, ...]]:
    """Rows of `statement` on the outbox's database, read as another process would."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(statement)]
    finally:
        engine.dispose()


@pytest.fixture
def experiment() -> str:
    return f"serving-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    alive = [t.name for t in threading.enumerate() if t.name.startswith("prediction-log-")]
    assert not alive, f"threads left running: {alive}"


def _shipper(settings: Settings, experiment: str, uri: str | None = None) -> MlflowShipper:
    return MlflowShipper(
        uri or settings.resolved_tracking_uri,
        experiment_name=experiment,
        artifact_root=settings.artifact_root,
    )


def _record_many(log: PredictionLog, n: int, version: str = "3") -> None:
    for i in range(n):
        if i % 4 == 3:
            log.record("mentor", NIPS[i % len(NIPS)], version, MENTORS, [0.7, 0.4], None, 3.0)
        else:
            scores = [0.9, 0.5, 0.1]
            log.record("path", NIPS[i % len(NIPS)], version, ["C1", "C2", "C3"], scores, 0.25, 9.0)


def _shipped_table(uri: str, experiment: str, tmp: Path) -> list[dict[str, str]]:
    """Every row of every batch CSV in every serving run of the experiment."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    rows: list[dict[str, str]] = []
    for run in client.search_runs([exp.experiment_id]):
        dst = tmp / run.info.run_id
        dst.mkdir(parents=True)
        local = Path(client.download_artifacts(run.info.run_id, "predictions", str(dst)))
        for path in sorted(local.rglob("*.csv")):
            rows.extend(csv.DictReader(io.StringIO(path.read_text())))
    return rows


def _mlflow_text(uri: str, experiment: str, tmp: Path) -> str:
    """All the experiment holds as one string: runs, params, tags, metrics, artifacts, traces."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    parts = [str(exp.tags)]
    for run in client.search_runs([exp.experiment_id]):
        parts += [run.info.run_name, str(run.data.params), str(run.data.tags)]
        parts += [str(run.data.metrics)]
        dst = tmp / run.info.run_id
        dst.mkdir(parents=True)
        local = Path(client.download_artifacts(run.info.run_id, "", str(dst)))
        parts += [p.read_text() for p in local.rglob("*") if p.is_file()]
    for trace in client.search_traces(locations=[exp.experiment_id]):
        parts.append(trace.to_json())
    return "\n".join(parts)


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# --- recording -------------------------------------------------------------------------------


def test_record_is_fast_and_stores_only_pseudonyms(settings: Settings, experiment: str) -> None:
    log = PredictionLog(settings, shipper=_shipper(settings, experiment)).start()
    try:
        times = []
        for i in range(1000):
            start = time.perf_counter()
            log.record("mentor", NIPS[i % len(NIPS)], "3", MENTORS, [0.5, 0.4], None, 2.0)
            times.append(time.perf_counter() - start)
        assert statistics.median(times) < 1e-3
        assert log.sync(5.0)
    finally:
        log.stop()
    assert log.stats()["written"] == 1000
    raw = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    stored = str(_query(log.database_url, select(predictions)))  # journal and SQLite file above
    for nip in NIPS + MENTORS:
        assert nip.encode() not in raw and nip not in stored
    ((subjects, items),) = _query(
        log.database_url,
        select(predictions.c.subject, predictions.c["items"]).order_by(predictions.c.id).limit(1),
    )
    assert subjects == pseudonymize(NIPS[0], settings.pseudonym_key)
    assert pseudonymize(MENTORS[0], settings.pseudonym_key) in items


def test_record_never_raises_on_bad_input(settings: Settings, experiment: str) -> None:
    log = PredictionLog(settings, shipper=_shipper(settings, experiment)).start()
    try:
        log.record("path", None, "3", None, [0.1], 0.2, 1.0)  # type: ignore[arg-type]
        log.record("path", NIPS[0], "3", ["C1"], ["not a number"], 0.2, 1.0)  # type: ignore[list-item]
        log.record("path", NIPS[0], "3", ["C1"], [0.1], float("nan"), 1.0)
        assert log.sync(5.0)
    finally:
        log.stop()
    stats = log.stats()
    assert stats["refused"] == 2
    assert stats["written"] == 1
    assert _query(log.database_url, select(predictions.c.risk)) == [(None,)]


# --- shipping --------------------------------------------------------------------------------


def test_down_mlflow_keeps_rows_then_ships_exactly_once_after_restart(
    settings: Settings, mlflow_uri: str, tmp_path: Path
) -> None:
    down = PredictionLog(settings.model_copy(update={"mlflow_tracking_uri": DOWN_URI}))
    assert down.shipper.tracking_uri == DOWN_URI  # type: ignore[attr-defined]
    _record_many(down, 30, version="3")
    _record_many(down, 10, version="4")
    started = time.perf_counter()
    result = down.flush()
    assert time.perf_counter() - started < 10.0
    assert not result.ok
    assert result.shipped_rows == 0
    assert result.pending_rows == 40
    down.stop()

    # A new process on the same outbox, MLflow back: the default shipper (settings) ships all.
    back = PredictionLog(settings)
    assert back.stats()["pending_rows"] == 40
    result = back.flush()
    assert result.ok, result.error
    assert (result.shipped_rows, result.pending_rows) == (40, 0)
    assert back.flush().shipped_rows == 0
    back.stop()

    # Another restart finds the existing serving run instead of creating a second one.
    again = PredictionLog(settings)
    _record_many(again, 4, version="3")
    assert again.flush().shipped_rows == 4
    again.stop()

    rows = _shipped_table(mlflow_uri, SERVING_EXPERIMENT, tmp_path / "a")
    ids = [int(r["record_id"]) for r in rows]
    assert sorted(ids) == list(range(1, 45))
    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name(SERVING_EXPERIMENT)
    all_runs = client.search_runs([exp.experiment_id])
    runs = {r.info.run_name: r for r in all_runs}
    assert len(all_runs) == 2
    assert set(runs) == {"serving-v3", "serving-v4"}
    assert runs["serving-v3"].data.tags["kompeten.model_version"] == "3"
    v3_history = client.get_metric_history(runs["serving-v3"].info.run_id, "serving_requests")
    assert sorted(m.value for m in v3_history) == [4.0, 30.0]
    assert runs["serving-v4"].data.metrics["serving_requests_mentor"] == 2.0
    assert "serving_latency_ms_p95" in runs["serving-v3"].data.metrics
    assert "serving_risk_p50" in runs["serving-v3"].data.metrics

    text = _mlflow_text(mlflow_uri, SERVING_EXPERIMENT, tmp_path / "b")
    assert pseudonymize(NIPS[0], settings.pseudonym_key) in text
    for nip in NIPS + MENTORS:
        assert nip not in text


class _FlakyShipper:
    """Fails the first calls; `accept_then_fail` ships for real and still raises (reply lost)."""

    def __init__(self, inner: MlflowShipper, failures: int, accept_then_fail: bool) -> None:
        self.inner = inner
        self.failures = failures
        self.accept_then_fail = accept_then_fail
        self.calls = 0

    def ship(self, batch: Batch, records: Sequence[Record]) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            if self.accept_then_fail:
                self.inner.ship(batch, records)
            raise ConnectionError("tracking server unreachable")
        return self.inner.ship(batch, records)

    def log_traces(self, run_id: str, records: Sequence[Record]) -> int:
        return self.inner.log_traces(run_id, records)


@pytest.mark.parametrize("accept_then_fail", [False, True])
def test_background_retries_ship_each_row_once(
    settings: Settings, experiment: str, mlflow_uri: str, tmp_path: Path, accept_then_fail: bool
) -> None:
    flaky = _FlakyShipper(_shipper(settings, experiment), 2, accept_then_fail)
    log = PredictionLog(
        settings,
        PredictionLogConfig(flush_interval_s=0.1, retry_base_s=0.05, traces_per_flush=0),
        shipper=flaky,
    )
    with log:
        _record_many(log, 25)
        assert _wait_for(lambda: log.stats()["shipped"] == 25)
    assert flaky.calls >= 3
    assert log.stats()["failures"] >= 2
    ids = [int(r["record_id"]) for r in _shipped_table(mlflow_uri, experiment, tmp_path)]
    assert sorted(ids) == list(range(1, 26))
    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])[0]
    history = client.get_metric_history(run.info.run_id, "serving_requests")
    assert sum(m.value for m in history) == 25.0


def test_stop_drains_and_ships_with_sampled_traces(
    settings: Settings, experiment: str, mlflow_uri: str, tmp_path: Path
) -> None:
    log = PredictionLog(
        settings,
        PredictionLogConfig(flush_interval_s=3600, traces_per_flush=2),
        shipper=_shipper(settings, experiment),
    ).start()
    _record_many(log, 12)
    log.stop()  # no flush happened yet: stop must write the queue and ship it
    assert log.stats()["shipped"] == 12
    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name(experiment)
    run = client.search_runs([exp.experiment_id])[0]
    traces = client.search_traces(locations=[exp.experiment_id])
    assert len(traces) == 2
    assert {t.info.trace_metadata["mlflow.sourceRun"] for t in traces} == {run.info.run_id}
    assert traces[0].data.spans[0].inputs["nip_pseudonym"].startswith("p_")
    text = _mlflow_text(mlflow_uri, experiment, tmp_path)
    for nip in NIPS + MENTORS:
        assert nip not in text


class _PickyShipper:
    """Refuses any batch holding a marked row, the way the personal-data guard would."""

    def __init__(self, inner: MlflowShipper) -> None:
        self.inner = inner

    def ship(self, batch: Batch, records: Sequence[Record]) -> str:
        if any(r.kind == "poison" for r in records):
            raise PersonalDataError("poison batch")
        return self.inner.ship(batch, records)

    def log_traces(self, run_id: str, records: Sequence[Record]) -> int:
        return 0


def test_bad_batch_is_quarantined_without_blocking_the_rest(
    settings: Settings, experiment: str, mlflow_uri: str, tmp_path: Path
) -> None:
    log = PredictionLog(settings, shipper=_PickyShipper(_shipper(settings, experiment)))
    log.record("poison", NIPS[0], "2", ["C1"], [0.5], None, 1.0)  # version 2: its own batch
    _record_many(log, 6, version="3")
    result = log.flush()
    log.stop()
    assert result.ok and result.shipped_rows == 6 and result.pending_rows == 0
    assert log.stats()["quarantined"] == 1
    assert _query(log.database_url, select(func.count()).select_from(predictions)) == [(7,)]
    held = select(batches.c.quarantined).where(batches.c.model_version == "2")
    assert _query(log.database_url, held) == [(1,)]
    assert len(_shipped_table(mlflow_uri, experiment, tmp_path)) == 6


def test_nips_inside_values_are_pseudonymised(settings: Settings, experiment: str) -> None:
    log = PredictionLog(settings, shipper=_shipper(settings, experiment))
    items = [f"mentor:{MENTORS[0]}", MENTORS[1], "C1"]
    log.record("mentor", NIPS[0], "3", items, [1, 2, 3], 0.1, 1)
    log.stop()
    ((stored,),) = _query(log.database_url, select(predictions.c["items"]))
    key = settings.pseudonym_key
    expected = [f"mentor:{pseudonymize(MENTORS[0], key)}", pseudonymize(MENTORS[1], key), "C1"]
    assert json.loads(stored) == expected


# --- roles: record-only workers, a separate shipper ------------------------------------------


def test_record_role_writes_without_shipping_and_ship_role_ships_what_it_wrote(
    settings: Settings, experiment: str, mlflow_uri: str, tmp_path: Path
) -> None:
    worker = PredictionLog(
        settings, PredictionLogConfig(role="record"), shipper=_shipper(settings, experiment)
    ).start()
    _record_many(worker, 12)
    assert worker.sync()
    assert worker._flusher is None
    assert worker.stats()["pending_rows"] == 12  # read from the outbox, not a local counter
    assert worker.stats()["shipped"] == 0

    shipper = PredictionLog(
        settings,
        PredictionLogConfig(role="ship", watch_s=0.05, batch_rows=10),
        shipper=_shipper(settings, experiment),
    ).start()
    try:
        assert shipper._writer is None
        # 12 rows >= one batch of 10: the shipper notices without a writer telling it.
        assert _wait_for(lambda: shipper.stats()["shipped"] >= 10)
    finally:
        shipper.stop()  # its final flush ships the rest
    assert shipper.stats()["shipped"] == 12

    worker._status_cache = (float("-inf"), {})  # skip the 5 s cache of the shipper's status
    stats = worker.stats()
    assert (stats["shipped"], stats["pending_rows"], stats["consecutive_failures"]) == (12, 0, 0)
    assert (
        stats["last_ship_unix"] > 0 and stats["shipper_heartbeat_unix"] >= stats["last_ship_unix"]
    )
    worker.stop()
    assert len(_shipped_table(mlflow_uri, experiment, tmp_path / "t")) == 12


def test_unknown_role_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="role"):
        PredictionLog(settings, PredictionLogConfig(role="both-ways"))  # type: ignore[arg-type]


def test_writer_gathers_records_into_few_inserts(settings: Settings) -> None:
    """Each insert wakes the writer thread, which then competes with the event loop for the GIL."""
    log = PredictionLog(settings, PredictionLogConfig(role="record", write_delay_s=0.2))
    inserts: list[int] = []
    append = log.outbox.append
    log.outbox.append = lambda rows, segment=None: (  # type: ignore[method-assign]
        inserts.append(len(rows)),
        append(rows, segment),
    )[1]
    log.start()
    try:
        for _ in range(5):
            _record_many(log, 40)
            time.sleep(0.01)
        assert log.sync()
    finally:
        log.stop()
    assert sum(inserts) == 200
    assert len(inserts) <= 3, inserts


_KILLED_WORKER = """
import os, signal, sys
from pathlib import Path
from features.settings import Settings
from serving.prediction_log import PredictionLog, PredictionLogConfig

settings = Settings(
    home=Path(sys.argv[1]), mlflow_tracking_uri=sys.argv[2], database_url=sys.argv[4]
)
log = PredictionLog(settings, PredictionLogConfig(role="record", write_delay_s=60.0)).start()
for i in range(int(sys.argv[3])):
    log.record("path", "198503122010011001", "3", ["C1", "C2"], [0.9, 0.5], 0.25, 9.0)
os.kill(os.getpid(), signal.SIGKILL)  # before the writer's next insert
"""


def test_kill_9_loses_no_recorded_prediction(settings: Settings) -> None:
    """What a killed worker had only queued is in its journal; the next start stores it once."""
    root = Path(__file__).resolve().parent.parent
    args = [str(settings.home), settings.resolved_tracking_uri, "300"]
    args.append(settings.resolved_database_url)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER, *args], cwd=root, capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    log = PredictionLog(settings, PredictionLogConfig(role="record")).start()
    try:
        assert log.recovered_rows == 300
        assert log.outbox.pending_rows() == 300
    finally:
        log.stop()
    again = PredictionLog(
        settings, PredictionLogConfig(role="record")
    ).start()  # nothing is inserted twice
    again.stop()
    assert again.recovered_rows == 0 and again.outbox.pending_rows() == 300
    assert list(again.journal_folder.iterdir()) == []


def test_a_segment_stored_before_a_crash_is_not_stored_again(settings: Settings) -> None:
    log = PredictionLog(settings, PredictionLogConfig(role="record"))
    log.journal_folder.mkdir(parents=True)
    segment = log.journal_folder / "4242-crashed.jsonl"
    row = [1.0, "path", "p_x", "3", '["C1"]', "[0.5]", None, 2.0]
    segment.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n" + '[1.0, "pa')  # torn
    log.outbox.append([tuple(row)], segment=segment.name)  # committed, then the crash
    log.start()
    log.stop()
    assert log.recovered_rows == 0 and log.outbox.pending_rows() == 1
    assert not segment.exists()
    other = log.journal_folder / "4243-crashed.jsonl"
    other.write_text(json.dumps(row) + "\n" + '[1.0, "pa')  # never committed: replayed
    log.start()
    log.stop()
    assert log.recovered_rows == 1 and log.outbox.pending_rows() == 2
    live = Journal(log.journal_folder)  # another process's open segment is never taken
    live.append(row)
    log.start()
    log.stop()
    assert log.recovered_rows == 1 and log.outbox.pending_rows() == 2
    live.close()
