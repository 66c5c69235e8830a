"""Turn scored candidate courses into an ordered, valid training path for each employee.

Upstream, a ranker gives each candidate course a chance of completion (`p_complete`) and an
expected level gain per competency it develops; a participation-risk model gives each employee a
risk in [0, 1]. This module is the pure, fast step after that: it chooses which courses to take
within the JP budget, adds their prerequisites, orders them and writes the reasons.

Selection problem. Choose a set of courses, closed under prerequisites, with total hours within
`jp_budget`, maximising expected gap closure. The value of a course is

    p_complete * sum over its competencies k of min(expected_gain_k, remaining_gap_k)

and each chosen course lowers the remaining gaps by its expected closure
(``remaining_k -= p * min(gain_k, remaining_k)``), so a second course on an almost-closed gap is
worth little (diminishing returns). That is a knapsack with a submodular objective and precedence
constraints (NP-hard). We solve it greedily by value per JP, re-evaluating values and
prerequisite costs after every pick, and also run the greedy once more from the best single
course (the classic fix that gives budgeted greedy a constant-factor guarantee when one long,
valuable course would otherwise be crowded out by short ones). The result is then filled up to
`min_jp` (20 JP a year, PP 11/2017 Pasal 203(4)) and, if the fill cannot get there, a small
exact search over forced courses finds a valid path that does (see `_repair`).

Hard rules, always true of the returned path: only active courses; no course already completed
or ongoing; every prerequisite is completed or earlier in the path (an ongoing prerequisite does
not count: it may still be dropped, and it cannot be taken again either, so the course waits;
an inactive, uncompleted prerequisite makes a course unavailable); total hours <= `jp_budget`;
no duplicates; at most `max_courses`.

Speed: one `Catalog` is built per catalog (CSR arrays of course bands, prerequisite lists, a
topological order); the per-employee work is numpy on ~30-50 candidates plus small Python loops,
with no pandas. `candidates_from_frame` converts a whole scored frame in one vectorised pass.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from features import columns as c
from features.competency import CURRENT_LEVEL, REQUIRED
from model import reasons

#: Column names of the scored-candidates frame (one row per employee, course, competency).
P_COMPLETE = "p_complete"
EXPECTED_GAIN = "expected_gain"
RANK_SCORE = "rank_score"

#: When risk >= risk_threshold, the value of a course in a low-barrier mode
#: (`features.columns.LOW_BARRIER_MODES`: formats people who tend to drop out still complete) is
#: multiplied by this. 1.5 lets a coaching course with p_complete down to 2/3 of a classroom
#: course's win on the same gap, and cannot make a course that closes no gap look useful
#: (a multiple of zero is zero).
RISK_MODE_FACTOR = 1.5
#: ... and the value of a short course (<= SHORT_COURSE_JP, about one training day) by this.
RISK_SHORT_FACTOR = 1.25
SHORT_COURSE_JP = 8
#: Below this expected gap closure (in levels) a course is not worth picking for its value;
#: it may still be chosen to reach `min_jp`.
DEFAULT_MIN_VALUE = 0.05
#: Forced-course sets the min-JP repair may try per employee before giving up.
REPAIR_MAX_TRIES = 256

_EPS = 1e-9


# --- catalog ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Catalog:
    """The course catalog as arrays, built once and shared by every employee's path.

    Course competencies are stored CSR-style: the bands of course ``i`` are entries
    ``entry_ptr[i]:entry_ptr[i + 1]`` of `entry_comp` / `entry_min` / `entry_target`, sorted by
    competency index. `prerequisites[i]` are the catalog indices of course i's direct
    prerequisites. Derived fields (indices by id, topological order, ...) are computed on
    construction; a prerequisite cycle raises `ValueError`.
    """

    course_ids: tuple[str, ...]
    titles: tuple[str, ...]
    modes: tuple[str, ...]
    hours: np.ndarray  # int64, JP
    active: np.ndarray  # bool
    entry_ptr: np.ndarray  # int64, n_courses + 1
    entry_comp: np.ndarray  # int64, competency index of each band
    entry_min: np.ndarray  # float64, band min_level
    entry_target: np.ndarray  # float64, band target_level
    prerequisites: tuple[tuple[int, ...], ...]
    competency_ids: tuple[str, ...]
    competency_names: tuple[str, ...]

    course_index: Mapping[str, int] = field(init=False)
    competency_index: Mapping[str, int] = field(init=False)
    topo_order: np.ndarray = field(init=False)
    topo_rank: np.ndarray = field(init=False)
    entry_course: np.ndarray = field(init=False)
    entry_key: np.ndarray = field(init=False)
    entry_level: np.ndarray = field(init=False)
    low_barrier: np.ndarray = field(init=False)
    risk_factor: np.ndarray = field(init=False)
    has_prerequisites: np.ndarray = field(init=False)
    #: All prerequisites of each course, transitively (what `_needed` can visit).
    ancestors: tuple[frozenset[int], ...] = field(init=False)
    course_competency_ids: tuple[tuple[str, ...], ...] = field(init=False)
    #: Plain-Python copies for the per-employee loops (faster than numpy scalars there).
    hours_list: tuple[int, ...] = field(init=False)
    active_list: tuple[bool, ...] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.course_ids)
        n_comp = len(self.competency_ids)
        if len(set(self.course_ids)) != n:
            raise ValueError("course ids are not unique")
        if len(self.entry_ptr) != n + 1 or len(self.prerequisites) != n:
            raise ValueError("entry_ptr / prerequisites do not match the number of courses")
        counts = np.diff(self.entry_ptr)
        entry_course = np.repeat(np.arange(n, dtype=np.int64), counts)
        entry_key = entry_course * max(n_comp, 1) + self.entry_comp
        if len(entry_key) > 1 and not np.all(np.diff(entry_key) > 0):
            raise ValueError("bands must be sorted by (course, competency) without duplicates")
        topo = _topological_order(self.prerequisites, self.course_ids)
        rank = np.empty(n, dtype=np.int64)
        rank[topo] = np.arange(n)
        level = np.full(n, np.inf)
        np.minimum.at(level, entry_course, self.entry_min)
        modes = np.asarray(self.modes, dtype=object)
        low = np.isin(modes, c.LOW_BARRIER_MODES) if n else np.zeros(0, dtype=bool)
        factor = np.where(low, RISK_MODE_FACTOR, 1.0) * np.where(
            self.hours <= SHORT_COURSE_JP, RISK_SHORT_FACTOR, 1.0
        )
        comp_ids = self.competency_ids
        per_course = tuple(
            tuple(comp_ids[k] for k in self.entry_comp[a:b])
            for a, b in zip(self.entry_ptr[:-1], self.entry_ptr[1:], strict=True)
        )
        ancestors: list[frozenset[int]] = [frozenset()] * n
        for i in topo.tolist():
            ancestors[i] = frozenset().union(*((q, *ancestors[q]) for q in self.prerequisites[i]))
        derived = {
            "course_index": MappingProxyType({cid: i for i, cid in enumerate(self.course_ids)}),
            "competency_index": MappingProxyType({k: i for i, k in enumerate(comp_ids)}),
            "topo_order": topo,
            "topo_rank": rank,
            "entry_course": entry_course,
            "entry_key": entry_key,
            "entry_level": level,
            "low_barrier": low,
            "risk_factor": factor,
            "has_prerequisites": np.array([len(p) > 0 for p in self.prerequisites], dtype=bool),
            "ancestors": tuple(ancestors),
            "course_competency_ids": per_course,
            "hours_list": tuple(int(h) for h in self.hours),
            "active_list": tuple(bool(a) for a in self.active),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_frames(
        cls,
        courses: pd.DataFrame,
        course_competencies: pd.DataFrame,
        course_prerequisites: pd.DataFrame | None = None,
        competency_names: pd.DataFrame | Mapping[str, str] | None = None,
    ) -> Catalog:
        """Build from the typed tables `courses`, `course_competencies`, `course_prerequisites`.

        `competency_names` is the `competencies` table or a mapping id -> name; competencies
        missing from it are named by their id.
        """
        course_ids = [str(x) for x in courses[c.COURSE_ID].tolist()]
        if isinstance(competency_names, pd.DataFrame):
            names = dict(
                zip(
                    competency_names[c.COMPETENCY_ID].astype(str).tolist(),
                    competency_names[c.NAME].astype(str).tolist(),
                    strict=True,
                )
            )
        else:
            names = dict(competency_names or {})
        comp_ids = list(names)
        seen = set(comp_ids)
        for k in course_competencies[c.COMPETENCY_ID].astype(str).tolist():
            if k not in seen:
                seen.add(k)
                comp_ids.append(k)

        course_pos = pd.Index(course_ids)
        ec = course_pos.get_indexer(course_competencies[c.COURSE_ID])
        if (ec < 0).any():
            bad = course_competencies[c.COURSE_ID].to_numpy()[ec < 0][0]
            raise ValueError(f"course_competencies names an unknown course {bad!r}")
        ek = pd.Index(comp_ids).get_indexer(course_competencies[c.COMPETENCY_ID])
        order = np.lexsort((ek, ec))
        ec, ek = ec[order].astype(np.int64), ek[order].astype(np.int64)
        ptr = np.zeros(len(course_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ec, minlength=len(course_ids)), out=ptr[1:])

        prereqs: list[list[int]] = [[] for _ in course_ids]
        if course_prerequisites is not None and len(course_prerequisites):
            pc = course_pos.get_indexer(course_prerequisites[c.COURSE_ID])
            pq = course_pos.get_indexer(course_prerequisites[c.PREREQUISITE_ID])
            if (pc < 0).any() or (pq < 0).any():
                raise ValueError("course_prerequisites names an unknown course")
            for i, q in zip(pc.tolist(), pq.tolist(), strict=True):
                if q not in prereqs[i]:
                    prereqs[i].append(q)

        return cls(
            course_ids=tuple(course_ids),
            titles=tuple(str(t) for t in courses[c.TITLE].tolist()),
            modes=tuple(str(m) for m in courses[c.MODE].tolist()),
            hours=courses[c.HOURS_JP].to_numpy(dtype=np.int64),
            active=courses[c.ACTIVE].to_numpy(dtype=bool),
            entry_ptr=ptr,
            entry_comp=ek,
            entry_min=course_competencies[c.MIN_LEVEL].to_numpy(dtype=np.float64)[order],
            entry_target=course_competencies[c.TARGET_LEVEL].to_numpy(dtype=np.float64)[order],
            prerequisites=tuple(tuple(sorted(p)) for p in prereqs),
            competency_ids=tuple(comp_ids),
            competency_names=tuple(names.get(k, k) for k in comp_ids),
        )

    @property
    def n_courses(self) -> int:
        return len(self.course_ids)

    def bands(self, course_id: str) -> dict[str, tuple[int, int]]:
        """The competency bands of one course: competency id -> (min_level, target_level)."""
        i = self.course_index[course_id]
        a, b = self.entry_ptr[i], self.entry_ptr[i + 1]
        return {
            self.competency_ids[k]: (int(lo), int(hi))
            for k, lo, hi in zip(
                self.entry_comp[a:b], self.entry_min[a:b], self.entry_target[a:b], strict=True
            )
        }

    def entry_positions(self, rows: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each (catalog course row, competency code) pair sits among the bands, and
        which pairs are not there (unknown competency, or a course that does not develop it)."""
        key = rows * max(len(self.competency_ids), 1) + comp
        pos = np.searchsorted(self.entry_key, key)
        bad = (comp < 0) | (pos >= len(self.entry_key))
        if len(self.entry_key):
            bad |= self.entry_key[np.minimum(pos, len(self.entry_key) - 1)] != key
        return pos, bad

    def course_indices(self, course_ids: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        """Catalog indices of `course_ids`; an unknown id raises `ValueError`."""
        idx = pd.Index(self.course_ids).get_indexer(pd.Index(np.asarray(course_ids, dtype=object)))
        if (idx < 0).any():
            bad = np.asarray(course_ids, dtype=object)[idx < 0][0]
            raise ValueError(f"unknown course id {bad!r}")
        return idx.astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"Catalog({self.n_courses} courses, {int(self.active.sum())} active, "
            f"{len(self.competency_ids)} competencies, "
            f"{sum(map(len, self.prerequisites))} prerequisite links)"
        )


