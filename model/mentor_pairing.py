"""Mentor pairing: who needs a mentor, who may mentor them, and the best pairing overall.

1. `select_mentees`: employees with a competency gap, largest weighted gap first, each with one
   focus competency (their largest weighted gap).
2. `candidate_pairs`: the eligible (mentee, mentor) pairs under the hard rules of
   `model.mentor_eligibility`, scored by a `MentorPairScorer` (predicted benefit).
3. `pair_mentors`: the exact capacity-constrained assignment (`model.assignment.assign`) of
   those pairs, with a bilingual reason per pair. `rank_mentors` lists one employee's eligible
   mentors by score (for the API).

Baselines on the same candidate set and capacities, for evaluation: a random eligible mentor
(`random_pairing`) and the most highly assessed mentor (`highest_level_pairing`);
`pairing_benefit` totals any benefit (the scorer's, or a hidden truth in a benchmark) over a
pairing. Capacity counts ongoing mentorships: a mentor with capacity 3 and 2 ongoing
mentorships (`current_load` in the view) takes one more mentee.

Everything is vectorised over pairs; the only per-row Python is the reason text of the chosen
pairs (one per mentee).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features import mentor_vectors as mv
from features.competency import CURRENT_LEVEL, GAP, WEIGHTED_GAP
from features.mentor_pair_features import MentorPairArrays, headroom, lead_estimate, pair_matrix
from features.plan_input import EmployeeView
from model.assignment import BENEFIT, DEFAULT_CAPACITY, assign, greedy_assign
from model.mentor_eligibility import (
    MENTEE_COLUMNS,
    MENTEE_LEVEL,
    MENTOR_LEVEL,
    SAME_UNIT,
    eligible_pairs,
)
from model.mentor_scorer import DEFAULT_GAIN, EFFECT_FLOOR, MIN_CONFIDENCE, MentorPairScorer
from model.reasons import mentor_pair

SCORE = "score"
#: P(the mentor's level is truly above the mentee's) of a candidate pair.
P_AHEAD = "p_ahead"
REASON_ID = "reason_id"
REASON_EN = "reason_en"
RANK = "rank"
#: Output of `pair_mentors` / `rank_mentors` (the latter adds `RANK`).
PAIRING_COLUMNS = (c.MENTEE_NIP, c.MENTOR_NIP, c.COMPETENCY_ID, SCORE, REASON_ID, REASON_EN)
#: Output of `select_mentees`: the focus competency and its gap, one row per mentee.
SELECTED_COLUMNS = (c.NIP, c.COMPETENCY_ID, CURRENT_LEVEL, c.REQUIRED_LEVEL, GAP, WEIGHTED_GAP)

#: Pairs scored per batch (bounds the memory of the feature matrix, not the result).
_SCORE_BATCH = 1_000_000


def select_mentees(
    view: EmployeeView,
    *,
    nips: Iterable[str] | None = None,
    units: Iterable[str] | None = None,
    min_gap: float = 0.0,
) -> pd.DataFrame:
    """Employees with a gap above `min_gap`, largest weighted gap first (`SELECTED_COLUMNS`).

    Each gets one focus competency, their largest weighted gap (ties: the larger raw gap, then
    the competency id). `nips` / `units` restrict the employees considered.
    """
    comp = view.competency
    gap = comp[GAP].to_numpy(dtype=np.float64, na_value=0.0)
    keep = gap > min_gap
    if nips is not None:
        keep &= comp[c.NIP].isin(pd.Index(list(nips))).to_numpy()
    if units is not None:
        in_units = view.employees.loc[view.employees[c.UNIT_ID].isin(list(units)), c.NIP]
        keep &= comp[c.NIP].isin(in_units).to_numpy()
    rows = comp.loc[keep, list(SELECTED_COLUMNS)]
    rows = rows.sort_values(
        [WEIGHTED_GAP, GAP, c.NIP, c.COMPETENCY_ID],
        ascending=[False, False, True, True],
        kind="stable",
    )
    best = rows.drop_duplicates(c.NIP, keep="first")
    return best.reset_index(drop=True)


def _mentee_frame(view: EmployeeView, selected: pd.DataFrame) -> pd.DataFrame:
    """`selected` with the attributes the eligibility rules read (`MENTEE_COLUMNS`)."""
    emp = view.employees.set_index(c.NIP)
    nips = selected[c.NIP]
    frame = pd.DataFrame(
        {
            c.NIP: nips.array,
            c.COMPETENCY_ID: selected[c.COMPETENCY_ID].array,
            c.LEVEL: selected[CURRENT_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan),
            c.REQUIRED_LEVEL: selected[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64),
        }
    )
    for col in (c.UNIT_ID, c.GRADE, c.TMT_CPNS, c.SUPERVISOR_NIP):
        frame[col] = emp[col].reindex(nips).to_numpy()
    return frame[list(MENTEE_COLUMNS)]


def _mentor_frames(view: EmployeeView) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every employee of the view as a potential mentor, and their assessed levels."""
    emp = view.employees
    mentors = pd.DataFrame(
        {
            c.NIP: emp[c.NIP].array,
            c.ACTIVE: np.ones(len(emp), dtype=bool),  # the view holds active employees only
            c.UNIT_ID: emp[c.UNIT_ID].array,
            c.GRADE: emp[c.GRADE].to_numpy(dtype=np.float64, na_value=np.nan),
            c.TMT_CPNS: emp[c.TMT_CPNS].to_numpy(),
        }
    )
    comp = view.competency
    assessed = comp[CURRENT_LEVEL].notna().to_numpy()
    levels = pd.DataFrame(
        {
            c.NIP: comp[c.NIP].array[assessed],
            c.COMPETENCY_ID: comp[c.COMPETENCY_ID].array[assessed],
            c.LEVEL: comp[CURRENT_LEVEL].to_numpy(dtype=np.float64)[assessed],
        }
    )
    return mentors, levels


