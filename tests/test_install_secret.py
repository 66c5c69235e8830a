"""The per-install secret: never a constant, owner-only, refused when missing in production."""

from __future__ import annotations

import os

import pytest
from conftest_serving import OLD_DEVELOPMENT_KEY, candidate_signing_keys, source_literals
from pydantic import ValidationError

from features.install_secret import SecretFileError, install_secret, secret_path
from features.settings import SECRET_FROM_FILE, SECRET_GENERATED, Settings


def test_development_generates_an_owner_only_secret_once(tmp_path, monkeypatch):
    monkeypatch.delenv("KOMPETEN_PSEUDONYM_KEY", raising=False)
    first = Settings(home=tmp_path / "a")
    assert first.secret_origin == SECRET_GENERATED
    path = secret_path(tmp_path / "a")
    assert path.stat().st_mode & 0o777 == 0o600
    again = Settings(home=tmp_path / "a")
    assert again.secret_origin == SECRET_FROM_FILE
    assert again.pseudonym_key == first.pseudonym_key
    other = Settings(home=tmp_path / "b")
    assert other.pseudonym_key != first.pseudonym_key  # per install, not per codebase
    assert first.pseudonym_key not in repr(first)
    assert "generated" in (first.secret_warning() or "")


def test_no_secret_derives_from_a_constant_in_the_source(tmp_path, monkeypatch):
    monkeypatch.delenv("KOMPETEN_PSEUDONYM_KEY", raising=False)
    settings = Settings(home=tmp_path)
    literals = source_literals()
    assert settings.pseudonym_key not in literals
    assert OLD_DEVELOPMENT_KEY not in literals
    key = settings.session_signing_key()
    assert key not in set().union(*(candidate_signing_keys(s) for s in literals))


def test_production_refuses_to_start_without_a_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("KOMPETEN_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ValidationError, match="needs a secret"):
        Settings(home=tmp_path, environment="production")
    assert not secret_path(tmp_path).exists()  # never generated silently outside development
    with pytest.raises(ValidationError, match="at least 32") as short:
        Settings(home=tmp_path, environment="production", pseudonym_key="short-secret")
    assert "short-secret" not in str(short.value)  # the error never echoes the secret
    given = Settings(home=tmp_path, environment="production", pseudonym_key="s" * 40)
    assert given.pseudonym_key == "s" * 40 and given.secret_warning() is None


def test_a_secret_file_others_can_read_is_refused(tmp_path):
    secret, created = install_secret(tmp_path)
    assert created and install_secret(tmp_path) == (secret, False)
    os.chmod(secret_path(tmp_path), 0o644)
    with pytest.raises(SecretFileError, match="chmod 600"):
        install_secret(tmp_path)