def _topological_order(prerequisites: Sequence[Sequence[int]], ids: Sequence[str]) -> np.ndarray:
    """Kahn's algorithm, smallest catalog index first among the ready courses."""
    n = len(prerequisites)
    indegree = [len(p) for p in prerequisites]
    dependents: list[list[int]] = [[] for _ in range(n)]
    for i, pre in enumerate(prerequisites):
        for q in pre:
            if q == i:
                raise ValueError(f"course {ids[i]!r} is its own prerequisite")
            dependents[q].append(i)
    ready = [i for i in range(n) if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for d in dependents[i]:
            indegree[d] -= 1
            if indegree[d] == 0:
                heapq.heappush(ready, d)
    if len(order) < n:
        stuck = sorted(ids[i] for i in range(n) if indegree[i] > 0)
        raise ValueError(f"prerequisite cycle among courses {stuck[:5]}")
    return np.asarray(order, dtype=np.int64)


# --- inputs and outputs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmployeeState:
    """What the path builder needs to know about one employee.

    `gaps` maps every competency the position requires to (current_level, required_level);
    met requirements may be included (they steer the fill toward the position's competencies).
    A NaN/None current level means never assessed and counts from `MIN_LEVEL_VALUE`, as in
    `features.competency.competency_gaps`. `completed` holds the completed course ids: only they
    satisfy a prerequisite. `ongoing` holds courses the employee attends now: never recommended
    again, but not done either (an ongoing course may still be dropped).
    """

    nip: str
    gaps: Mapping[str, tuple[float | None, float]]
    completed: frozenset[str] = frozenset()
    ongoing: frozenset[str] = frozenset()
    #: The level the path aims from, per competency, when it differs from the measured one
    #: (E[level | measured]: a noisy measurement regresses to the mean); reasons keep showing
    #: the measured level.
    expected: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class Candidates:
    """One employee's scored candidate courses, as arrays aligned with the catalog.

    `gain` is flat: for candidate j, its entries are the catalog bands of course
    ``course_idx[j]`` in catalog order (``catalog.entry_ptr`` slice). NaN means "no estimate"
    and is replaced by the band default (`band_gain`). `score` is the ranker's own score, used
    only to break ties and to order the fill.
    """

    course_idx: np.ndarray
    p_complete: np.ndarray
    gain: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        z = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), z, z, z)

    @classmethod
    def from_arrays(
        cls,
        catalog: Catalog,
        course_ids: Sequence[str],
        p_complete: Sequence[float] | np.ndarray,
        expected_gain: np.ndarray | Sequence[Mapping[str, float]] | None = None,
        score: Sequence[float] | np.ndarray | None = None,
    ) -> Candidates:
        """Build from course ids and the ranker's outputs.

        `expected_gain` is either None (band defaults), one mapping competency id -> gain per
        candidate, a flat array in `gain` layout, or a dense (n_candidates, n_competencies)
        array over `catalog.competency_ids`.
        """
        ci = catalog.course_indices(list(course_ids)) if len(course_ids) else np.zeros(0, int)
        p = np.clip(np.asarray(p_complete, dtype=np.float64), 0.0, 1.0)
        if p.shape != ci.shape or np.isnan(p).any():
            raise ValueError("p_complete must be one number in [0, 1] per candidate")
        starts, stops = catalog.entry_ptr[ci], catalog.entry_ptr[ci + 1]
        total = int((stops - starts).sum())
        if expected_gain is None:
            gain = np.full(total, np.nan)
        elif isinstance(expected_gain, np.ndarray) and expected_gain.ndim == 2:
            if expected_gain.shape != (len(ci), len(catalog.competency_ids)):
                raise ValueError("dense expected_gain must be (n_candidates, n_competencies)")
            rows = np.repeat(np.arange(len(ci)), stops - starts)
            cols = catalog.entry_comp[_entry_positions(starts, stops)]
            gain = np.asarray(expected_gain, dtype=np.float64)[rows, cols]
        elif isinstance(expected_gain, np.ndarray):
            gain = np.asarray(expected_gain, dtype=np.float64)
            if gain.shape != (total,):
                raise ValueError(f"flat expected_gain must have {total} entries")
        else:
            if len(expected_gain) != len(ci):
                raise ValueError("one expected_gain mapping per candidate")
            gain = np.full(total, np.nan)
            offset = 0
            for j, gains in enumerate(expected_gain):
                a, b = int(starts[j]), int(stops[j])
                comps = [catalog.competency_ids[k] for k in catalog.entry_comp[a:b]]
                for k, g in gains.items():
                    if k not in comps:
                        raise ValueError(
                            f"course {catalog.course_ids[ci[j]]!r} does not develop {k!r}"
                        )
                    gain[offset + comps.index(k)] = g
                offset += b - a
        s = np.zeros(len(ci)) if score is None else np.asarray(score, dtype=np.float64)
        return cls(ci, p, np.maximum(gain, 0.0, where=~np.isnan(gain), out=gain.copy()), s)


