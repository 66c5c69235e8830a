"""One Settings object: the service's and the pages' sections keep their documented variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from features.settings import PagesSettings, ServeSettings, Settings, get_settings


def test_sections_read_their_own_prefixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMPETEN_HOME", str(tmp_path))
    monkeypatch.setenv("KOMPETEN_JP_BUDGET", "30")
    monkeypatch.setenv("KOMPETEN_SERVE_KEY_CACHE_TTL_S", "5")
    monkeypatch.setenv("KOMPETEN_SERVE_PREDICTION_SHIPPING", "process")
    monkeypatch.setenv("KOMPETEN_PAGES_KINERJA_CUTS", "[3.0, 4.0]")
    monkeypatch.setenv("KOMPETEN_PAGES_PAGE_SIZE", "20")
    monkeypatch.setenv("KOMPETEN_SERVE_EVENT_LOOP", "asyncio")
    monkeypatch.setenv("KOMPETEN_SERVE_MAX_BODY_BYTES", "4096")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.home == tmp_path and settings.jp_budget == 30
        assert settings.serve.key_cache_ttl_s == 5.0
        assert settings.serve.prediction_shipping == "process"
        assert settings.serve.event_loop == "asyncio" and settings.serve.max_body_bytes == 4096
        assert settings.pages.kinerja_cuts == (3.0, 4.0) and settings.pages.page_size == 20
    finally:
        get_settings.cache_clear()


def test_a_bad_section_value_is_refused_with_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMPETEN_PAGES_POTENSI_CUTS", "[1.2, 0.9]")
    with pytest.raises(ValidationError, match="first cut-off must be below the second"):
        Settings(home=tmp_path)
    monkeypatch.setenv("KOMPETEN_PAGES_POTENSI_CUTS", "[0.9, 1.1]")
    monkeypatch.setenv("KOMPETEN_SERVE_PREDICTION_SHIPPING", "carrier-pigeon")
    with pytest.raises(ValidationError, match="prediction_shipping"):
        Settings(home=tmp_path)
    monkeypatch.setenv("KOMPETEN_SERVE_PREDICTION_SHIPPING", "process")
    monkeypatch.setenv("KOMPETEN_SERVE_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError, match="event_loop"):
        Settings(home=tmp_path)


def test_sections_can_be_given_directly(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, serve=ServeSettings(startup_wait_s=3), pages=PagesSettings(page_size=10)
    )
    assert settings.serve.startup_wait_s == 3.0 and settings.pages.page_size == 10


def test_the_session_key_is_its_own_and_follows_the_pages_secret(tmp_path: Path) -> None:
    secret = "s" * 40
    derived = Settings(home=tmp_path, pseudonym_key=secret).session_signing_key()
    assert derived != secret.encode() and len(derived) == 32
    own = Settings(
        home=tmp_path, pseudonym_key=secret, pages=PagesSettings(session_secret="p" * 32)
    ).session_signing_key()
    assert own != derived
