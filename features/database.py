"""The one way this project opens a SQLAlchemy database (`Settings.resolved_database_url`).

A SQLite file by default, PostgreSQL (`postgresql+psycopg://...`) for a store several service
hosts share. The dataset store (`features.dataset_store`) and the service's own records
(`serving.db`) use the same URL and the same engine settings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import SQLAlchemyError


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so several workers can write."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_tables(metadata: MetaData, engine: Engine, attempts: int = 8) -> None:
    """`metadata.create_all` that tolerates other workers or hosts creating the same tables at
    the same moment (each attempt skips the tables that exist by then, so it makes progress)."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