@dataclass(frozen=True, slots=True)
class PathStep:
    """One course of a path. `reason_id` is the Bahasa Indonesia text, `reason_en` the English.

    `score` is the expected gap closure (levels) the course added when it was chosen; it is 0
    for courses taken only as prerequisites or to reach the yearly minimum; `p_complete` is None
    for courses the ranker did not score. `adapted_for_risk`
    is set when the employee's participation risk was high and the course's format or length
    was favoured for it.
    """

    order: int
    course_id: str
    title: str
    hours_jp: int
    competency_ids: tuple[str, ...]
    score: float
    p_complete: float | None
    reason_id: str
    reason_en: str
    reason_codes: tuple[str, ...]
    is_prerequisite_for: tuple[str, ...] = ()
    adapted_for_risk: bool = False


PATH_COLUMNS = (
    c.NIP,
    "order",
    c.COURSE_ID,
    c.TITLE,
    c.HOURS_JP,
    "competency_ids",
    "score",
    P_COMPLETE,
    "reason_id",
    "reason_en",
    "reason_codes",
    "is_prerequisite_for",
    "adapted_for_risk",
)


def band_gain(current: np.ndarray, min_level: np.ndarray, target_level: np.ndarray) -> np.ndarray:
    """Default expected gain: the course lifts a participant to its target level.

    Someone below the band's min_level is credited only the band's width (target - min):
    the course assumes the entry level, so it will not cover the part below it.
    """
    start = np.fmax(current, min_level)
    return np.maximum(target_level - start, 0.0)


