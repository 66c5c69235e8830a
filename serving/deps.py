"""FastAPI dependencies as typed aliases: the state, the database, the caller, and access rules.

Handlers declare what they need (`state: StateDep, key: KeyDep`) and these functions supply it
from `app.state` (set up in `serving.app.lifespan`), raising the HTTP error when it cannot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, Path, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy.orm import Session

from features.dataset_store import DatasetStore
from features.settings import PagesSettings, Settings
from serving.keys import INGESTERS, RELOADERS, REVIEWERS, ApiKey, KeyStore, Role
from serving.schemas import NIP_FORMAT, ErrorPublic, check_nip, strip_spaces
from serving.state import ServingState
from serving.state_holder import StateHolder

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="API key from `kompeten keys create` (or send it as `Authorization: Bearer`).",
)
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")

#: Error responses for the OpenAPI document, by status.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorPublic, "description": "The body is not valid JSON or not UTF-8."},
    401: {"model": ErrorPublic, "description": "No API key, or an invalid or revoked one."},
    403: {"model": ErrorPublic, "description": "The key's role or units do not allow this."},
    404: {"model": ErrorPublic, "description": "No such active employee or unit."},
    503: {"model": ErrorPublic, "description": "The model or data is not loaded yet."},
}

NipPath = Annotated[
    str,
    BeforeValidator(strip_spaces),
    AfterValidator(check_nip),
    Path(description=NIP_FORMAT, examples=["198503122010011001"]),
]


class PredictionRecorder(Protocol):
    """What handlers need of `serving.prediction_log.PredictionLog` (non-blocking, never raises)."""

    def record(
        self,
        kind: str,
        nip: str,
        model_version: str,
        items: list[str],
        scores: list[float],
        risk: float | None,
        latency_ms: float,
    ) -> None: ...


def app_settings(request: Request) -> Settings:
    """The app's one `Settings` (tests pass theirs to `create_app`)."""
    return request.app.state.settings


def pages_settings(request: Request) -> PagesSettings:
    """The `pages` section of the app's settings (the manager pages read theirs here)."""
    return app_settings(request).pages


def get_holder(request: Request) -> StateHolder:
    return request.app.state.holder


def get_state(request: Request) -> ServingState:
    """The state serving right now; 503 until the first load succeeded."""
    state = request.app.state.holder.state
    if state is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the model and data are not loaded yet; see /readyz",
            headers={"Retry-After": "10"},
        )
    return state


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_prediction_log(request: Request) -> PredictionRecorder:
    return request.app.state.predictions


async def require_key(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> ApiKey:
    """The verified caller; 401 without a valid key. Cached keys cost no database access."""
    raw = api_key or (bearer.credentials if bearer is not None else None)
    challenge = {"WWW-Authenticate": "Bearer"}
    if not raw:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"missing API key: send it in the {API_KEY_HEADER} header or as "
            "'Authorization: Bearer <key>'",
            headers=challenge,
        )
    store: KeyStore = request.app.state.keys
    key = store.cached(raw)
    if key is None:
        key = await run_in_threadpool(store.verify, raw)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key", headers=challenge
        )
    request.state.key_id = key.key_id
    return key


SettingsDep = Annotated[Settings, Depends(app_settings)]
HolderDep = Annotated[StateHolder, Depends(get_holder)]
StateDep = Annotated[ServingState, Depends(get_state)]
SessionDep = Annotated[Session, Depends(get_session)]
PredictionLogDep = Annotated[PredictionRecorder, Depends(get_prediction_log)]
KeyDep = Annotated[ApiKey, Depends(require_key)]


def _role_checker(roles: frozenset[Role], action: str):
    async def check(key: KeyDep) -> ApiKey:
        if key.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {key.role.value} may not {action} (allowed: {allowed})",
            )
        return key

    return check


ReviewerDep = Annotated[ApiKey, Depends(_role_checker(REVIEWERS, "review plans"))]
AnalystDep = Annotated[ApiKey, Depends(_role_checker(RELOADERS, "reload the model"))]
IngesterDep = Annotated[ApiKey, Depends(_role_checker(INGESTERS, "send data"))]


def get_dataset_store(request: Request) -> DatasetStore:
    """The dataset store the app's state is built from (made at start-up)."""
    return request.app.state.dataset_store


DatasetStoreDep = Annotated[DatasetStore, Depends(get_dataset_store)]


def may_read(state: ServingState, key: ApiKey, nip: str) -> bool:
    """Whether `key` may see employee `nip`: keys that read everything, or a manager whose units
    (and their sub-units) hold them. `authorize_employee` as a yes/no."""
    if key.reads_all:
        return True
    return state.unit_of.get(nip) in state.scope_of(key.units)


def authorize_employee(state: ServingState, key: ApiKey, nip: str) -> None:
    """404 for an NIP not among active employees; 403 for a manager outside its units."""
    if not state.has(nip):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no active employee with this NIP")
    if not may_read(state, key, nip):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this employee is not in your units or their sub-units",
        )


def authorize_unit(state: ServingState, key: ApiKey, unit_id: str) -> None:
    """404 for an unknown unit; 403 for a manager asking about a unit outside its scope."""
    if unit_id not in state.unit_scope:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit with id {unit_id!r}")
    if key.reads_all:
        return
    if unit_id not in state.scope_of(key.units):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this unit is not one of your units or their sub-units"
        )
