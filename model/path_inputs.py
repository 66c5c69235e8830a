"""What goes into and comes out of the path builder: an employee's gaps and history
(`EmployeeState`), their scored candidates as arrays (`Candidates`, `candidates_from_frame`),
the chosen steps (`PathStep`) and the long path frame (`paths_to_frame`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features import columns as c
from features.competency import CURRENT_LEVEL, REQUIRED
from model.path_catalog import Catalog

#: Column names of the scored-candidates frame (one row per employee, course, competency).
P_COMPLETE = "p_complete"


EXPECTED_GAIN = "expected_gain"


RANK_SCORE = "rank_score"


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
            cols = catalog.entry_comp[concat_ranges(starts, stops)]
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


def concat_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenated ranges starts[j]:stops[j] without a Python loop."""
    counts = stops - starts
    total = int(counts.sum())
    offs = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offs, counts)


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
