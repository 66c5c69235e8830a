"""The shipper process beside `kompeten serve`: ships what workers record, survives a group
SIGTERM until its supervisor stops it, is restarted when it dies; the access log's NIP filter."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient
from sqlalchemy import func, select

from features.database import make_engine
from features.pseudonym import pseudonymize
from features.settings import Settings
from serving.access_log import RedactNipFilter, install
from serving.mlflow_client import SERVING_EXPERIMENT
from serving.outbox import batches, predictions
from serving.prediction_log import PredictionLog, PredictionLogConfig
from serving.prediction_shipper import ShipperSupervisor

NIP = "198503302010011001"


def _wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_supervised_shipper_process_ships_worker_rows_and_stops_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """On SQLite and on PostgreSQL: the shipper process reads the workers' database URL."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for name in [k for k in os.environ if k.startswith(("KOMPETEN_", "MLFLOW_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KOMPETEN_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("KOMPETEN_PREDICTION_FLUSH_SECONDS", "0.5")
    monkeypatch.setenv("KOMPETEN_DATABASE_URL", database_url)
    settings = Settings(home=tmp_path, mlflow_tracking_uri=uri, database_url=database_url)
    worker = PredictionLog(settings, PredictionLogConfig(role="record")).start()
    for i in range(7):
        worker.record("training_path", NIP, "1", ["C1", "C2"], [0.9, 0.4], 0.2, 2.0 + i)
    assert worker.sync()

    supervisor = ShipperSupervisor(restart_delay_s=0.2).start()
    try:
        assert _wait_for(lambda: worker.outbox.read_status().get("shipped", 0) >= 7)
        first = supervisor.pid
        assert first is not None
        os.kill(first, signal.SIGTERM)  # what a group-wide stop signal would do: ignored
        time.sleep(1.0)
        assert supervisor._process is not None and supervisor._process.poll() is None

        os.kill(first, signal.SIGKILL)  # a crash: the supervisor starts a new one
        assert _wait_for(lambda: supervisor.pid != first and supervisor.restarts == 1, 20)
        worker.record("training_path", NIP, "1", ["C3"], [0.5], 0.1, 1.0)
        assert worker.sync()
    finally:
        supervisor.stop(timeout_s=60)  # the last flush ships the late row
        worker.stop()
    assert supervisor._process is not None and supervisor._process.returncode == 0
    assert worker.outbox.pending_rows() == 0

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(SERVING_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert [r.data.tags["kompeten.model_version"] for r in runs] == ["1"]
    shipped = (
        select(func.count())
        .select_from(predictions.join(batches, predictions.c.batch_id == batches.c.id))
        .where(batches.c.sent_ms.is_not(None), batches.c.run_id == runs[0].info.run_id)
    )
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(shipped).scalar_one() == 8
    finally:
        engine.dispose()


def test_access_log_filter_pseudonymises_nips_in_request_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/v1/employees/{NIP}/plan", "1.1", 200),
        None,
    )
    flt = RedactNipFilter(key="test-key")
    assert flt.filter(record)
    line = record.getMessage()
    assert NIP not in line
    assert pseudonymize(NIP, "test-key") in line
    ping = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("/v1/ping",), None)
    assert flt.filter(ping) and ping.getMessage() == "/v1/ping"


def test_access_filter_installs_into_uvicorn_log_config() -> None:
    from uvicorn.config import LOGGING_CONFIG

    config = install(
        {**LOGGING_CONFIG, "handlers": {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()}}
    )
    assert config["handlers"]["access"]["filters"] == ["redact_nip"]
    logging.config.dictConfig(config)
    handler = next(h for h in logging.getLogger("uvicorn.access").handlers)
    assert any(isinstance(f, RedactNipFilter) for f in handler.filters)


def test_access_log_filter_catches_grouped_and_percent_encoded_nips() -> None:
    flt = RedactNipFilter(key="test-key")
    grouped = f"{NIP[:8]} {NIP[8:14]} {NIP[14]} {NIP[15:]}"
    escaped_digits = "".join(f"%3{d}" for d in NIP)
    expected = pseudonymize(NIP, "test-key")
    for path in (
        f"/v1/employees/{grouped.replace(' ', '%20')}/plan",
        f"/halaman/pegawai/{grouped.replace(' ', '+')}",
        f"/v1/employees/{escaped_digits}/plan",
        f"/v1/employees/{NIP[:8]}-{NIP[8:14]}-{NIP[14:]}/plan",
        f"/v1/plans?nip={grouped}",
    ):
        record = logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, "%s %s", ("GET", path), None
        )
        assert flt.filter(record)
        line = record.getMessage()
        assert expected in line, line
        assert not any(part in line for part in (NIP[:8], NIP[8:14], NIP[15:] + "/")), line
    longer = logging.LogRecord("a", logging.INFO, __file__, 1, "%s", ("/x/" + NIP + "9",), None)
    assert flt.filter(longer) and longer.getMessage() == "/x/" + NIP + "9"  # 19 digits: no NIP