def candidates_from_frame(
    frame: pd.DataFrame,
    catalog: Catalog,
    *,
    col_nip: str = c.NIP,
    col_course: str = c.COURSE_ID,
    col_competency: str = c.COMPETENCY_ID,
    col_p_complete: str = P_COMPLETE,
    col_gain: str = EXPECTED_GAIN,
    col_score: str = RANK_SCORE,
) -> dict[str, Candidates]:
    """Split a scored frame (one row per nip, course, competency) into `Candidates` per nip.

    Rows of one (nip, course) share `p_complete` and the score (the first row's value is
    used). The competency and gain columns are optional: without them, or where the gain is
    NaN, the band default applies. A course or competency the catalog does not pair raises
    `ValueError`. Vectorised: 10^6 rows take about a second.
    """
    if frame.empty:
        return {}
    course = catalog.course_indices(frame[col_course].to_numpy(dtype=object))
    nip_codes, nip_values = pd.factorize(frame[col_nip])
    order = np.lexsort((course, nip_codes))
    key_n, key_c = nip_codes[order], course[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (key_n[1:] != key_n[:-1]) | (key_c[1:] != key_c[:-1])
    cand_of_row = np.cumsum(first) - 1
    cand_nip, cand_course = key_n[first], key_c[first]
    p = np.clip(frame[col_p_complete].to_numpy(dtype=np.float64)[order][first], 0.0, 1.0)
    if np.isnan(p).any():
        raise ValueError(f"{col_p_complete} is missing for some candidates")
    score = (
        frame[col_score].to_numpy(dtype=np.float64)[order][first]
        if col_score in frame
        else np.zeros(len(cand_course))
    )
    ptr = catalog.entry_ptr
    counts = ptr[cand_course + 1] - ptr[cand_course]
    goff = np.zeros(len(cand_course) + 1, dtype=np.int64)
    np.cumsum(counts, out=goff[1:])
    gain = np.full(int(goff[-1]), np.nan)
    if col_gain in frame and col_competency in frame:
        comp_ids = frame[col_competency].to_numpy(dtype=object)[order]
        g = frame[col_gain].to_numpy(dtype=np.float64)[order]
        has = ~pd.isna(comp_ids)
        comp = pd.Index(catalog.competency_ids).get_indexer(pd.Index(comp_ids[has]))
        rows_c = key_c[has]
        pos, bad = catalog.entry_positions(rows_c, comp)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"course {catalog.course_ids[rows_c[i]]!r} does not develop competency "
                f"{comp_ids[has][i]!r}"
            )
        slot = goff[cand_of_row[has]] + (pos - ptr[rows_c])
        gain[slot] = np.maximum(g[has], 0.0, where=~np.isnan(g[has]), out=g[has].copy())
    bounds = np.searchsorted(cand_nip, np.arange(len(nip_values) + 1))
    out: dict[str, Candidates] = {}
    for k, nip in enumerate(nip_values.tolist()):
        a, b = int(bounds[k]), int(bounds[k + 1])
        out[str(nip)] = Candidates(cand_course[a:b], p[a:b], gain[goff[a] : goff[b]], score[a:b])
    return out


def employee_states(
    gaps: pd.DataFrame,
    enrollments: pd.DataFrame | None = None,
    *,
    col_current: str = CURRENT_LEVEL,
    col_required: str = REQUIRED,
) -> list[EmployeeState]:
    """EmployeeStates from `features.competency.competency_gaps` output and the enrollments.

    Only required competencies go into `gaps`; completed enrollments become `completed`,
    ongoing ones `ongoing`. Employees appear in the order of the gaps frame.
    """
    required = gaps.loc[gaps[col_required].to_numpy(dtype=bool)]
    done: dict[str, set[str]] = {}
    ongoing: dict[str, set[str]] = {}
    if enrollments is not None and len(enrollments):
        for status, into in (("completed", done), ("ongoing", ongoing)):
            rows = enrollments.loc[enrollments[c.STATUS] == status, [c.NIP, c.COURSE_ID]]
            for nip, cid in zip(rows[c.NIP].tolist(), rows[c.COURSE_ID].tolist(), strict=True):
                into.setdefault(nip, set()).add(cid)
    per: dict[str, dict[str, tuple[float | None, float]]] = {
        nip: {} for nip in gaps[c.NIP].tolist()
    }
    for nip, k, cur, req in zip(
        required[c.NIP].tolist(),
        required[c.COMPETENCY_ID].tolist(),
        required[col_current].tolist(),
        required[c.REQUIRED_LEVEL].tolist(),
        strict=True,
    ):
        per[nip][k] = (cur, req)
    return [
        EmployeeState(nip, g, frozenset(done.get(nip, ())), frozenset(ongoing.get(nip, ())))
        for nip, g in per.items()
    ]


# --- per-employee work ----------------------------------------------------------------------------