def _scores(
    arrays: MentorPairArrays, scorer: MentorPairScorer, candidates: pd.DataFrame
) -> np.ndarray:
    """The scorer's benefit for candidate rows, in batches."""
    out = np.empty(len(candidates), dtype=np.float64)
    for lo in range(0, len(candidates), _SCORE_BATCH):
        part = candidates.iloc[lo : lo + _SCORE_BATCH]
        idx = arrays.indices(part[c.MENTEE_NIP], part[c.MENTOR_NIP], part[c.COMPETENCY_ID])
        out[lo : lo + len(part)] = scorer.predict(pair_matrix(arrays, *idx))
    return out


def _rule_prescore(arrays: MentorPairArrays) -> Callable[[pd.DataFrame], np.ndarray]:
    """Cheap pruning score: the track-record rule (headroom x the mentor's shrunk effect).

    Many mentors tie on it (no track record). A tiny pair-specific jitter spreads the ties
    over mentors instead of handing every mentee the same lowest NIPs (the oldest employees,
    as an NIP starts with the birth date).
    """
    record = np.where(np.isnan(arrays.effect), DEFAULT_GAIN, arrays.effect)
    effect = np.maximum(record, EFFECT_FLOOR)

    def score(candidates: pd.DataFrame) -> np.ndarray:
        mentee, mentor, comp = arrays.indices(
            candidates[c.MENTEE_NIP], candidates[c.MENTOR_NIP], candidates[c.COMPETENCY_ID]
        )
        lead, _, p_ahead = lead_estimate(arrays, mentee, mentor, comp)
        return headroom(lead, p_ahead) * effect[mentor] + 1e-9 * _pair_hash(mentee, mentor)

    return score


def _pair_hash(mentee: np.ndarray, mentor: np.ndarray) -> np.ndarray:
    """A deterministic pseudo-random number in [0, 1) per (mentee, mentor) index pair."""
    mixed = mentee.astype(np.uint64) * np.uint64(2_654_435_761) + mentor.astype(
        np.uint64
    ) * np.uint64(40_503)
    return (mixed % np.uint64(1_000_003)).astype(np.float64) / 1_000_003.0


