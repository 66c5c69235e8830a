"""All configuration, read from the environment in one place (`KOMPETEN_*`, `MLFLOW_TRACKING_URI`).

One `Settings` object with sections: the shared fields at the top level (`KOMPETEN_*`), the
service's own in `Settings.serve` (`KOMPETEN_SERVE_*`) and the manager pages' in
`Settings.pages` (`KOMPETEN_PAGES_*`); one `get_settings()`.

Defaults are embedded so that a fresh clone works offline: everything mutable lives under a
local `var/` folder that git ignores.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.install_secret import MIN_SECRET_LENGTH, install_secret, read_secret, secret_path

#: Where the secret came from (`Settings.secret_origin`), for the start-up warning.
SECRET_FROM_ENVIRONMENT = "environment"
SECRET_FROM_FILE = "file"
SECRET_GENERATED = "generated"


class ServeSettings(BaseSettings):
    """`Settings.serve` (`KOMPETEN_SERVE_*`): how the service starts, trusts keys and sizes its
    caches. How often it polls for a new champion is the shared `Settings.model_poll_seconds`."""

    model_config = SettingsConfigDict(env_prefix="KOMPETEN_SERVE_", extra="ignore")

    startup_wait_s: float = Field(
        0.0,
        ge=0.0,
        description="Seconds start-up waits for the first model load before taking traffic; "
        "0 starts at once (/readyz answers 503 until the load is done).",
    )
    key_cache_ttl_s: float = Field(
        30.0,
        ge=0.0,
        le=3600.0,
        description="Seconds a verified API key is trusted without asking the database again "
        "(a revoked key stops working at most this long after revocation).",
    )
    plan_cache_size: int = Field(
        50_000, ge=0, description="Default plans kept in memory (least recently used dropped)."
    )
    prepared_path_cache_size: int = Field(
        10_000,
        ge=0,
        description="Employees whose prepared path (the budget-independent arrays the path "
        "builder derives, a few KB each) is kept, so a request only runs the selection.",
    )
    assignment_cache_size: int = Field(
        256, ge=0, description="Mentor assignments for non-default capacities kept in memory."
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1_024,
        description="Request bodies larger than this get 413 before they are parsed (a bulk "
        "request of 1,000 employees with their options fits in well under 1 MiB).",
    )
    mlflow_timeout_s: int = Field(
        10, ge=1, le=600, description="HTTP timeout for a remote MLflow (default retries: 2)."
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "asyncio",
        description="uvicorn's event loop for `kompeten serve`: asyncio (serves a saturated "
        "worker's connections evenly: measured p99 3.8x ping's at 64 connections on computed "
        "paths, at the same throughput) or uvloop / auto (uvloop when installed: ~7% more "
        "throughput on the cached default plans, but a p99 ~9x ping's on computed paths).",
    )
    prediction_shipping: Literal["thread", "process"] = Field(
        "thread",
        description="Who ships served predictions to MLflow: a thread of each worker, or a "
        "separate process (`kompeten serve` sets this and starts serving.prediction_shipper).",
    )


class PagesSettings(BaseSettings):
    """`Settings.pages` (`KOMPETEN_PAGES_*`): how the manager pages keep a signed-in manager,
    and the agency's talent-map policy (the 9-box cut-offs)."""

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