class _Context:
    """Everything about one employee and their candidates, as arrays, computed once."""

    cat: Catalog
    n: int
    ci: np.ndarray  # candidate course indices
    p: np.ndarray
    gain: np.ndarray  # flat, one per band of each candidate (`offs` delimits them)
    score: np.ndarray
    offs: np.ndarray
    e_cand: np.ndarray
    e_comp: np.ndarray
    e_pos: np.ndarray
    mult: np.ndarray  # risk multiplier per candidate
    cand_pos: dict[int, int]
    is_cand: np.ndarray
    blocked: np.ndarray
    pre_cands: list[int]
    hours_c: np.ndarray
    rem0: np.ndarray  # gap per catalog competency
    current: np.ndarray
    required: np.ndarray
    useful_comp: np.ndarray
    completed: set[int]
    ongoing: frozenset[int]
    done: np.ndarray
    has_gaps: bool
    at_risk: bool

    __slots__ = tuple(__annotations__)


def _prepare(
    employee: EmployeeState,
    cand: Candidates,
    cat: Catalog,
    risk: float | None,
    risk_threshold: float,
) -> _Context:
    x = _Context()
    x.cat = cat
    n_comp = len(cat.competency_ids)
    current = np.full(n_comp, np.nan)
    required = np.full(n_comp, np.nan)
    rem0 = np.zeros(n_comp)
    floor = float(c.MIN_LEVEL_VALUE)
    for k, (cur, req) in employee.gaps.items():
        i = cat.competency_index.get(k)
        if i is None or _missing(req):
            continue
        cur_f = math.nan if _missing(cur) else float(cur)  # type: ignore[arg-type]
        current[i] = cur_f
        required[i] = float(req)
        aim = employee.expected.get(k) if employee.expected and not math.isnan(cur_f) else None
        gap = float(req) - (floor if math.isnan(cur_f) else cur_f if aim is None else aim)
        if gap > 0:
            rem0[i] = gap
    x.current, x.required, x.rem0 = current, required, rem0
    x.has_gaps = bool((rem0 > _EPS).any())
    # A competency is "useful" for the fill if the position requires it and a course can still
    # raise it (unknown level: assume it can).
    x.useful_comp = ~np.isnan(required)

    completed = set()
    for cid in employee.completed:
        i = cat.course_index.get(cid)
        if i is not None:
            completed.add(i)
    ongoing = frozenset(
        i for i in (cat.course_index.get(cid) for cid in employee.ongoing) if i is not None
    ).difference(completed)
    # `done` excludes a course from the path; only `completed` satisfies a prerequisite.
    done = np.zeros(cat.n_courses, dtype=bool)
    if completed or ongoing:
        done[list(completed | ongoing)] = True
    x.completed, x.ongoing, x.done = completed, ongoing, done

    ci, p, gain, score = cand.course_idx, cand.p_complete, cand.gain, cand.score
    ptr = cat.entry_ptr
    keep = cat.active[ci] & ~done[ci]
    if len(ci) > 1:
        _, first = np.unique(ci, return_index=True)
        if len(first) < len(ci):
            unique = np.zeros(len(ci), dtype=bool)
            unique[first] = True
            keep &= unique
    if not keep.all():
        gain = gain[np.repeat(keep, ptr[ci + 1] - ptr[ci])]
        ci, p, score = ci[keep], p[keep], score[keep]
    n = len(ci)
    starts, stops = ptr[ci], ptr[ci + 1]
    counts = stops - starts
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    e_pos = _entry_positions(starts, stops)
    e_comp = cat.entry_comp[e_pos]
    missing = np.isnan(gain)
    if missing.any():
        default = band_gain(current[e_comp], cat.entry_min[e_pos], cat.entry_target[e_pos])
        gain = np.where(missing, default, gain)
    x.at_risk = risk is not None and not math.isnan(risk) and risk >= risk_threshold
    x.mult = cat.risk_factor[ci] if x.at_risk else np.ones(n)
    x.n, x.ci, x.p, x.gain, x.score = n, ci, p, gain, score
    x.offs, x.e_pos, x.e_comp = offs, e_pos, e_comp
    x.e_cand = np.repeat(np.arange(n), counts)
    x.hours_c = cat.hours[ci].astype(np.float64)
    ci_list = ci.tolist()
    x.cand_pos = dict(zip(ci_list, range(n), strict=True))
    is_cand = np.zeros(cat.n_courses, dtype=bool)
    is_cand[ci] = True
    x.is_cand = is_cand
    blocked = np.zeros(n, dtype=bool)
    pre_cands = []
    for j in np.flatnonzero(cat.has_prerequisites[ci]).tolist():
        if _needed(cat, ci_list[j], completed, ongoing) is None:
            blocked[j] = True
        else:
            pre_cands.append(j)
    x.blocked, x.pre_cands = blocked, pre_cands
    return x


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA."""
    try:
        return value is None or math.isnan(value)  # type: ignore[arg-type]
    except TypeError:
        return True


def _entry_positions(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenated ranges starts[j]:stops[j] without a Python loop."""
    counts = stops - starts
    total = int(counts.sum())
    offs = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offs, counts)


def _needed(
    cat: Catalog,
    course: int,
    taken: set[int] | frozenset[int],
    ongoing: frozenset[int] = frozenset(),
) -> list[int] | None:
    """Prerequisites of `course` still to take (recursively, prerequisites first).

    A prerequisite in `taken` (completed or already in the path) ends the recursion there.
    None when one of the needed prerequisites is inactive or `ongoing` (attended now, so it can
    be neither counted as done nor taken again): the course cannot be taken this year.
    """
    pre = cat.prerequisites
    if not pre[course]:
        return []
    active = cat.active_list
    out: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> bool:
        for q in pre[i]:
            if q in taken or q in seen:
                continue
            if not active[q] or q in ongoing:
                return False
            seen.add(q)
            if not visit(q):
                return False
            out.append(q)
        return True

    return out if visit(course) else None


