"""Fixtures every test file may ask for: the two databases the service supports, and real
subprocesses (`processes`).

`database_url` runs a test once on a SQLite file and once on a real PostgreSQL server (started
once per session by `pg_server.PostgresServer`, a fresh database per test). Without PostgreSQL
the second run skips and says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import PostgresServer
from processes import Processes

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(name="processes")
def processes_fixture(tmp_path: Path) -> Iterator[Processes]:
    """Subprocesses a test starts (`processes.start`), all stopped when it ends, also on failure."""
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def database_url_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new empty database of `backend`: a SQLite file under `tmp_path`, or a PostgreSQL one."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'kompeten.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    if server.base_url is None:
        pytest.skip(f"PostgreSQL tests skipped: {server.reason}")
    return server.new_database()


@pytest.fixture(params=BACKENDS, name="database_url")
def database_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQLAlchemy URL of an empty database, once per supported backend."""
    return database_url_for(request.param, tmp_path, request)
