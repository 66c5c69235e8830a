"""Settings only the service reads (`KOMPETEN_SERVE_*`); shared ones live in features.settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    """How the service starts, trusts keys and sizes its caches.

    How often it polls for a new champion is the shared `Settings.model_poll_seconds`.
    """

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
    assignment_cache_size: int = Field(
        256, ge=0, description="Mentor assignments for non-default capacities kept in memory."
    )
    mlflow_timeout_s: int = Field(
        10, ge=1, le=600, description="HTTP timeout for a remote MLflow (default retries: 2)."
    )
    prediction_shipping: Literal["thread", "process"] = Field(
        "thread",
        description="Who ships served predictions to MLflow: a thread of each worker, or a "
        "separate process (`kompeten serve` sets this and starts serving.prediction_shipper).",
    )


@lru_cache
def get_serving_settings() -> ServingSettings:
    return ServingSettings()