class _Selection:
    """A path under construction: courses in the order they were added."""

    __slots__ = (
        "order",
        "taken",
        "hours",
        "rem",
        "chosen_c",
        "open_c",
        "value",
        "main",
        "objective",
    )

    def __init__(self, x: _Context) -> None:
        self.order: list[int] = []
        self.taken: set[int] = set(x.completed)
        self.hours = 0
        self.rem = x.rem0.copy()
        self.chosen_c = np.zeros(x.n, dtype=bool)
        self.open_c = ~x.blocked  # candidates neither chosen nor blocked
        self.value: dict[int, float] = {}
        self.main: dict[int, int] = {}
        self.objective = 0.0


def _add(x: _Context, sel: _Selection, courses: Sequence[int]) -> None:
    """Append courses (prerequisites first) and lower the remaining gaps by their closure."""
    hours = x.cat.hours_list
    for course in courses:
        sel.order.append(course)
        sel.taken.add(course)
        sel.hours += hours[course]
        value, main = 0.0, -1
        j = x.cand_pos.get(course)
        if j is not None:
            sel.chosen_c[j] = True
            sel.open_c[j] = False
            a, b = x.offs[j], x.offs[j + 1]
            if b > a:
                comps = x.e_comp[a:b]
                closure = x.p[j] * np.minimum(x.gain[a:b], sel.rem[comps])
                value = float(closure.sum())
                if value > 0:
                    sel.rem[comps] -= closure
                    main = int(comps[closure.argmax()])
                    sel.objective += value * float(x.mult[j])
        sel.value[course] = value
        sel.main[course] = main


def _greedy(
    x: _Context, sel: _Selection, budget: int, max_courses: int, min_value: float
) -> tuple[list[int] | None, list[int] | None]:
    """Add courses by value per JP (bundled with their missing prerequisites) while one fits.

    Returns the first pick and the best single bundle by value (for the second greedy run).
    """
    n = x.n
    if n == 0:
        return None, None
    cat = x.cat
    hours = cat.hours_list
    ci = x.ci
    first_pick: list[int] | None = None
    best_single: list[int] | None = None
    # Missing prerequisites per candidate; `_needed` depends on `sel.taken` only through the
    # course's ancestors, so an entry stays valid until a pick adds one of them.
    known: dict[int, list[int]] = {}
    ancestors = cat.ancestors
    while True:
        left = budget - sel.hours
        slots = max_courses - len(sel.order)
        if left <= 0 or slots <= 0:
            break
        closure = np.minimum(x.gain, sel.rem[x.e_comp])
        value = np.bincount(x.e_cand, weights=closure, minlength=n) * x.p
        adjusted = value * x.mult if x.at_risk else value  # mult is all ones otherwise
        # Bundles with missing prerequisites get their cost and value summed in copies; the
        # arrays are copied only when some candidate has one (few per employee do).
        cost, bundle_value, bundle_adjusted = x.hours_c, value, adjusted
        needs: dict[int, list[int]] = {}
        too_long: list[int] = []
        for j in x.pre_cands:
            if sel.chosen_c[j]:
                continue
            need = known.get(j)
            if need is None:
                # Never None here: blocked candidates are not in pre_cands, and taking more
                # courses cannot make an inactive prerequisite necessary.
                need = known[j] = _needed(cat, int(ci[j]), sel.taken, x.ongoing) or []
            if not need:
                continue
            if not needs:
                cost, bundle_value, bundle_adjusted = cost.copy(), value.copy(), adjusted.copy()
            needs[j] = need
            if len(need) + 1 > slots:
                too_long.append(j)
            for q in need:
                cost[j] += hours[q]
                jq = x.cand_pos.get(q)
                if jq is not None:
                    bundle_value[j] += value[jq]
                    bundle_adjusted[j] += adjusted[jq]
        ok = sel.open_c & (cost <= left)
        ok &= bundle_value >= min_value
        if too_long:
            ok[too_long] = False
        if not ok.any():
            break
        ratio = np.where(ok, bundle_adjusted / np.maximum(cost, _EPS), -np.inf)
        j = int(ratio.argmax())
        bundle = [*needs.get(j, ()), int(ci[j])]
        if first_pick is None:
            first_pick = bundle
            s = int(np.where(ok, bundle_adjusted, -np.inf).argmax())
            best_single = [*needs.get(s, ()), int(ci[s])]
        _add(x, sel, bundle)
        added = frozenset(bundle)
        known = {k: v for k, v in known.items() if ancestors[int(ci[k])].isdisjoint(added)}
    return first_pick, best_single


def _fill_order(x: _Context, sel: _Selection) -> Iterator[int]:
    """Courses to top up to min_jp, best first: the ranker's candidates, then the catalog.

    Preferred: courses on a competency with remaining gap, then on one the position requires,
    then (candidates) by value and ranker score, (catalog) by risk-friendly format when at risk.
    """
    live = sel.rem > _EPS
    if x.n:
        on_gap = np.bincount(x.e_cand, weights=live[x.e_comp], minlength=x.n) > 0
        on_pos = np.bincount(x.e_cand, weights=x.useful_comp[x.e_comp], minlength=x.n) > 0
        closure = np.minimum(x.gain, sel.rem[x.e_comp])
        value = np.bincount(x.e_cand, weights=closure, minlength=x.n) * x.p * x.mult
        for j in np.lexsort((-x.score, -value, ~on_pos, ~on_gap)).tolist():
            if not x.blocked[j]:
                yield int(x.ci[j])
    cat = x.cat
    pool = np.flatnonzero(cat.active & ~x.done & ~x.is_cand)
    if len(pool) == 0:
        return
    n_gap = np.bincount(cat.entry_course, weights=live[cat.entry_comp], minlength=cat.n_courses)
    n_pos = np.bincount(
        cat.entry_course, weights=x.useful_comp[cat.entry_comp], minlength=cat.n_courses
    )
    friendly = cat.risk_factor if x.at_risk else np.ones(cat.n_courses)
    keys = (cat.topo_rank[pool], -friendly[pool], n_pos[pool] <= 0, n_gap[pool] <= 0)
    yield from pool[np.lexsort(keys)].tolist()


