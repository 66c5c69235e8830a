"""API keys: only hashes stored, constant-time check, cache TTL and revocation, the CLI."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from serving.db import ApiKeyRecord, open_database
from serving.keys import KeyStore, Role, create_key, hash_key, revoke_key, verify_key


@pytest.fixture(name="sessions")
def sessions_fixture(database_url):
    """A key database of each backend (SQLite, PostgreSQL)."""
    with open_database(database_url) as sessions:
        yield sessions


def test_only_the_hash_is_stored(sessions):
    with sessions() as session:
        key, raw = create_key(session, Role.MANAGER, ["UNIT-B", "UNIT-A"], label="camat")
        record = session.scalars(select(ApiKeyRecord)).one()
    assert raw.startswith(f"kmp_{key.key_id}_")
    assert record.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in repr(record.__dict__)
    assert record.units == ["UNIT-A", "UNIT-B"] and key.units == {"UNIT-A", "UNIT-B"}


def test_verify_rejects_wrong_tampered_and_revoked_keys(sessions):
    with sessions() as session:
        key, raw = create_key(session, "hr_system")
        assert verify_key(session, raw) == key
        assert verify_key(session, raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
        assert verify_key(session, "garbage") is None
        assert verify_key(session, f"kmp_{'0' * 12}_{'x' * 43}") is None
        assert revoke_key(session, key.key_id) is True
        assert revoke_key(session, key.key_id) is False
        assert verify_key(session, raw) is None


def test_role_and_unit_rules(sessions):
    with sessions() as session:
        with pytest.raises(ValueError, match="needs at least one unit"):
            create_key(session, "manager")
        with pytest.raises(ValueError, match="only apply to manager"):
            create_key(session, "analyst", ["UNIT-A"])
        with pytest.raises(ValueError):
            create_key(session, "superuser")


def test_store_caches_for_ttl_then_sees_revocation(sessions):
    now = [0.0]
    store = KeyStore(sessions, ttl=30.0, clock=lambda: now[0])
    with sessions() as session:
        key, raw = create_key(session, "analyst")
    assert store.cached(raw) is None
    assert store.verify(raw) == key
    assert store.cached(raw) == key
    with sessions() as session:
        revoke_key(session, key.key_id)
    assert store.cached(raw) == key  # still trusted within the TTL
    now[0] = 31.0
    assert store.cached(raw) is None
    assert store.verify(raw) is None
    assert hash_key(raw) not in store._cache


def test_cli_keys_create_prints_once_and_serve_runs_the_factory(tmp_path, monkeypatch):
    from features.settings import get_settings
    from kompeten.cli import app

    monkeypatch.setenv("KOMPETEN_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        created = runner.invoke(app, ["keys", "create", "--role", "manager", "--unit", "KEC-X"])
        assert created.exit_code == 0, created.output
        raw = next(line for line in created.output.split() if line.startswith("kmp_"))
        refused = runner.invoke(app, ["keys", "create", "--role", "manager"])
        assert refused.exit_code != 0
        settings = get_settings()
        with open_database(settings.resolved_database_url) as sessions, sessions() as session:
            assert verify_key(session, raw).units == {"KEC-X"}

        calls = []
        monkeypatch.setattr("uvicorn.run", lambda *a, **k: calls.append((a, k)))
        served = runner.invoke(app, ["serve", "--port", "8123", "--workers", "2"])
        assert served.exit_code == 0, served.output
        ((args, kwargs),) = calls
        assert args == ("serving.app:create_app",)
        assert kwargs["factory"] is True and kwargs["workers"] == 2
        assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8123)
        assert "kompeten" in kwargs["log_config"]["loggers"]
    finally:
        get_settings.cache_clear()
