"""`kompeten serve` and `kompeten keys`: the service and its API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from features.cli_support import console, out

app = typer.Typer()


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option("--workers", min=1, max=64, help="Worker processes (each loads the model)."),
    ] = 1,
) -> None:
    """Serve the recommendation API (FastAPI on uvicorn) from the `champion` model.

    The service answers /healthz at once and /readyz once the champion and the data are
    loaded. It picks up a newly promoted champion (or new data) by polling
    (KOMPETEN_MODEL_POLL_SECONDS) or on POST /v1/admin/reload, without a restart, and
    keeps serving what it has when MLflow is unreachable. OpenAPI docs: /docs.

    Served predictions are recorded by the workers and shipped to MLflow by a separate,
    lower-priority process that this command starts and stops with the service.
    """
    import copy
    import os

    import uvicorn
    from pydantic import ValidationError
    from uvicorn.config import LOGGING_CONFIG

    from features.settings import get_settings
    from serving.access_log import install as install_access_filter
    from serving.prediction_shipper import ShipperSupervisor

    # Read by every worker (and by this process's settings, read next): workers only record.
    os.environ["KOMPETEN_SERVE_PREDICTION_SHIPPING"] = "process"
    get_settings.cache_clear()
    try:  # refuses a deployment without a secret before anything starts
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            console.print(f"[red]error:[/] {error['msg']}")
        raise typer.Exit(code=2) from None
    if settings.environment == "development" and host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/] serving on {host} with KOMPETEN_ENVIRONMENT=development; "
            "a deployment sets KOMPETEN_ENVIRONMENT=production and KOMPETEN_PSEUDONYM_KEY"
        )
    # uvicorn applies this in every worker: the service's own log lines (model loaded,
    # reload failed, unhandled errors) go where uvicorn's go.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["kompeten"] = {"handlers": ["default"], "level": "INFO"}
    install_access_filter(log_config)  # request lines name NIPs: pseudonymise them
    shipper = ShipperSupervisor().start()
    try:
        uvicorn.run(
            "serving.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config,
            # "auto" is uvloop (faster per request); "asyncio" serves a saturated worker's
            # connections more evenly (a far shorter p99 at 64 connections): README, API.
            loop=settings.serve.event_loop,
        )
    finally:
        shipper.stop()


keys_app = typer.Typer(help="API keys for the recommendation service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option("--role", help="hr_system, analyst or manager.", show_default=False)
    ],
    unit: Annotated[
        list[str] | None,
        typer.Option("--unit", help="A unit a manager key covers (with its sub-units); repeat."),
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Who the key is for.")] = "",
) -> None:
    """Issue an API key and print it ONCE; only its SHA-256 hash is stored."""
    from features.settings import get_settings
    from serving.db import open_database
    from serving.keys import Role, create_key

    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(
            "must be hr_system, analyst or manager", param_hint="--role"
        ) from None
    settings = get_settings()
    settings.ensure_home()
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        try:
            key, raw = create_key(session, role_value, unit or (), label)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--unit") from None
    console.print(
        f"key id {key.key_id}, role {key.role.value}"
        + (f", units {', '.join(sorted(key.units))}" if key.units else "")
        + ". Store the key now: it cannot be shown again."
    )
    out.print(raw, markup=False, highlight=False)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id to revoke.")]) -> None:
    """Revoke a key; the service stops accepting it within KOMPETEN_SERVE_KEY_CACHE_TTL_S."""
    from features.settings import get_settings
    from serving.db import open_database
    from serving.keys import revoke_key

    settings = get_settings()
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        if not revoke_key(session, key_id):
            console.print(f"no active key with id {key_id}")
            raise typer.Exit(code=1)
    out.print(f"revoked {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """List issued keys (ids, roles, units, dates; never the keys)."""
    from rich.table import Table

    from features.settings import get_settings
    from serving.db import open_database
    from serving.keys import list_keys

    settings = get_settings()
    table = Table("key id", "role", "units", "label", "created", "revoked")
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        for r in list_keys(session):
            table.add_row(
                r.key_id,
                r.role,
                ", ".join(r.units or []),
                r.label,
                f"{r.created_at:%Y-%m-%d %H:%M}",
                f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
            )
    out.print(table)
