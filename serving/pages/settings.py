"""Settings of the manager pages (`KOMPETEN_PAGES_*`): the session cookie and the 9-box cut-offs."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.settings import Settings
from serving.talent_box import BoxCuts


class PagesSettings(BaseSettings):
    """How the pages keep a signed-in manager, and the agency's talent-map policy."""

    model_config = SettingsConfigDict(env_prefix="KOMPETEN_PAGES_", extra="ignore")

    session_secret: str | None = Field(
        None,
        min_length=32,
        description="Secret that signs the session cookie. Default: derived from "
        "KOMPETEN_PSEUDONYM_KEY (itself required outside development).",
    )
    session_hours: float = Field(
        8.0, gt=0, le=24 * 7, description="How long a sign-in lasts (one working day)."
    )
    cookie_secure: bool | None = Field(
        None,
        description="Secure flag on the cookies: true, false, or unset = when the request "
        "came over https (behind a proxy, run uvicorn with --proxy-headers).",
    )
    display_utc_offset_hours: float = Field(
        7.0, ge=-12, le=14, description="Time zone of the dates shown (7 = WIB, 8 = WITA, 9 = WIT)."
    )
    kinerja_cuts: tuple[float, float] = Field(
        (3.5, 4.5),
        description="9-box kinerja (SKP score 1..5) below the first is rendah, from the second "
        "tinggi; JSON list, e.g. [3.5, 4.5].",
    )
    potensi_cuts: tuple[float, float] = Field(
        (0.9, 1.1),
        description="9-box potensi (mean current / required competency level) below the first "
        "is rendah, from the second tinggi.",
    )
    page_size: int = Field(50, ge=5, le=1000, description="Employees per page of a unit list.")
    signin_max_failures: int = Field(
        10, ge=1, le=10_000, description="Failed sign-ins a client may make per window."
    )
    signin_window_s: float = Field(
        300.0, gt=0, le=86_400, description="Window of the sign-in limit, in seconds."
    )

    @field_validator("kinerja_cuts", "potensi_cuts")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("the first cut-off must be below the second")
        return value

    @property
    def box_cuts(self) -> BoxCuts:
        return BoxCuts(kinerja=self.kinerja_cuts, potensi=self.potensi_cuts)

    def signing_key(self, settings: Settings) -> bytes:
        """The HMAC key of the session cookie: a key of its own, never the pseudonym key."""
        if self.session_secret:
            return hashlib.sha256(self.session_secret.encode("utf-8")).digest()
        return hmac.new(
            settings.pseudonym_key.encode("utf-8"), b"kompeten-pages-session", hashlib.sha256
        ).digest()


@lru_cache
def get_pages_settings() -> PagesSettings:
    return PagesSettings()
