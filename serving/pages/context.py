"""What every page handler needs: the serving state, the directory, the viewer's scope.

The access rules are the API's (`serving.deps.authorize_unit` / `authorize_employee`); their
HTTP errors become HTML error pages here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from serving.deps import authorize_employee, authorize_unit
from serving.pages.directory import Directory, DirectoryCache
from serving.pages.errors import PageError, page_error_from
from serving.pages.session import Viewer
from serving.schemas import nip_problem
from serving.state import ServingState


def page_state(request: Request) -> ServingState:
    state = request.app.state.holder.state
    if state is None:
        raise PageError(503, "error_not_ready", {"Retry-After": "10"})
    return state


def directory_of(request: Request, state: ServingState) -> Directory:
    """The names and catalog of the state's dataset (blocking the first time)."""
    cache: DirectoryCache = request.app.state.pages_directory
    try:
        return cache.get(state)
    except Exception as exc:
        raise PageError(503, "error_directory", {"Retry-After": "30"}) from exc


@contextmanager
def database(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def root_units(state: ServingState, viewer: Viewer) -> list[str]:
    """The units a viewer starts from: a manager's own, everyone else's the tree's roots."""
    if not viewer.key.reads_all:
        return sorted(u for u in viewer.key.units if u in state.unit_scope)
    inner: set[str] = set()
    for unit, covered in state.unit_scope.items():
        inner |= covered - {unit}
    return sorted(u for u in state.unit_scope if u not in inner)


def check_unit(state: ServingState, viewer: Viewer, unit_id: str) -> None:
    try:
        authorize_unit(state, viewer.key, unit_id)
    except HTTPException as exc:
        raise page_error_from(exc) from exc


def check_employee(state: ServingState, viewer: Viewer, nip: str) -> None:
    if nip_problem(nip) is not None:
        raise PageError(404, "error_not_found")
    try:
        authorize_employee(state, viewer.key, nip)
    except HTTPException as exc:
        raise page_error_from(exc) from exc


def visible_subunits(state: ServingState, unit_id: str) -> list[tuple[str, str]]:
    """(id, name) of the unit and everything below it, by name, the unit itself first."""
    covered = state.unit_scope.get(unit_id, frozenset())
    others = sorted(covered - {unit_id}, key=lambda u: state.unit_names.get(u, u))
    return [(u, state.unit_names.get(u, u)) for u in [unit_id, *others]]


def common(viewer: Viewer, state: ServingState) -> dict[str, Any]:
    """Template context every signed-in page shares (the header's units and sign-out form)."""
    return {
        "viewer": viewer,
        "home_units": [(u, state.unit_names.get(u, u)) for u in root_units(state, viewer)],
    }