def candidate_pairs(
    view: EmployeeView,
    scorer: MentorPairScorer,
    mentees: pd.DataFrame | None = None,
    *,
    same_unit: bool = False,
    exclude_supervisor: bool = True,
    units: Iterable[str] | None = None,
    unit_scope: Mapping[str, Iterable[str]] | None = None,
    top_n: int | None = None,
    arrays: MentorPairArrays | None = None,
    min_confidence: float = MIN_CONFIDENCE,
) -> pd.DataFrame:
    """Eligible pairs (`model.mentor_eligibility.CANDIDATE_COLUMNS`) with the scorer's BENEFIT.

    Beyond the hard rules, a mentor must be above the mentee with probability at least
    `min_confidence` given the uncertainty of both level estimates (`P_AHEAD` column).
    `mentees` defaults to `select_mentees(view, units=units)`. With `top_n`, each mentee keeps
    its `top_n` best candidates by the cheap track-record rule before the scorer runs (a bound
    on work at city scale; `None` scores every eligible pair).
    """
    if mentees is None:
        mentees = select_mentees(view, units=units)
    if arrays is None:
        arrays = MentorPairArrays.from_view(view)
    mentor_frame, levels = _mentor_frames(view)
    candidates = eligible_pairs(
        _mentee_frame(view, mentees),
        mentor_frame,
        levels,
        same_unit=same_unit,
        unit_scope=unit_scope,
        exclude_supervisor=exclude_supervisor,
        top_n=top_n,
        pre_score=_confident_prescore(arrays, min_confidence),
    )
    candidates = confident_pairs(arrays, candidates, min_confidence)
    candidates[BENEFIT] = _scores(arrays, scorer, candidates)
    return candidates


def confident_pairs(
    arrays: MentorPairArrays, candidates: pd.DataFrame, min_confidence: float = MIN_CONFIDENCE
) -> pd.DataFrame:
    """The rule-eligible pairs whose mentor is ahead with probability >= `min_confidence`,
    with that probability as `P_AHEAD`: the one confidence rule for ranking and for checking
    a manager's own choice."""
    idx = arrays.indices(
        candidates[c.MENTEE_NIP], candidates[c.MENTOR_NIP], candidates[c.COMPETENCY_ID]
    )
    p_ahead = lead_estimate(arrays, *idx)[2]
    sure = p_ahead >= min_confidence
    kept = candidates.loc[sure].reset_index(drop=True)
    kept[P_AHEAD] = p_ahead[sure]
    return kept


def _confident_prescore(
    arrays: MentorPairArrays, min_confidence: float
) -> Callable[[pd.DataFrame], np.ndarray]:
    """The pruning score, with pairs below `min_confidence` last (they are dropped anyway)."""
    rule = _rule_prescore(arrays)

    def score(candidates: pd.DataFrame) -> np.ndarray:
        idx = arrays.indices(
            candidates[c.MENTEE_NIP], candidates[c.MENTOR_NIP], candidates[c.COMPETENCY_ID]
        )
        sure = lead_estimate(arrays, *idx)[2] >= min_confidence
        return np.where(sure, rule(candidates), -1.0)

    return score