def _fill(x: _Context, sel: _Selection, budget: int, min_jp: int, max_courses: int) -> None:
    """Add the best-preferred courses that fit until the path reaches min_jp."""
    if sel.hours >= min_jp:
        return
    hours = x.cat.hours_list
    for course in _fill_order(x, sel):
        if course in sel.taken:
            continue
        need = _needed(x.cat, course, sel.taken, x.ongoing)
        if need is None:
            continue
        cost = hours[course] + sum(hours[q] for q in need)
        if sel.hours + cost > budget or len(sel.order) + len(need) + 1 > max_courses:
            continue
        _add(x, sel, [*need, course])
        if sel.hours >= min_jp or len(sel.order) >= max_courses:
            return


def _select(
    x: _Context,
    forced: Sequence[int],
    budget: int,
    min_jp: int,
    max_courses: int,
    min_value: float,
) -> tuple[_Selection, list[int] | None, list[int] | None]:
    sel = _Selection(x)
    if forced:
        _add(x, sel, forced)
    first, single = _greedy(x, sel, budget, max_courses, min_value)
    _fill(x, sel, budget, min_jp, max_courses)
    return sel, first, single


def _repair(
    x: _Context, base: _Selection, budget: int, min_jp: int, max_courses: int, min_value: float
) -> _Selection | None:
    """Find a valid path reaching min_jp when greedy + fill did not, by forcing courses in.

    Breadth-first over sets of forced courses (each closed under prerequisites), completing
    each with greedy + fill. Exact: if some valid path T reaches min_jp, then T has a course
    outside every short completion S (else hours(T) <= hours(S)), so forcing it keeps the
    forced set inside T; with `budget >= 2 * min_jp` the first forced course already succeeds.
    Bounded by `REPAIR_MAX_TRIES` completions per employee.
    """
    hours = x.cat.hours_list
    rank = x.cat.topo_rank
    seen: set[frozenset[int]] = set()
    queue: deque[tuple[tuple[int, ...], _Selection]] = deque([((), base)])
    tries = 0
    while queue:
        forced, sel = queue.popleft()
        forced_set = set(forced)
        for course in _fill_order(x, sel):
            if course in sel.taken:
                continue
            need = _needed(x.cat, course, x.completed | forced_set, x.ongoing)
            if need is None:
                continue
            new = forced_set.union(need, (course,))
            key = frozenset(new)
            if key in seen or len(new) > max_courses or sum(hours[i] for i in new) > budget:
                continue
            seen.add(key)
            tries += 1
            if tries > REPAIR_MAX_TRIES:
                return None
            ordered = tuple(sorted(new, key=rank.__getitem__))
            found, _, _ = _select(x, ordered, budget, min_jp, max_courses, min_value)
            if found.hours >= min_jp:
                return found
            queue.append((ordered, found))
    return None


def _steps(x: _Context, sel: _Selection, min_jp: int, min_value: float) -> list[PathStep]:
    """Order the chosen courses and write their reasons."""
    cat = x.cat
    chosen = set(sel.order)
    dependents: dict[int, list[int]] = {i: [] for i in sel.order}
    indegree = dict.fromkeys(sel.order, 0)
    for i in sel.order:
        for q in cat.prerequisites[i]:
            if q in chosen:
                dependents[q].append(i)
                indegree[i] += 1

    def key(i: int) -> tuple[float, float, int, int]:
        return (float(cat.entry_level[i]), -sel.value[i], int(cat.topo_rank[i]), i)

    ready = [key(i) for i in sel.order if indegree[i] == 0]
    heapq.heapify(ready)
    sequence: list[int] = []
    while ready:
        i = heapq.heappop(ready)[-1]
        sequence.append(i)
        for d in dependents[i]:
            indegree[d] -= 1
            if indegree[d] == 0:
                heapq.heappush(ready, key(d))
    position = {i: k for k, i in enumerate(sequence)}

    steps = []
    names = cat.competency_names
    for k, i in enumerate(sequence, start=1):
        parts: list[reasons.Reason] = []
        value = sel.value[i]
        if value >= min_value and sel.main[i] >= 0:
            m = sel.main[i]
            current = None if math.isnan(x.current[m]) else float(x.current[m])
            parts.append(reasons.close_gap(names[m], current, float(x.required[m])))
        deps = sorted(dependents[i], key=position.__getitem__)
        if deps:
            parts.append(reasons.prerequisite_for([cat.titles[d] for d in deps]))
        if not parts:
            m = _fill_competency(x, sel, i)
            name = names[m] if m >= 0 else None
            fill = reasons.min_jp_fill if x.has_gaps else reasons.no_gap_maintenance
            parts.append(fill(name, min_jp))
        adapted = x.at_risk and bool(cat.risk_factor[i] > 1.0)
        if adapted:
            parts.append(
                reasons.risk_adaptation(
                    cat.modes[i], int(cat.hours[i]), low_barrier_mode=bool(cat.low_barrier[i])
                )
            )
        reason = reasons.combine(parts)
        j = x.cand_pos.get(i)
        steps.append(
            PathStep(
                order=k,
                course_id=cat.course_ids[i],
                title=cat.titles[i],
                hours_jp=int(cat.hours[i]),
                competency_ids=cat.course_competency_ids[i],
                score=value,
                p_complete=float(x.p[j]) if j is not None else None,
                reason_id=reason.id,
                reason_en=reason.en,
                reason_codes=tuple(reason.code.split("+")),
                is_prerequisite_for=tuple(cat.course_ids[d] for d in deps),
                adapted_for_risk=adapted,
            )
        )
    return steps


def _fill_competency(x: _Context, sel: _Selection, course: int) -> int:
    """The competency a fill course is named after: a remaining gap, else a required one."""
    cat = x.cat
    comps = cat.entry_comp[cat.entry_ptr[course] : cat.entry_ptr[course + 1]]
    if len(comps) == 0:
        return -1
    for k in comps:
        if sel.rem[k] > _EPS:
            return int(k)
    for k in comps:
        if x.useful_comp[k]:
            return int(k)
    return int(comps[0])


