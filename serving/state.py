"""What the service answers from: the champion planner and the data view, built once per load.

A `ServingState` is complete before anyone sees it (view, unit tree, mentor assignments,
per-employee row index) and is never modified afterwards except for its caches.
`serving.state_holder.StateHolder` keeps the one reference the request handlers read and swaps
in the new state a reload built.

The common requests (an employee's plan or training path at the default JP budget) are answered
from JSON bodies serialised here at load (`DefaultAnswer`): a request then costs a dict lookup,
the key check and one prediction-log record, not a pydantic validation of a large model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from features import columns as c
from features.as_of import latest_date  # noqa: F401 - re-exported for callers
from features.plan_input import EmployeeView
from model.mentor_eligibility import subunit_scope
from model.path_catalog import Catalog
from model.path_table import PathTable
from model.planner import PathInput
from serving.schemas import PlanPublic, RiskReasonPublic, nip_problem

logger = logging.getLogger("kompeten.serving")
#: The registry alias the service serves.
CHAMPION = "champion"
#: Where a state's model came from (`ServingState.model_source`, shown by /readyz).
FROM_REGISTRY = "registry"
FROM_LOCAL_COPY = "local_copy"

_EMPTY = np.zeros(0, dtype=np.intp)


class LruCache:
    """A small thread-safe least-recently-used map (handlers and the reload thread share it)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = int(maxsize)
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data


