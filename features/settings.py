"""All configuration, read from the environment in one place (`KOMPETEN_*`, `MLFLOW_TRACKING_URI`).

Defaults are embedded so that a fresh clone works offline: everything mutable lives under a
local `var/` folder that git ignores.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.install_secret import MIN_SECRET_LENGTH, install_secret, read_secret, secret_path

#: Where the secret came from (`Settings.secret_origin`), for the start-up warning.
SECRET_FROM_ENVIRONMENT = "environment"
SECRET_FROM_FILE = "file"
SECRET_GENERATED = "generated"


class Settings(BaseSettings):
    """Runtime settings. Outside `environment=development`, unsafe defaults are refused."""

    model_config = SettingsConfigDict(
        env_prefix="KOMPETEN_", extra="ignore", hide_input_in_errors=True
    )

    environment: str = Field("development", description="development | staging | production")
    home: Path = Field(Path("var"), description="Folder for local state (SQLite, artifacts).")
    data_dir: Path | None = Field(None, description="Dataset folder the service reads.")
    database_url: str | None = Field(None, description="SQLAlchemy URL for plan reviews.")
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
    prediction_outbox_path: Path | None = Field(
        None,
        description="SQLite outbox of served predictions (default: home/prediction_outbox.db).",
    )
    prediction_flush_seconds: float = Field(
        30.0, gt=0, description="How often served predictions are shipped to MLflow."
    )
    model_poll_seconds: float = Field(
        60.0, ge=0, description="How often the service checks for a new champion (0 = never)."
    )

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