def remaining_capacity(
    view: EmployeeView,
    capacity: int = DEFAULT_CAPACITY,
    capacity_overrides: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Mentees each employee may still take: capacity (or its override) minus current load."""
    nips = view.employees[c.NIP].astype(str).to_numpy(dtype=object)
    total = np.full(len(nips), int(capacity), dtype=np.int64)
    if capacity_overrides:
        override = pd.Series(capacity_overrides, dtype="float64").reindex(nips).to_numpy()
        total = np.where(np.isnan(override), total, override).astype(np.int64)
    load = view.employees.get(mv.CURRENT_LOAD)
    used = (
        np.zeros(len(nips), dtype=np.int64)
        if load is None
        else np.nan_to_num(load.to_numpy(dtype=np.float64, na_value=0.0), nan=0.0).astype(np.int64)
    )
    return dict(zip(nips, np.maximum(total - used, 0).tolist(), strict=True))


def pair_mentors(
    view: EmployeeView,
    scorer: MentorPairScorer,
    capacity: int = DEFAULT_CAPACITY,
    capacity_overrides: Mapping[str, int] | None = None,
    same_unit: bool = False,
    exclude_supervisor: bool = True,
    units: Iterable[str] | None = None,
    unit_scope: Mapping[str, Iterable[str]] | None = None,
    top_n: int | None = None,
    *,
    mentees: pd.DataFrame | None = None,
    competency_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The benefit-maximising pairing of mentees with mentors (`PAIRING_COLUMNS`).

    Parameters
    ----------
    view
        Employees at `as_of` (`features.plan_input.EmployeeView`).
    scorer
        A fitted `MentorPairScorer` (its fallback rule when there is no history).
    capacity, capacity_overrides
        Mentees per mentor, ongoing mentorships included; overrides per mentor NIP.
    same_unit, unit_scope, exclude_supervisor
        Eligibility options, see `model.mentor_eligibility.eligible_pairs`.
    units
        Only mentees working in these units are paired (mentors may come from anywhere the
        eligibility options allow); ignored when `mentees` is given.
    top_n
        Keep each mentee's `top_n` candidates before scoring (see `candidate_pairs`). This
        bounds the work, but every mentee then wants the same few strong mentors, whose
        capacity runs out: on 4,000 demo employees top-50 kept 93% of the pairs and 97% of
        the benefit, top-10 only 37% / 47%. Prefer `same_unit` + `unit_scope` at scale.
    mentees
        A `select_mentees` frame to pair instead of everyone with a gap.
    competency_names
        competency_id -> display name for the reasons (default: the id).

    Returns
    -------
    DataFrame
        One row per paired mentee, in `select_mentees` order (largest weighted gap first);
        mentees without an eligible mentor with free capacity are not listed.
    """
    if mentees is None:
        mentees = select_mentees(view, units=units)
    candidates = candidate_pairs(
        view,
        scorer,
        mentees,
        same_unit=same_unit,
        exclude_supervisor=exclude_supervisor,
        unit_scope=unit_scope,
        top_n=top_n,
    )
    chosen = assign(candidates, remaining_capacity(view, capacity, capacity_overrides))
    order = pd.Index(mentees[c.NIP]).get_indexer(chosen[c.MENTEE_NIP])
    chosen = chosen.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    return _with_reasons(chosen, competency_names)


def rank_mentors(
    view: EmployeeView,
    scorer: MentorPairScorer,
    nip: str,
    top_k: int = 10,
    *,
    competency_id: str | None = None,
    same_unit: bool = False,
    exclude_supervisor: bool = True,
    unit_scope: Mapping[str, Iterable[str]] | None = None,
    capacity: int | None = None,
    capacity_overrides: Mapping[str, int] | None = None,
    competency_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One employee's eligible mentors, best first (`PAIRING_COLUMNS` + `rank`).

    The focus is `competency_id`, or else the employee's largest weighted gap; an employee
    without a gap (and no `competency_id`) gets an empty frame. With `capacity`, mentors
    without free capacity are left out. Scores equal those of a batch `pair_mentors` run.
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    if competency_id is None:
        focus = select_mentees(view, nips=[nip])
    else:
        comp = view.competency
        row = comp.loc[(comp[c.NIP] == nip) & (comp[c.COMPETENCY_ID] == competency_id)]
        focus = (
            row[list(SELECTED_COLUMNS)].head(1).reset_index(drop=True)
            if len(row)
            else _focus_without_row(view, nip, competency_id)
        )
    if focus.empty or not (view.employees[c.NIP] == nip).any():
        return _with_reasons(_no_pairs(), competency_names).assign(**{RANK: []})
    # A competency the position does not require: any mentor above the employee qualifies.
    required = focus[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64)[0]
    focus = focus.assign(**{c.REQUIRED_LEVEL: np.nan_to_num(required, nan=c.MIN_LEVEL_VALUE)})
    candidates = candidate_pairs(
        view,
        scorer,
        focus,
        same_unit=same_unit,
        exclude_supervisor=exclude_supervisor,
        unit_scope=unit_scope,
    )
    candidates[c.REQUIRED_LEVEL] = required
    if capacity is not None:
        free = remaining_capacity(view, capacity, capacity_overrides)
        has_room = np.array([free.get(m, 0) > 0 for m in candidates[c.MENTOR_NIP]], dtype=bool)
        candidates = candidates.loc[has_room]
    candidates = candidates.sort_values(
        [BENEFIT, c.MENTOR_NIP], ascending=[False, True], kind="stable"
    ).head(top_k)
    out = _with_reasons(candidates.reset_index(drop=True), competency_names)
    out[RANK] = np.arange(1, len(out) + 1)
    return out


def mentor_refusal(
    view: EmployeeView,
    nip: str,
    mentor_nip: str,
    *,
    same_unit: bool = False,
    exclude_supervisor: bool = True,
    unit_scope: Mapping[str, Iterable[str]] | None = None,
) -> str | None:
    """Why `mentor_nip` may not mentor `nip` under the rules `rank_mentors` applies, or None.

    The decision is `eligible_pairs` itself on the employee's focus (largest weighted gap), so
    a mentor a manager picks passes exactly the rules a recommended one does; the text only
    names the first rule that fails, without NIPs.
    """
    pair = view.subset([nip, mentor_nip])
    known = set(pair.employees[c.NIP].astype(str))
    if mentor_nip not in known:
        return "the mentor is not an active employee"
    if mentor_nip == nip:
        return "an employee cannot mentor themselves"
    if nip not in known:
        return "the mentee is not an active employee"
    focus = select_mentees(pair, nips=[nip])
    if focus.empty:
        return "the employee has no competency gap for a mentor to work on"
    mentors, levels = _mentor_frames(pair)
    mentors = mentors.loc[mentors[c.NIP] == mentor_nip].reset_index(drop=True)
    eligible = eligible_pairs(
        _mentee_frame(pair, focus),
        mentors,
        levels,
        same_unit=same_unit,
        unit_scope=unit_scope,
        exclude_supervisor=exclude_supervisor,
    )
    competency = str(focus[c.COMPETENCY_ID].iloc[0])
    if len(eligible):
        if len(confident_pairs(MentorPairArrays.from_view(pair), eligible)):
            return None
        return (
            f"the mentor's level in the focus competency {competency} is not above the "
            f"employee's with enough certainty (at least {MIN_CONFIDENCE:.0%} is needed)"
        )
    supervisor = pair.employees.set_index(c.NIP)[c.SUPERVISOR_NIP].get(nip)
    if exclude_supervisor and supervisor == mentor_nip:
        return "the mentor is the employee's direct supervisor"
    level = levels.loc[
        (levels[c.NIP] == mentor_nip) & (levels[c.COMPETENCY_ID] == competency), c.LEVEL
    ]
    required = float(focus[c.REQUIRED_LEVEL].iloc[0])
    current = float(focus[CURRENT_LEVEL].iloc[0])
    if level.empty:
        return f"the mentor has no assessed level in the focus competency {competency}"
    value = float(level.iloc[0])
    if value < required or (not np.isnan(current) and value <= current):
        return (
            f"the mentor is assessed at {value:g} in the focus competency {competency}: "
            f"at least {required:g} and above the employee's current level are needed"
        )
    if same_unit:
        return "the mentor does not work in the employee's unit or a unit covering it"
    return "the mentor is not more senior (a higher grade, or the same grade and longer service)"


def _focus_without_row(view: EmployeeView, nip: str, competency_id: str) -> pd.DataFrame:
    """A focus on a competency the employee was never assessed in nor required to have."""
    return pd.DataFrame(
        {
            c.NIP: pd.array([nip], dtype="str"),
            c.COMPETENCY_ID: pd.array([competency_id], dtype="str"),
            CURRENT_LEVEL: [np.nan],
            c.REQUIRED_LEVEL: [np.nan],
            GAP: [0.0],
            WEIGHTED_GAP: [0.0],
        }
    )


# --- baselines and evaluation -------------------------------------------------------------


def random_pairing(
    candidates: pd.DataFrame, capacity: int | Mapping[str, int], seed: int = 0
) -> pd.DataFrame:
    """Baseline: mentees in random order each take a random eligible mentor with room."""
    rng = np.random.default_rng(seed)
    shuffled = candidates.assign(**{"_draw": rng.random(len(candidates)) + 1.0})
    chosen = greedy_assign(shuffled, capacity, col_benefit="_draw")
    return chosen.drop(columns="_draw")


def highest_level_pairing(
    candidates: pd.DataFrame, capacity: int | Mapping[str, int]
) -> pd.DataFrame:
    """Baseline rule: the most highly assessed mentors are handed out first, while room lasts.

    Ties in level go to the lower mentee, then mentor NIP (`greedy_assign`'s order).
    """
    by_level = candidates.assign(**{"_level": candidates[MENTOR_LEVEL].to_numpy(dtype=float)})
    chosen = greedy_assign(by_level, capacity, col_benefit="_level")
    return chosen.drop(columns="_level")


def pairing_benefit(
    pairs: pd.DataFrame, benefit: str | Callable[[pd.DataFrame], np.ndarray] = BENEFIT
) -> float:
    """Total benefit of a pairing: a column of `pairs`, or a function of the pairs (e.g. a
    hidden truth in a benchmark, or `scorer_benefit(view, scorer)`)."""
    values = pairs[benefit] if isinstance(benefit, str) else benefit(pairs)
    return float(np.nansum(np.asarray(values, dtype=np.float64)))


def scorer_benefit(
    view: EmployeeView, scorer: MentorPairScorer
) -> Callable[[pd.DataFrame], np.ndarray]:
    """The scorer's benefit of any (mentee_nip, mentor_nip, competency_id) pairs in `view`."""
    arrays = MentorPairArrays.from_view(view)
    return lambda pairs: _scores(arrays, scorer, pairs)


# --- output -------------------------------------------------------------------------------


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.MENTEE_NIP: pd.array([], dtype="str"),
            c.MENTOR_NIP: pd.array([], dtype="str"),
            c.COMPETENCY_ID: pd.array([], dtype="str"),
            MENTOR_LEVEL: np.array([], dtype=np.float64),
            MENTEE_LEVEL: np.array([], dtype=np.float64),
            c.REQUIRED_LEVEL: np.array([], dtype=np.float64),
            SAME_UNIT: np.array([], dtype=bool),
            BENEFIT: np.array([], dtype=np.float64),
        }
    )