def _positions(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    if not len(frame):
        return {}
    groups = frame.groupby(frame[c.NIP].astype(str).to_numpy(), sort=False).indices
    return {str(k): np.asarray(v, dtype=np.intp) for k, v in groups.items()}


@dataclass(frozen=True)
class _RowIndex:
    """Row positions of each employee in the view's frames: one-employee views in O(own rows)."""

    employee: dict[str, int]
    competency: dict[str, np.ndarray]
    completed: dict[str, np.ndarray]
    ongoing: dict[str, np.ndarray]

    @classmethod
    def of(cls, view: EmployeeView) -> _RowIndex:
        nips = view.employees[c.NIP].astype(str).tolist()
        return cls(
            {nip: i for i, nip in enumerate(nips)},
            _positions(view.competency),
            _positions(view.completed),
            _positions(view.ongoing),
        )


# --- precomputed answers --------------------------------------------------------------------------

_RISK_REASONS = TypeAdapter(list[RiskReasonPublic])


class DefaultAnswer(NamedTuple):
    """One employee's answers at the default JP budget, serialised once at load.

    `plan_body` is the `PlanPublic` JSON. The `TrainingPathPublic` JSON is the same object with
    two more fields at the end, so it is built by appending `risk_suffix` rather than stored
    twice. The rest is what the prediction log records for the full path.
    """

    plan_body: bytes
    risk_suffix: bytes
    course_ids: tuple[str, ...]
    scores: tuple[float, ...]
    risk: float | None

    @property
    def training_path_body(self) -> bytes:
        return self.plan_body[:-1] + self.risk_suffix


def _score(value: Any) -> float:
    return float("nan") if value is None else float(value)


def default_answer(
    plan: dict[str, Any],
    as_of: date,
    jp_budget: int,
    risk_reasons: list[dict[str, Any]],
) -> DefaultAnswer | None:
    """The serialised answers for one default-budget plan; None when the API would not give
    the plan unchanged (an NIP the API rejects, a `total_jp` that is not the sum of the steps),
    so such requests take the general path."""
    steps = plan["training_path"]
    if nip_problem(str(plan[c.NIP])) is not None:
        return None
    if int(plan["total_jp"]) != sum(int(s["hours_jp"]) for s in steps):
        return None
    body = PlanPublic.from_plan(plan, as_of, jp_budget).model_dump_json().encode()
    reasons = _RISK_REASONS.dump_json(_RISK_REASONS.validate_python(risk_reasons))
    return DefaultAnswer(
        plan_body=body,
        risk_suffix=b',"risk_reasons":' + reasons + b',"truncated":false}',
        course_ids=tuple(str(s["course_id"]) for s in steps),
        scores=tuple(_score(s["score"]) for s in steps),
        risk=plan["participation_risk"],
    )


# --- the state ------------------------------------------------------------------------------------

#: Employees planned per batch at load time (bounds the memory of one planner call).
PLAN_CHUNK = 5_000
#: Mentors kept per employee in the ranking cache (requests slice it to their top_k).
RANKING_DEPTH = 50


@dataclass(frozen=True, eq=False)
class ServingState:
    """One loaded (model version, dataset) pair with everything precomputed for requests.

    Build it with `build_state`. Lookups come in pairs: `cached_*` answers from memory or
    returns None (cheap enough for the event loop); the plain method computes what is missing
    (blocking: call it from a worker thread) and caches it. Returned dicts and frames are shared
    by the caches: callers treat them as read-only.
    """

    planner: Any
    model_name: str
    model_version: str
    view: EmployeeView
    data_signature: str
    unit_names: Mapping[str, str]
    unit_scope: Mapping[str, frozenset[str]]
    unit_of: Mapping[str, str]
    mentor_pairs: pd.DataFrame | None
    loaded_at: datetime
    load_seconds: float
    #: The plan policy when a request names none: JP budget and mentees per mentor.
    default_jp_budget: int
    default_capacity: int
    _index: _RowIndex = field(repr=False)
    _mentor_rows: Mapping[str, int] = field(repr=False)
    _unit_members: Mapping[str, tuple[str, ...]] = field(repr=False)
    _risk_reasons: Mapping[str, list[dict[str, Any]]] = field(repr=False)
    _default_plans: dict[str, dict[str, Any]] = field(repr=False)
    _answers: dict[str, DefaultAnswer] = field(repr=False)
    _plans: LruCache = field(repr=False)
    #: Path inputs (candidates, P(complete), gains, risk) of the precomputed employees, packed;
    #: the others' are computed on first request and kept in `_inputs`.
    _paths: PathTable = field(repr=False)
    _catalog: Catalog = field(repr=False)
    _inputs: LruCache = field(repr=False)
    #: (prepared path, participation risk) of recently asked employees: the prepared path is
    #: `DevelopmentPlanner.prepare_path` on the full catalog, a few KB each, so bounded apart.
    _prepared: LruCache = field(repr=False)
    _rankings: LruCache = field(repr=False)
    _assignments: LruCache = field(repr=False)
    model_source: str = FROM_REGISTRY
    source_note: str | None = None

    @property
    def as_of(self) -> pd.Timestamp:
        return self.view.as_of

    @property
    def catalog(self) -> Catalog:
        """The planner's course catalog (read once: the planner's property checks fitting)."""
        return self._catalog

    @property
    def n_employees(self) -> int:
        return len(self._index.employee)

    @property
    def has_mentors(self) -> bool:
        return getattr(self.planner, "mentor_scorer", None) is not None

    def has(self, nip: str) -> bool:
        return nip in self._index.employee

    def scope_of(self, units: Sequence[str] | frozenset[str]) -> frozenset[str]:
        """The units and all their sub-units (unknown units contribute nothing)."""
        out: set[str] = set()
        for unit in units:
            out |= self.unit_scope.get(unit, frozenset())
        return frozenset(out)

    def employee_view(self, nip: str) -> EmployeeView:
        """The view restricted to one employee, from precomputed row positions."""
        idx = self._index
        view = self.view

        def rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
            return frame.iloc[positions].reset_index(drop=True)

        return EmployeeView(
            view.as_of,
            view.employees.iloc[[idx.employee[nip]]].reset_index(drop=True),
            rows(view.competency, idx.competency.get(nip, _EMPTY)),
            rows(view.completed, idx.completed.get(nip, _EMPTY)),
            rows(view.ongoing, idx.ongoing.get(nip, _EMPTY)),
        )

    def mentor_of(self, nip: str) -> pd.DataFrame | None:
        """This employee's row of the whole-view mentor assignment (empty if unassigned)."""
        if self.mentor_pairs is None:
            return None
        row = self._mentor_rows.get(nip)
        return self.mentor_pairs.iloc[[] if row is None else [row]]

    # -- plans --

    def _budget(self, jp_budget: int | None) -> int:
        return self.default_jp_budget if jp_budget is None else int(jp_budget)

    def cached_plan(self, nip: str, jp_budget: int | None = None) -> dict[str, Any] | None:
        budget = self._budget(jp_budget)
        if budget == self.default_jp_budget:
            found = self._default_plans.get(nip)
            if found is not None:
                return found
        return self._plans.get((nip, budget))

    def cached_answer(self, nip: str) -> DefaultAnswer | None:
        """The serialised default-budget answers of `nip` (None beyond the precomputed plans)."""
        return self._answers.get(nip)

    def plan(
        self, nip: str, jp_budget: int | None = None, catalog: Catalog | None = None
    ) -> dict[str, Any]:
        """The plan of one employee at a JP budget (default: `default_jp_budget`), optionally
        on a restricted catalog (`Catalog.without`: courses a caller rules out).

        Only the path is built here, from the employee's precomputed path inputs: no estimator
        runs and no frame is built, so any budget costs about a millisecond. Gaps, mentor and
        risk are the default plan's (they do not depend on the budget); the mentor comes from
        the assignment over the whole view made at load time, so every plan agrees on who
        mentors whom.
        """
        budget = self._budget(jp_budget)
        base = self._default_plans.get(nip)
        if base is None:
            base = self._computed_default(nip)
        if budget == self.default_jp_budget and catalog is None:
            return base
        if catalog is None:  # the common case: keep the budget-independent part of the path
            kept = self._prepared.get(nip)
            if kept is None:
                entry = self.path_input(nip)
                kept = (self.planner.prepare_path(entry, self.catalog), entry.participation_risk)
                self._prepared.put(nip, kept)
            prepared, risk = kept
            path = self.planner.prepared_path(prepared, budget)
        else:
            entry = self.path_input(nip)
            path, risk = self.planner.path(entry, budget, catalog), entry.participation_risk
        return self.planner.plan_entry(
            nip, path, base["gaps"], base["mentor"], risk, self.model_version
        )

    def _computed_default(self, nip: str) -> dict[str, Any]:
        """The default plan of an employee beyond the precomputed ones (then cached)."""
        key = (nip, self.default_jp_budget)
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        one = self.employee_view(nip)
        entry = self.path_input(nip, one)
        plans = self.planner.plans_from_inputs(
            one,
            {nip: entry},
            self.default_jp_budget,
            self.mentor_of(nip),
            self.model_version,
        )
        self._plans.put(key, plans[0])
        return plans[0]

    def has_path_input(self, nip: str) -> bool:
        """True when `nip`'s path input is at hand (no estimator runs for their path)."""
        return nip in self._paths or nip in self._inputs

    def cached_path_input(self, nip: str) -> PathInput | None:
        found = self._paths.entry(nip)
        return found if found is not None else self._inputs.get(nip)

    def path_input(self, nip: str, view: EmployeeView | None = None) -> PathInput:
        """What `nip`'s path depends on besides the budget (precomputed, else computed once:
        blocking, call it from a worker thread)."""
        found = self.cached_path_input(nip)
        if found is not None:
            return found
        one = self.employee_view(nip) if view is None else view
        entry = self.planner.path_inputs(one, self.planner.risks(one))[nip]
        self._inputs.put(nip, entry)
        return entry

    def _plan_all(self, nips: Sequence[str]) -> None:
        """Default-budget plans for `nips`, in batches (one candidate scoring per chunk).

        Only called while the state is being built, before anyone can read it: the dicts it
        fills are read-only afterwards. Each chunk's path inputs are packed into `_paths`, so
        any later budget or option only rebuilds the path; each default plan's response bodies
        are serialised here too (`DefaultAnswer`).
        """
        budget = self.default_jp_budget
        as_of = self.as_of.date()
        inputs: dict[str, PathInput] = {}
        for lo in range(0, len(nips), PLAN_CHUNK):
            chunk = list(nips[lo : lo + PLAN_CHUNK])
            pairs = self.mentor_pairs
            if pairs is not None:
                pairs = pairs.loc[pairs["mentee_nip"].isin(chunk)]
            sub = self.view.subset(chunk)
            found = self.planner.path_inputs(sub, self.planner.risks(sub))
            inputs.update(found)
            plans = self.planner.plans_from_inputs(sub, found, budget, pairs, self.model_version)
            for plan in plans:
                nip = str(plan[c.NIP])
                self._default_plans[nip] = plan
                answer = default_answer(plan, as_of, budget, self.risk_reasons(nip))
                if answer is not None:
                    self._answers[nip] = answer
        object.__setattr__(self, "_paths", PathTable(inputs))

    # -- risk reasons --

    def risk_reasons(self, nip: str) -> list[dict[str, Any]]:
        """Why this employee's participation risk is what it is, strongest first (precomputed)."""
        return self._risk_reasons.get(nip, [])

    # -- mentors --

    def cached_mentor_ranking(self, nip: str, top_k: int) -> pd.DataFrame | None:
        ranked = self._rankings.get(nip)
        return None if ranked is None else ranked.head(top_k)

    def mentor_ranking(self, nip: str, top_k: int) -> pd.DataFrame:
        """Eligible mentors of one employee over the whole view, best first."""
        ranked = self._rankings.get(nip)
        if ranked is None:
            ranked = self.planner.rank_mentors(self.view, nip, top_k=RANKING_DEPTH)
            self._rankings.put(nip, ranked)
        return ranked.head(top_k)

    def unit_members(self, unit_id: str) -> tuple[str, ...]:
        """Active employees of a unit and its sub-units, in view order."""
        return self._unit_members.get(unit_id, ())

    def cached_assignment(self, unit_id: str, capacity: int | None = None) -> pd.DataFrame | None:
        cap = self.default_capacity if capacity is None else int(capacity)
        return self._assignments.get((unit_id, cap))

    def assignment(self, unit_id: str, capacity: int | None = None) -> pd.DataFrame:
        """Optimal mentor assignment among the employees of a unit and its sub-units."""
        cap = self.default_capacity if capacity is None else int(capacity)
        cached = self._assignments.get((unit_id, cap))
        if cached is not None:
            return cached
        members = self.unit_members(unit_id)
        if not members or not self.has_mentors:
            result = _empty_assignment()
        else:
            result = self.planner.mentors(self.view.subset(list(members)), capacity=cap)
        self._assignments.put((unit_id, cap), result)
        return result


def _empty_assignment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mentee_nip": pd.Series([], dtype=str),
            "mentor_nip": pd.Series([], dtype=str),
            c.COMPETENCY_ID: pd.Series([], dtype=str),
            "score": pd.Series([], dtype=float),
            "reason_id": pd.Series([], dtype=str),
            "reason_en": pd.Series([], dtype=str),
        }
    )


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def risk_reason_lists(planner: Any, view: EmployeeView, top: int = 3) -> dict[str, list[dict]]:
    """Every employee's risk reasons in one batch call, as plain dicts per NIP."""
    risk_model = getattr(planner, "risk_model", None)
    if risk_model is None or not hasattr(risk_model, "risk_reasons") or not len(view.employees):
        return {}
    frame = risk_model.risk_reasons(view, top=top)
    out: dict[str, list[dict]] = {}
    for row in frame.to_dict("records"):
        out.setdefault(str(row[c.NIP]), []).append(
            {
                "code": _text(row.get("reason")),
                "detail": _text(row.get("detail")) or None,
                "risk_delta": row.get("risk_delta"),
                "text_id": _text(row.get("text_id")),
                "text_en": _text(row.get("text_en")),
            }
        )
    return out


