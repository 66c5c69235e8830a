"""The service's own durable records: API keys (hashes only), plan reviews, ended page sessions.

SQLAlchemy 2 models on `Settings.resolved_database_url`: a SQLite file by default, PostgreSQL
(or any SQLAlchemy URL) in production. The schema is created on start-up if missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Integer,
    String,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from features.database import create_tables, make_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """In UTC: SQLite returns naive datetimes (everything stored here is UTC), PostgreSQL
    aware ones in the session's time zone, which need not be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ApiKeyRecord(Base):
    """One issued API key. Only the SHA-256 of the key is kept; the key itself is shown once."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    units: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    label: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PlanReviewRecord(Base):
    """A manager's decision on an employee's plan, unique per (key, request id)."""

    __tablename__ = "plan_reviews"
    __table_args__ = (UniqueConstraint("key_id", "request_id", name="uq_review_request"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    nip: Mapped[str] = mapped_column(String(18), nullable=False, index=True)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: `serving.services.plans.plan_digest` of the plan decided on; NULL in rows stored before
    #: digests were recorded (then nobody knows whether the plan changed since).
    plan_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class EndedPageSessionRecord(Base):
    """A page session its manager signed out of: refused until its own expiry, then purged."""

    __tablename__ = "ended_page_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, nullable=False, index=True)


def create_schema(engine: Engine) -> None:
    """Create missing tables and add missing nullable columns to existing ones (an install
    from before a column existed keeps its rows); tolerate another worker doing the same at
    the same moment."""
    create_tables(Base.metadata, engine)
    add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> list[str]:
    """`ALTER TABLE ... ADD COLUMN` for each nullable model column an existing table lacks.

    Only nullable columns are added (old rows get NULL); anything else would need a real
    migration. Returns the "table.column" names added. A concurrent worker that added the
    same column first is not an error.
    """
    added: list[str] = []
    for table in Base.metadata.sorted_tables:
        present = {col["name"] for col in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            ddl = f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'
            try:
                with engine.begin() as conn:
                    conn.execute(text(ddl))
            except (OperationalError, ProgrammingError):
                fresh = {col["name"] for col in inspect(engine).get_columns(table.name)}
                if column.name not in fresh:
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
    return added


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def open_database(url: str) -> Iterator[sessionmaker[Session]]:
    """Engine + schema + session factory for one-off use (the CLI); disposed afterwards."""
    engine = make_engine(url)
    try:
        create_schema(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()