def _p_ahead(chosen: pd.DataFrame) -> np.ndarray:
    if P_AHEAD not in chosen.columns:
        return np.full(len(chosen), np.nan)
    return chosen[P_AHEAD].to_numpy(dtype=np.float64)


def _with_reasons(chosen: pd.DataFrame, competency_names: Mapping[str, str] | None) -> pd.DataFrame:
    """`PAIRING_COLUMNS` from chosen candidate rows: score = benefit, plus the reason texts."""
    names = competency_names or {}
    reasons = [
        mentor_pair(
            names.get(comp, comp),
            mentor_level,
            mentee_level,
            required,
            same_unit=bool(same),
            confidence=None if np.isnan(p) else float(p),
        )
        for comp, mentor_level, mentee_level, required, same, p in zip(
            chosen[c.COMPETENCY_ID],
            chosen[MENTOR_LEVEL].to_numpy(dtype=np.float64),
            chosen[MENTEE_LEVEL].to_numpy(dtype=np.float64),
            chosen[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64),
            chosen[SAME_UNIT].to_numpy(dtype=bool),
            _p_ahead(chosen),
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            c.MENTEE_NIP: pd.array(chosen[c.MENTEE_NIP], dtype="str"),
            c.MENTOR_NIP: pd.array(chosen[c.MENTOR_NIP], dtype="str"),
            c.COMPETENCY_ID: pd.array(chosen[c.COMPETENCY_ID], dtype="str"),
            SCORE: chosen[BENEFIT].to_numpy(dtype=np.float64),
            REASON_ID: pd.array([r.id for r in reasons], dtype="str"),
            REASON_EN: pd.array([r.en for r in reasons], dtype="str"),
        }
    )