def prepare_planner(planner: Any) -> Any:
    """Serving-time settings of a loaded planner that do not change any prediction.

    The risk model limits BLAS/OpenMP threads around every predict call (right for training
    on a shared machine); the limit costs ~10 ms a call, which is the whole budget of a
    request, and a one-row predict gains nothing from it.
    """
    risk_model = getattr(planner, "risk_model", None)
    if risk_model is not None and "n_threads" in risk_model.get_params(deep=False):
        risk_model.set_params(n_threads=None)
    return planner


def build_state(
    planner: Any,
    model_version: str,
    view: EmployeeView,
    units: pd.DataFrame,
    *,
    model_name: str = "kompeten-planner",
    signature: str = "",
    plan_cache_size: int = 50_000,
    assignment_cache_size: int = 256,
    jp_budget: int | None = None,
    mentor_capacity: int | None = None,
    precompute: bool = True,
    prepared_cache_size: int = 10_000,
) -> ServingState:
    """Everything a request needs, computed now so requests only look things up.

    Always: the per-employee row index, the unit tree, the whole-view mentor assignment (used
    by plans) and every employee's risk reasons. With `precompute`: each unit's mentor
    assignment at the default capacity and the default plans of up to `plan_cache_size`
    employees (batch planning costs about as much as planning one employee alone), with their
    response bodies serialised. `jp_budget` / `mentor_capacity` are the defaults requests
    get (the service passes `Settings.jp_budget` / `mentor_capacity`); None: the planner's own.
    """
    start = time.perf_counter()
    prepare_planner(planner)
    employees = view.employees
    nips = employees[c.NIP].astype(str).tolist()
    unit_col = employees[c.UNIT_ID].astype(str).tolist()
    unit_of = dict(zip(nips, unit_col, strict=True))
    scope = subunit_scope(units)
    names = dict(
        zip(units[c.UNIT_ID].astype(str), units[c.NAME].astype(str).fillna(""), strict=True)
    )
    nip_arr = np.asarray(nips, dtype=object)
    unit_arr = np.asarray(unit_col, dtype=object)
    members = {
        unit: tuple(nip_arr[np.isin(unit_arr, list(covered))].tolist())
        for unit, covered in scope.items()
    }
    mentor_pairs = None
    mentor_rows: dict[str, int] = {}
    budget = int(planner.jp_budget if jp_budget is None else jp_budget)
    capacity = int(planner.mentor_capacity if mentor_capacity is None else mentor_capacity)
    if getattr(planner, "mentor_scorer", None) is not None:
        mentor_pairs = planner.mentors(view, capacity=capacity).reset_index(drop=True)
        mentees = mentor_pairs["mentee_nip"].astype(str).tolist()
        mentor_rows = {nip: i for i, nip in enumerate(mentees)}
    state = ServingState(
        planner=planner,
        model_name=model_name,
        model_version=str(model_version),
        view=view,
        data_signature=signature,
        unit_names=names,
        unit_scope=scope,
        unit_of=unit_of,
        mentor_pairs=mentor_pairs,
        loaded_at=datetime.now(UTC),
        load_seconds=0.0,
        default_jp_budget=budget,
        default_capacity=capacity,
        _index=_RowIndex.of(view),
        _mentor_rows=mentor_rows,
        _unit_members=members,
        _risk_reasons=risk_reason_lists(planner, view),
        _default_plans={},
        _answers={},
        _plans=LruCache(plan_cache_size),
        _paths=PathTable({}),
        _catalog=planner.catalog,
        _inputs=LruCache(plan_cache_size),
        _prepared=LruCache(prepared_cache_size),
        _rankings=LruCache(plan_cache_size),
        _assignments=LruCache(max(assignment_cache_size, 2 * len(scope) if precompute else 0)),
    )
    if precompute:
        for unit in scope:
            state.assignment(unit)
        state._plan_all(nips[:plan_cache_size])
    return replace(state, load_seconds=time.perf_counter() - start)
