"""The course catalog as arrays for the path builder: course bands (CSR), hours, modes,
prerequisite lists and a topological order, built once per catalog and shared by every
employee's path; plus the risk factors that favour low-barrier and short courses.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from features import columns as c

#: When risk >= risk_threshold, the value of a course in a low-barrier mode
#: (`features.columns.LOW_BARRIER_MODES`: formats people who tend to drop out still complete) is
#: multiplied by this. 1.5 lets a coaching course with p_complete down to 2/3 of a classroom
#: course's win on the same gap, and cannot make a course that closes no gap look useful
#: (a multiple of zero is zero).
RISK_MODE_FACTOR = 1.5


#: ... and the value of a short course (<= SHORT_COURSE_JP, about one training day) by this.
RISK_SHORT_FACTOR = 1.25


SHORT_COURSE_JP = 8


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

    def without(self, unavailable: np.ndarray) -> Catalog:
        """The same catalog with the courses where `unavailable` is True treated as inactive.

        What a caller rules out (a course that is full, planned elsewhere, in a format the
        employee cannot attend) then obeys every rule an inactive course does: never in a
        path, and a course needing it as an uncompleted prerequisite waits. Shares every
        array but the availability, so it costs O(courses), not a rebuild.
        """
        mask = np.asarray(unavailable, dtype=bool)
        if mask.shape != self.active.shape:
            raise ValueError("unavailable must hold one flag per catalog course")
        if not mask.any():
            return self
        out = copy.copy(self)
        active = self.active & ~mask
        object.__setattr__(out, "active", active)
        object.__setattr__(out, "active_list", tuple(active.tolist()))
        return out

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
