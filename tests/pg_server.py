"""A real PostgreSQL server for the tests, started from Debian's `postgresql` package.

One throw-away cluster per test session (initdb into a temp dir, fsync off, loopback only, a
free port); each test that asks gets a fresh database in it. When root runs the tests (CI
does), the server runs as the `postgres` system user, because PostgreSQL refuses root.

`KOMPETEN_TEST_POSTGRES_URL` (a SQLAlchemy URL of a server someone else runs, with the right
to create databases) skips starting one. Without binaries or that variable, `unavailable()`
says why, and the tests that need PostgreSQL skip with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from processes import free_port
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV_URL = "KOMPETEN_TEST_POSTGRES_URL"
_SYSTEM_USER = "postgres"


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class PostgresServer:
    """A started cluster (or the one `KOMPETEN_TEST_POSTGRES_URL` names)."""

    def __init__(self) -> None:
        self.base_url: str | None = os.environ.get(ENV_URL) or None
        self.reason: str | None = None
        self._dir: Path | None = None
        self._bindir: Path | None = None
        self._as_user: list[str] = []

    def start(self) -> PostgresServer:
        if self.base_url:
            return self
        bindir = _bindir()
        if bindir is None:
            self.reason = (
                "PostgreSQL is not installed (Debian package `postgresql`; .ci/run installs it) "
                f"and {ENV_URL} is not set"
            )
            return self
        self._bindir = bindir
        self._dir = Path(tempfile.mkdtemp(prefix="kompeten-pg-"))
        data, sockets = self._dir / "data", self._dir / "sock"
        data.mkdir()
        sockets.mkdir()
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(_SYSTEM_USER)
            except KeyError:
                self.reason = f"running as root and there is no `{_SYSTEM_USER}` user to run as"
                return self
            for path in (self._dir, data, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", _SYSTEM_USER, "--"]
        user = _SYSTEM_USER if self._as_user else pwd.getpwuid(os.geteuid()).pw_name
        port = free_port()
        try:
            self._run(
                str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8"
            )
            self._run(
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self._dir / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100",
                "start",
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            self.reason = f"could not start PostgreSQL from {bindir}: {str(detail).strip()[:300]}"
            return self
        self.base_url = f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
        return self

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True)

    def stop(self) -> None:
        if self._dir is None:
            return
        if self._bindir is not None and (self._dir / "data" / "postmaster.pid").exists():
            try:
                self._run(
                    str(self._bindir / "pg_ctl"),
                    "-D",
                    str(self._dir / "data"),
                    "-m",
                    "fast",
                    "stop",
                )
            except (OSError, subprocess.CalledProcessError):
                pass
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def new_database(self) -> str:
        """The URL of a new, empty database on the server."""
        assert self.base_url is not None, self.reason
        name = f"kompeten_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with admin.connect() as conn:
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
                    break
                except Exception:  # the server may still be accepting its first connections
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            admin.dispose()
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)
