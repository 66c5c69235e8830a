"""The development planner: one object bundling recommender, risk model and mentor scorer.

It turns an `EmployeeView` into development plans in the shape HR systems receive (gaps,
ordered training path with reasons, mentor, participation risk). This is what travels inside
the registered MLflow pyfunc `kompeten-planner` (`training_pipeline/planner_model.py`, the
file format in `model.bundle`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from features import columns as c
from features.competency import CURRENT_LEVEL, GAP, REQUIRED, WEIGHTED_GAP
from features.plan_input import EmployeeView, from_plan_input
from model import reasons
from model.path_builder import PreparedPath, build_prepared_path, prepare_path
from model.path_catalog import Catalog
from model.path_inputs import Candidates, EmployeeState, PathStep, candidates_from_frame
from model.plan_rules import course_history

#: Columns of `plan_frame` output (the pyfunc's output): lists as JSON strings.
PLAN_COLUMNS = (
    c.NIP,
    "gaps",
    "training_path",
    "total_jp",
    "mentor",
    "participation_risk",
    "risk_note_id",
    "risk_note_en",
    "model_version",
)


class PathInput(NamedTuple):
    """What one employee's training path depends on besides the budget and the catalog:
    their state, their scored candidates, the participation risk that adapts the path (None:
    no adaptation) and the predicted risk itself (NaN without a risk model), which the plan
    reports and its risk note reads."""

    state: EmployeeState
    candidates: Candidates
    risk: float | None
    participation_risk: float = math.nan


class DevelopmentPlanner:
    """Fitted recommender + risk model + mentor scorer, and the rules that make a plan.

    Parameters are the plan policy: `jp_budget` (default 40 JP), `min_jp` (20 JP a year, PP
    11/2017 Pasal 203(4)), `risk_threshold` above which formats people do complete are preferred,
    `mentor_capacity` (mentees per mentor), and `risk_adaptation` / mentors switches used by
    the ablations. `level_drift` (intercept, slope: the yearly change of an untrained measured
    level, `model.benefit.fit_level_drift`) makes the paths aim at the gap from E[level |
    measured] instead of the noisy measured level; None aims at the measured gap.
    """

    def __init__(
        self,
        recommender: Any,
        risk_model: Any | None,
        mentor_scorer: Any | None,
        *,
        jp_budget: int = 40,
        min_jp: int = c.MIN_JP_PER_YEAR,
        risk_threshold: float = 0.5,
        mentor_capacity: int = 3,
        risk_adaptation: bool = True,
        model_version: str | None = None,
        level_drift: tuple[float, float] | None = None,
    ) -> None:
        self.recommender = recommender
        self.risk_model = risk_model
        self.mentor_scorer = mentor_scorer
        self.jp_budget = jp_budget
        self.min_jp = min_jp
        self.risk_threshold = risk_threshold
        self.mentor_capacity = mentor_capacity
        self.risk_adaptation = risk_adaptation
        self.model_version = model_version
        self.level_drift = level_drift

    @property
    def competency_names(self) -> dict[str, str]:
        """Competency id -> name, for reasons people read."""
        cat = self.catalog
        return dict(zip(cat.competency_ids, cat.competency_names, strict=True))

    @property
    def catalog(self) -> Catalog:
        check_is_fitted(self.recommender)
        return self.recommender.catalog_

    # --- pieces ---------------------------------------------------------------------------------

    def risks(self, view: EmployeeView) -> pd.Series:
        """Participation risk per NIP (NaN when there is no risk model)."""
        nips = view.employees[c.NIP].astype(str)
        if self.risk_model is None or len(nips) == 0:
            return pd.Series(np.nan, index=pd.Index(nips, name=c.NIP), dtype=float)
        risk = self.risk_model.predict_risk(view)
        return risk.reindex(pd.Index(nips, name=c.NIP)).astype(float)

    def path_inputs(
        self,
        view: EmployeeView,
        risks: pd.Series | None = None,
        scored: pd.DataFrame | None = None,
    ) -> dict[str, PathInput]:
        """What the path of each employee of the view depends on besides the budget: their
        state (gaps, history, aimed-at levels), scored candidates and the risk that adapts it.

        Computed in batch (one candidate scoring for the view); `path` then builds a path for
        any budget from one entry without touching an estimator.
        """
        catalog = self.catalog
        if scored is None and hasattr(self.recommender, "score_candidates"):
            candidates = self.recommender.score_candidates(view, catalog)
        else:
            if scored is None:
                scored = self.recommender.score(view)
            candidates = candidates_from_frame(scored, catalog)
        states = with_expected_levels(
            employee_states_from_view(view), getattr(self, "level_drift", None)
        )
        risk_map: dict[str, float] = {}
        if risks is not None:
            risk_map = {k: float(v) for k, v in risks.items() if not math.isnan(float(v))}
        adapt = self.risk_adaptation
        empty = Candidates.empty()
        return {
            s.nip: PathInput(
                s,
                candidates.get(s.nip, empty),
                risk_map.get(s.nip) if adapt else None,
                risk_map.get(s.nip, math.nan),
            )
            for s in states
        }

    def prepare_path(self, entry: PathInput, catalog: Catalog | None = None) -> PreparedPath:
        """The budget-independent part of `path` for one employee (keep it to build paths for
        many budgets on the same catalog)."""
        return prepare_path(
            entry.state,
            entry.candidates,
            self.catalog if catalog is None else catalog,
            entry.risk,
            self.risk_threshold,
        )

    def path(
        self,
        entry: PathInput,
        jp_budget: int | None = None,
        catalog: Catalog | None = None,
        prepared: PreparedPath | None = None,
    ) -> list[PathStep]:
        """One employee's training path at a JP budget, from their `path_inputs` entry.

        `catalog` replaces the fitted one, e.g. `Catalog.without(...)` for courses a caller
        excludes; it must index the same courses. `prepared` is `prepare_path(entry, catalog)`
        computed earlier (the same path, without preparing it again).
        """
        x = self.prepare_path(entry, catalog) if prepared is None else prepared
        return self.prepared_path(x, jp_budget)

    def prepared_path(self, prepared: PreparedPath, jp_budget: int | None = None) -> list[PathStep]:
        """`path` from a `prepare_path` result alone (what a request at another budget needs)."""
        budget = self.jp_budget if jp_budget is None else int(jp_budget)
        return build_prepared_path(prepared, budget, min(self.min_jp, budget))

    def paths(
        self,
        view: EmployeeView,
        jp_budget: int | None = None,
        risks: pd.Series | None = None,
        scored: pd.DataFrame | None = None,
    ) -> dict[str, list[PathStep]]:
        """Training path per NIP of the view."""
        inputs = self.path_inputs(view, risks, scored)
        return {nip: self.path(entry, jp_budget) for nip, entry in inputs.items()}

    def mentors(
        self, view: EmployeeView, capacity: int | None = None, **rules: Any
    ) -> pd.DataFrame:
        """Optimal mentor assignment among the employees of the view (one mentor per mentee)."""
        from model.mentor_pairing import pair_mentors

        if self.mentor_scorer is None:
            raise ValueError("this planner has no mentor scorer")
        cap = self.mentor_capacity if capacity is None else int(capacity)
        rules.setdefault("competency_names", self.competency_names)
        return pair_mentors(view, self.mentor_scorer, capacity=cap, **rules)

    def rank_mentors(self, view: EmployeeView, nip: str, top_k: int = 5) -> pd.DataFrame:
        """Eligible mentors of one employee, best first, with scores and reasons."""
        from model.mentor_pairing import rank_mentors

        if self.mentor_scorer is None:
            raise ValueError("this planner has no mentor scorer")
        return rank_mentors(
            view, self.mentor_scorer, nip, top_k=top_k, competency_names=self.competency_names
        )

    # --- plans ----------------------------------------------------------------------------------

    def plan(
        self,
        view: EmployeeView,
        nips: Sequence[str] | None = None,
        jp_budget: int | None = None,
        mentor_capacity: int | None = None,
        with_mentors: bool = True,
        mentor_pairs: pd.DataFrame | None = None,
        model_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """Plans (dicts in the API's shape) for the employees of the view, or for `nips`.

        Mentors are assigned jointly over the whole view (capacity is shared), unless
        `mentor_pairs` (an assignment computed earlier, e.g. per unit) is given.
        """
        target = view if nips is None else view.subset(list(nips))
        inputs = self.path_inputs(target, self.risks(target))
        if mentor_pairs is None and with_mentors and self.mentor_scorer is not None:
            mentor_pairs = self.mentors(view, capacity=mentor_capacity)
        return self.plans_from_inputs(target, inputs, jp_budget, mentor_pairs, model_version)

    def plans_from_inputs(
        self,
        view: EmployeeView,
        inputs: dict[str, PathInput],
        jp_budget: int | None = None,
        mentor_pairs: pd.DataFrame | None = None,
        model_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """`plan` from the view's `path_inputs`, computed earlier (e.g. kept by a service)."""
        by_mentee = mentor_dicts(mentor_pairs)
        gaps = gap_lists(view)
        version = model_version if model_version is not None else self.model_version
        out = []
        for nip in view.employees[c.NIP].astype(str):
            entry = inputs[nip]
            path = self.path(entry, jp_budget)
            mentor = by_mentee.get(nip)
            risk = entry.participation_risk
            out.append(self.plan_entry(nip, path, gaps.get(nip, []), mentor, risk, version))
        return out

    def plan_entry(
        self,
        nip: str,
        path: Sequence[PathStep],
        gaps: list[dict[str, Any]],
        mentor: dict[str, Any] | None,
        risk: float | None,
        model_version: str | None,
    ) -> dict[str, Any]:
        """One plan dict in the API's shape (what `plan` returns per employee)."""
        note_id, note_en = _risk_note(risk, self.risk_threshold, path)
        return {
            c.NIP: nip,
            "gaps": gaps,
            "training_path": [step_dict(s) for s in path],
            "total_jp": int(sum(s.hours_jp for s in path)),
            "mentor": mentor,
            "participation_risk": None if risk is None or pd.isna(risk) else round(float(risk), 4),
            "risk_note_id": note_id,
            "risk_note_en": note_en,
            "model_version": model_version,
        }

    def plan_frame(self, plan_input: pd.DataFrame, **params: Any) -> pd.DataFrame:
        """Pyfunc entry: plan-input frame in, one row per employee out (lists as JSON)."""
        if plan_input is None or len(plan_input) == 0:
            return pd.DataFrame(columns=list(PLAN_COLUMNS))
        view = from_plan_input(plan_input)
        plans = self.plan(
            view,
            jp_budget=params.get("jp_budget"),
            mentor_capacity=params.get("mentor_capacity"),
            with_mentors=bool(params.get("with_mentors", True)),
            model_version=params.get("model_version"),
        )
        rows = []
        for p in plans:
            rows.append(
                {
                    c.NIP: p[c.NIP],
                    "gaps": json.dumps(p["gaps"], ensure_ascii=False),
                    "training_path": json.dumps(p["training_path"], ensure_ascii=False),
                    "total_jp": p["total_jp"],
                    "mentor": json.dumps(p["mentor"], ensure_ascii=False),
                    "participation_risk": (
                        np.nan if p["participation_risk"] is None else p["participation_risk"]
                    ),
                    "risk_note_id": p["risk_note_id"] or "",
                    "risk_note_en": p["risk_note_en"] or "",
                    "model_version": p["model_version"] or "",
                }
            )
        return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


# --- helpers ------------------------------------------------------------------------------------


def employee_states_from_view(view: EmployeeView) -> list[EmployeeState]:
    """Path-builder states: required competencies with levels, completed and ongoing courses.

    Ongoing courses are never recommended again (recommending a course someone is attending is
    noise), but they do not satisfy a prerequisite: an ongoing course may still be dropped.
    """
    comp = view.competency
    req = comp.loc[comp[REQUIRED].to_numpy(dtype=bool)] if REQUIRED in comp else comp
    req = req.loc[req[c.REQUIRED_LEVEL].notna()]
    per: dict[str, dict[str, tuple[float | None, float]]] = {
        str(n): {} for n in view.employees[c.NIP]
    }
    for nip, k, cur, rl in zip(
        req[c.NIP].astype(str).tolist(),
        req[c.COMPETENCY_ID].astype(str).tolist(),
        req[CURRENT_LEVEL].tolist(),
        req[c.REQUIRED_LEVEL].tolist(),
        strict=True,
    ):
        if nip in per:
            per[nip][k] = (None if pd.isna(cur) else float(cur), float(rl))
    completed, ongoing = course_history(view)
    return [
        EmployeeState(nip, g, frozenset(completed.get(nip, ())), frozenset(ongoing.get(nip, ())))
        for nip, g in per.items()
    ]


def with_expected_levels(
    states: list[EmployeeState], drift: tuple[float, float] | None
) -> list[EmployeeState]:
    """States whose assessed levels also carry E[level | measured] = measured + drift(measured)
    (within the level scale), the level the path builder aims from; unchanged without drift."""
    if drift is None:
        return states
    a, b = float(drift[0]), float(drift[1])
    lo, hi = float(c.MIN_LEVEL_VALUE), float(c.MAX_LEVEL_VALUE)
    out = []
    for s in states:
        expected = {
            k: min(hi, max(lo, float(cur) + a + b * float(cur)))
            for k, (cur, _) in s.gaps.items()
            if cur is not None and not math.isnan(float(cur))
        }
        out.append(EmployeeState(s.nip, s.gaps, s.completed, s.ongoing, expected))
    return out


def mentor_dicts(mentor_pairs: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """Each mentee's assigned mentor in the API's shape, from a mentor assignment frame."""
    out: dict[str, dict[str, Any]] = {}
    if mentor_pairs is None or not len(mentor_pairs):
        return out
    for row in mentor_pairs.to_dict("records"):
        out[str(row["mentee_nip"])] = {
            "mentor_nip": str(row["mentor_nip"]),
            "competency_id": str(row[c.COMPETENCY_ID]),
            "score": _round(row["score"]),
            "reason_id": row.get("reason_id"),
            "reason_en": row.get("reason_en"),
        }
    return out


def gap_lists(view: EmployeeView) -> dict[str, list[dict[str, Any]]]:
    """Open gaps per NIP, largest weighted gap first, in the API's shape."""
    comp = view.competency
    open_ = comp.loc[(comp[GAP].to_numpy(dtype=float) > 0) & comp[c.REQUIRED_LEVEL].notna()]
    open_ = open_.sort_values([c.NIP, WEIGHTED_GAP], ascending=[True, False], kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    for nip, k, cur, rl, gap in zip(
        open_[c.NIP].astype(str).tolist(),
        open_[c.COMPETENCY_ID].astype(str).tolist(),
        open_[CURRENT_LEVEL].tolist(),
        open_[c.REQUIRED_LEVEL].tolist(),
        open_[GAP].tolist(),
        strict=True,
    ):
        out.setdefault(nip, []).append(
            {
                c.COMPETENCY_ID: k,
                "current_level": None if pd.isna(cur) else round(float(cur), 2),
                "required_level": int(rl),
                "gap": round(float(gap), 2),
                "assessed": not pd.isna(cur),
            }
        )
    return out


def step_dict(step: PathStep) -> dict[str, Any]:
    return {
        "order": step.order,
        c.COURSE_ID: step.course_id,
        "title": step.title,
        c.HOURS_JP: int(step.hours_jp),
        "competency_ids": list(step.competency_ids),
        "score": _round(step.score),
        "p_complete": None if step.p_complete is None else _round(step.p_complete),
        "reason_id": step.reason_id,
        "reason_en": step.reason_en,
        "prerequisite_for": list(step.is_prerequisite_for),
        "adapted_for_risk": bool(step.adapted_for_risk),
    }


def _round(value: Any, digits: int = 4) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def _risk_note(risk: float | None, threshold: float, path: Sequence[PathStep]) -> tuple[str, str]:
    """What the plan does about a high participation risk, in both languages."""
    if risk is None or pd.isna(risk) or float(risk) < threshold:
        return "", ""
    adapted = [s for s in path if s.adapted_for_risk]
    return reasons.risk_plan_note(float(risk), len(adapted))