# --- public entry points --------------------------------------------------------------------------


def build_path(
    employee: EmployeeState,
    scored: Candidates | pd.DataFrame | None,
    catalog: Catalog,
    jp_budget: int = 40,
    min_jp: int = c.MIN_JP_PER_YEAR,
    risk: float | None = None,
    risk_threshold: float = 0.5,
    max_courses: int | None = None,
    *,
    min_value: float = DEFAULT_MIN_VALUE,
) -> list[PathStep]:
    """The ordered training path of one employee.

    `scored` holds the ranker's candidates (a `Candidates`, or a frame in the layout of
    `candidates_from_frame`, rows of other NIPs ignored). Selection is described in the module
    docstring; `min_jp` is reached whenever a valid path within `jp_budget` (and
    `max_courses`) can reach it. Order: prerequisites first, then by the course's lowest band
    min_level, then by score. When `risk >= risk_threshold`, low-barrier and short courses
    have their value multiplied by `RISK_MODE_FACTOR` / `RISK_SHORT_FACTOR`.

    >>> import pandas as pd
    >>> courses = pd.DataFrame({"course_id": ["A"], "title": ["Pelayanan Prima"],
    ...     "provider": ["BPSDM"], "mode": ["klasikal"], "hours_jp": [24], "active": [True]})
    >>> bands = pd.DataFrame({"course_id": ["A"], "competency_id": ["PP"],
    ...     "min_level": [2], "target_level": [3]})
    >>> cat = Catalog.from_frames(courses, bands, None, {"PP": "Pelayanan Publik"})
    >>> emp = EmployeeState("199001012015031001", {"PP": (2.0, 3.0)})
    >>> step = build_path(emp, Candidates.from_arrays(cat, ["A"], [0.9]), cat)[0]
    >>> step.course_id, step.reason_en
    ('A', 'Closes the gap in Pelayanan Publik: level 2 → 3 required.')
    """
    if jp_budget < 0 or min_jp < 0:
        raise ValueError("jp_budget and min_jp must be >= 0")
    if max_courses is not None and max_courses < 0:
        raise ValueError("max_courses must be >= 0")
    if isinstance(scored, pd.DataFrame):
        frame = scored.loc[scored[c.NIP] == employee.nip] if c.NIP in scored else scored
        if c.NIP not in frame:
            frame = frame.assign(**{c.NIP: employee.nip})
        scored = candidates_from_frame(frame, catalog).get(employee.nip)
    cand = scored if scored is not None else Candidates.empty()
    limit = max_courses if max_courses is not None else catalog.n_courses
    x = _prepare(employee, cand, catalog, risk, risk_threshold)
    sel, first, single = _select(x, (), jp_budget, min_jp, limit, min_value)
    if single is not None and single != first:
        alt, _, _ = _select(x, single, jp_budget, min_jp, limit, min_value)
        reached, alt_reached = sel.hours >= min_jp, alt.hours >= min_jp
        if (alt_reached, alt.objective) > (reached, sel.objective + _EPS):
            sel = alt
    if sel.hours < min_jp <= jp_budget:
        repaired = _repair(x, sel, jp_budget, min_jp, limit, min_value)
        if repaired is not None:
            sel = repaired
    return _steps(x, sel, min_jp, min_value)


def build_paths(
    employees: Sequence[EmployeeState],
    candidates: Mapping[str, Candidates] | Sequence[Candidates],
    catalog: Catalog,
    jp_budget: int = 40,
    min_jp: int = c.MIN_JP_PER_YEAR,
    risks: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
    risk_threshold: float = 0.5,
    max_courses: int | None = None,
    *,
    min_value: float = DEFAULT_MIN_VALUE,
) -> list[list[PathStep]]:
    """`build_path` for many employees; candidates and risks by NIP or aligned with employees.

    An employee without candidates still gets a path filled from the catalog.
    """
    by_nip = isinstance(candidates, Mapping)
    risk_by_nip = isinstance(risks, Mapping)
    if not by_nip and len(candidates) != len(employees):
        raise ValueError("candidates must be a mapping by nip or one entry per employee")
    if risks is not None and not risk_by_nip and len(risks) != len(employees):
        raise ValueError("risks must be a mapping by nip or one value per employee")
    empty = Candidates.empty()
    out = []
    for k, emp in enumerate(employees):
        cand = candidates.get(emp.nip, empty) if by_nip else candidates[k]  # type: ignore[union-attr,index]
        if risks is None:
            risk = None
        elif risk_by_nip:
            risk = risks.get(emp.nip)  # type: ignore[union-attr]
        else:
            risk = float(risks[k])  # type: ignore[index]
        out.append(
            build_path(
                emp,
                cand,
                catalog,
                jp_budget,
                min_jp,
                risk,
                risk_threshold,
                max_courses,
                min_value=min_value,
            )
        )
    return out


def paths_to_frame(nips: Sequence[str], paths: Sequence[Sequence[PathStep]]) -> pd.DataFrame:
    """Long frame, one row per (nip, step), columns `PATH_COLUMNS`; lists joined with ``|``."""
    rows = [
        (
            nip,
            s.order,
            s.course_id,
            s.title,
            s.hours_jp,
            "|".join(s.competency_ids),
            s.score,
            math.nan if s.p_complete is None else s.p_complete,
            s.reason_id,
            s.reason_en,
            "|".join(s.reason_codes),
            "|".join(s.is_prerequisite_for),
            s.adapted_for_risk,
        )
        for nip, path in zip(nips, paths, strict=True)
        for s in path
    ]
    frame = pd.DataFrame(rows, columns=list(PATH_COLUMNS))
    return frame.astype({"order": np.int64, c.HOURS_JP: np.int64, "adapted_for_risk": bool})
