"""Training paths for any budget and options, as the one-employee route and the bulk route
answer them.

What does not depend on the request (candidate scores, P(complete), expected gains, the risk,
the gaps and the mentor) is computed once per model and data version when the state loads
(`serving.state.ServingState.path_input`); a request only builds the path for its own JP
budget, excluded courses and allowed formats (`model.planner.DevelopmentPlanner.path`, numpy
over the employee's ~50 candidates) and serialises it. The default request is answered from
the body serialised at load (`DefaultAnswer`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from pydantic import ValidationError

from features import columns as c
from model.path_catalog import Catalog
from serving.schemas import TrainingPathPublic, TrainingPathRequest
from serving.state import DefaultAnswer, ServingState
from serving.strict_json import safe_error, short_echo


class UnknownCourses(ValueError):
    """Excluded course ids the catalog does not know (a typo would otherwise go unnoticed)."""

    def __init__(self, course_ids: Sequence[str]) -> None:
        self.course_ids = tuple(course_ids)
        shown = ", ".join(repr(x[:64]) for x in self.course_ids[:5])
        more = f" and {len(self.course_ids) - 5} more" if len(self.course_ids) > 5 else ""
        super().__init__(f"exclude_course_ids names courses not in the catalog: {shown}{more}")


@dataclass(frozen=True, slots=True)
class PathOptions:
    """What a request may choose about a path; None/empty means the default."""

    jp_budget: int | None = None
    top_k: int | None = None
    exclude_course_ids: tuple[str, ...] = ()
    modes: tuple[str, ...] | None = None

    @classmethod
    def of(cls, body: TrainingPathRequest) -> PathOptions:
        return cls(
            body.jp_budget,
            body.top_k,
            tuple(body.exclude_course_ids),
            None if body.modes is None else tuple(body.modes),
        )

    @property
    def restricts_catalog(self) -> bool:
        return bool(self.exclude_course_ids) or self.modes is not None


class PathAnswer(NamedTuple):
    """A served training path: the response body and what the prediction log records."""

    body: bytes
    course_ids: tuple[str, ...]
    scores: tuple[float, ...]
    risk: float | None


def restricted_catalog(
    catalog: Catalog, exclude: Sequence[str], modes: Sequence[str] | None
) -> Catalog:
    """The catalog with the excluded courses and the courses of other formats unavailable."""
    unavailable = np.zeros(catalog.n_courses, dtype=bool)
    if exclude:
        index = catalog.course_index
        unknown = [cid for cid in dict.fromkeys(exclude) if cid not in index]
        if unknown:
            raise UnknownCourses(unknown)
        unavailable[[index[cid] for cid in exclude]] = True
    if modes is not None:
        unavailable |= ~np.isin(np.asarray(catalog.modes, dtype=object), list(modes))
    return catalog.without(unavailable)


def precomputed(state: ServingState, nip: str, options: PathOptions) -> DefaultAnswer | None:
    """The answer serialised at load when the request asks for exactly it: the default budget,
    no restriction and a `top_k` that does not cut the path."""
    if options.restricts_catalog:
        return None
    if options.jp_budget is not None and options.jp_budget != state.default_jp_budget:
        return None
    answer = state.cached_answer(nip)
    if answer is None or (options.top_k is not None and options.top_k < len(answer.course_ids)):
        return None
    return answer


def is_cheap(state: ServingState, nip: str) -> bool:
    """True when `training_path_answer` runs no estimator for `nip` (safe on the event loop)."""
    return state.has_path_input(nip) and state.cached_plan(nip) is not None


def _score(value: Any) -> float:
    return float("nan") if value is None else float(value)


def training_path_answer(state: ServingState, nip: str, options: PathOptions) -> PathAnswer:
    """The training path of an active employee the caller may read, for these options.

    Raises `UnknownCourses` for an excluded id the catalog lacks. Blocking only when
    `is_cheap` is False (an employee beyond the precomputed ones): then call it from a thread.
    """
    answer = precomputed(state, nip, options)
    if answer is not None:
        return PathAnswer(answer.training_path_body, answer.course_ids, answer.scores, answer.risk)
    catalog = None
    if options.restricts_catalog:
        catalog = restricted_catalog(state.catalog, options.exclude_course_ids, options.modes)
    budget = state.default_jp_budget if options.jp_budget is None else options.jp_budget
    plan = state.plan(nip, budget, catalog)
    steps = plan["training_path"]
    shown = steps if options.top_k is None else steps[: options.top_k]
    result = TrainingPathPublic.from_plan(
        {**plan, "training_path": shown, "total_jp": sum(int(s[c.HOURS_JP]) for s in shown)},
        state.as_of.date(),
        budget,
        risk_reasons=state.risk_reasons(nip),
        truncated=len(shown) < len(steps),
    )
    return PathAnswer(
        result.model_dump_json().encode(),
        tuple(str(s[c.COURSE_ID]) for s in shown),
        tuple(_score(s["score"]) for s in shown),
        plan["participation_risk"],
    )


# --- many employees in one call -------------------------------------------------------------------

NOT_FOUND = "no active employee with this NIP"
FORBIDDEN = "this employee is not in your units or their sub-units"


class BulkLine(NamedTuple):
    """One line of a bulk answer, and the path to record when it is one."""

    line: bytes
    nip: str | None
    answer: PathAnswer | None


def _error_line(index: int, status: int, nip: Any, detail: Any) -> BulkLine:
    shown = short_echo(nip) if isinstance(nip, str) else None
    body = {"index": index, "status": status, "nip": shown, "detail": detail}
    return BulkLine(json.dumps(body, ensure_ascii=False).encode() + b"\n", None, None)


def bulk_line(
    state: ServingState, may_read: Callable[[str], bool], index: int, item: Any
) -> BulkLine:
    """The answer to one item of a bulk request: its path, or its own error (never raises for
    bad input, so one bad item does not fail the others)."""
    nip = item.get("nip") if isinstance(item, dict) else None
    try:
        body = TrainingPathRequest.model_validate(item)
    except ValidationError as exc:
        errors = [safe_error(e) for e in exc.errors(include_url=False)]
        return _error_line(index, 422, nip, errors)
    if not state.has(body.nip):
        return _error_line(index, 404, body.nip, NOT_FOUND)
    if not may_read(body.nip):
        return _error_line(index, 403, body.nip, FORBIDDEN)
    try:
        answer = training_path_answer(state, body.nip, PathOptions.of(body))
    except UnknownCourses as exc:
        return _error_line(index, 422, body.nip, str(exc))
    head = b'{"index":%d,"status":200,"result":' % index
    return BulkLine(head + answer.body + b"}\n", body.nip, answer)