class Settings(BaseSettings):
    """Runtime settings. Outside `environment=development`, unsafe defaults are refused."""

    model_config = SettingsConfigDict(
        env_prefix="KOMPETEN_", extra="ignore", hide_input_in_errors=True
    )

    environment: str = Field("development", description="development | staging | production")
    home: Path = Field(Path("var"), description="Folder for local state (SQLite, artifacts).")
    data_dir: Path | None = Field(
        None,
        description="Dataset folder the service imports into the store when the store is "
        "still empty (default home/demo); later data arrives by ingest or `kompeten import`.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store: the dataset, plan reviews, API keys "
        "(default a SQLite file under home; postgresql+psycopg://... for shared hosts).",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking URI; default a SQLite file under home.",
    )
    model_name: str = "kompeten-planner"
    experiment_name: str = "kompeten-training"
    pseudonym_key: str = Field(
        "",
        repr=False,
        description="Secret for the keyed hash that pseudonymises NIPs before MLflow (and, "
        "derived, for the pages' session cookie). Unset: the install's own secret file "
        "(home/secret.key, 0600), generated on first start in development only.",
    )
    jp_budget: int = Field(40, ge=1, le=1000)
    min_jp_per_year: int = Field(20, ge=0, le=1000)
    mentor_capacity: int = Field(3, ge=1, le=50)
    gate_tolerance: float = Field(
        0.0, ge=0.0, le=1.0, description="Challenger may be this much worse and still promote."
    )
    gate_metric: str = Field(
        "holdout_est_gap_closed_per_employee",
        description="Promotion gate: estimated gap closed per employee by the holdout plans.",
    )
    prediction_flush_seconds: float = Field(
        30.0, gt=0, description="How often served predictions are shipped to MLflow."
    )
    model_poll_seconds: float = Field(
        60.0, ge=0, description="How often the service checks for a new champion (0 = never)."
    )
    data_poll_seconds: float = Field(
        2.0,
        ge=0,
        description="How often each worker checks the store's revision (one-row query) and "
        "recomputes its plans when another worker or host ingested data (0 = never).",
    )
    serve: ServeSettings = Field(default_factory=ServeSettings)
    pages: PagesSettings = Field(default_factory=PagesSettings)

    _secret_origin: str = PrivateAttr(SECRET_FROM_ENVIRONMENT)

    @model_validator(mode="after")
    def _resolve_secret(self) -> Settings:
        """Never a constant: the environment's key, else this install's secret file.

        Outside development a secret must already exist (environment or file): a deployment
        that silently generated one would change every pseudonym when its disk is replaced.
        """
        development = self.environment == "development"
        if self.pseudonym_key:
            if not development and len(self.pseudonym_key) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"KOMPETEN_PSEUDONYM_KEY must be at least {MIN_SECRET_LENGTH} characters "
                    "outside development"
                )
            return self
        path = secret_path(self.home)
        if development:
            self.pseudonym_key, created = install_secret(self.home)
            self._secret_origin = SECRET_GENERATED if created else SECRET_FROM_FILE
        elif path.exists():
            self.pseudonym_key = read_secret(path)
            self._secret_origin = SECRET_FROM_FILE
        else:
            raise ValueError(
                f"KOMPETEN_ENVIRONMENT={self.environment} needs a secret: set "
                f"KOMPETEN_PSEUDONYM_KEY (at least {MIN_SECRET_LENGTH} characters) or put one "
                f"in {path} (mode 600); it protects the NIPs sent to MLflow and signs the "
                "pages' sessions"
            )
        return self

    @property
    def secret_origin(self) -> str:
        """`environment`, `file` or `generated` (this process wrote the install's secret)."""
        return self._secret_origin

    def secret_warning(self) -> str | None:
        """What the service should say at start-up about its secret, if anything."""
        if self.environment != "development":
            return None
        where = secret_path(self.home).resolve()
        if self.secret_origin == SECRET_FROM_ENVIRONMENT:
            return (
                "KOMPETEN_ENVIRONMENT=development: fine on a laptop; a deployment sets "
                "KOMPETEN_ENVIRONMENT=production"
            )
        verb = "generated at" if self.secret_origin == SECRET_GENERATED else "read from"
        return (
            f"KOMPETEN_ENVIRONMENT=development: the NIP pseudonym and session secret was {verb} "
            f"{where} (owner-only); a deployment sets KOMPETEN_ENVIRONMENT=production and "
            "KOMPETEN_PSEUDONYM_KEY"
        )

    def session_signing_key(self) -> bytes:
        """The HMAC key of the pages' session cookie: `KOMPETEN_PAGES_SESSION_SECRET`, else
        derived from the pseudonym key (a key of its own, never the pseudonym key itself)."""
        if self.pages.session_secret:
            return hashlib.sha256(self.pages.session_secret.encode("utf-8")).digest()
        return hmac.new(
            self.pseudonym_key.encode("utf-8"), b"kompeten-pages-session", hashlib.sha256
        ).digest()

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.home / "demo"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'kompeten.db').resolve()}"

    @property
    def resolved_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.home / "mlartifacts").resolve()

    def ensure_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    """Settings singleton; tests override it with `get_settings.cache_clear()` + env vars."""
    return Settings()


def env_summary() -> dict[str, str]:
    """Which KOMPETEN_* variables are set (values of secrets hidden), for `--help` output."""
    return {
        k: ("***" if "KEY" in k or "SECRET" in k else v)
        for k, v in os.environ.items()
        if k.startswith("KOMPETEN_")
    }
