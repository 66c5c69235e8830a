"""Which mentors may mentor which mentee: the candidate pairs the scorer and the assignment see.

The rules are hard constraints (HR policy), applied before any scoring so that the scorer never
has to learn them and the assignment can never break them:

* the mentor is active and is not the mentee;
* the mentor is more senior: a higher grade, or the same grade and a longer service (an earlier
  ``tmt_cpns``); an unknown grade or start of service never counts as senior;
* the mentor's assessed level in the mentee's focus competency is at least the mentee's required
  level and strictly above the mentee's current level (an unassessed mentee has no current level);
* optionally, the mentor works in the mentee's unit (or in a unit whose scope covers it, e.g. a
  parent unit covering its sub-units), and is not the mentee's direct supervisor.

Everything is vectorised: mentors are sorted once by (competency[, unit], level) so that each
mentee's qualified mentors form one contiguous slice, and the slices are expanded in chunks of
bounded size, so 20,000 mentees x 5,000 mentors never builds the full cross product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import columns as c

#: Mentee frame, one row per mentee: who, the focus competency (largest weighted gap), the
#: mentee's current level in it (NaN if never assessed) and the level the position requires,
#: plus the employee attributes the rules need. ``grade`` is any ordinal seniority rank
#: (the position's kelas jabatan, or ``GOLONGAN_RANK``); the same scale must be used for mentors.
MENTEE_COLUMNS = (
    c.NIP,
    c.COMPETENCY_ID,
    c.LEVEL,
    c.REQUIRED_LEVEL,
    c.UNIT_ID,
    c.GRADE,
    c.TMT_CPNS,
    c.SUPERVISOR_NIP,
)
#: Mentor frame, one row per potential mentor (usually every employee).
MENTOR_COLUMNS = (c.NIP, c.ACTIVE, c.UNIT_ID, c.GRADE, c.TMT_CPNS)
#: Level lookup, one row per (mentor, competency): the mentor's current assessed level.
LEVEL_COLUMNS = (c.NIP, c.COMPETENCY_ID, c.LEVEL)

# --- output columns -----------------------------------------------------------------------
MENTEE_LEVEL = "mentee_level"
MENTOR_LEVEL = "mentor_level"
SAME_UNIT = "same_unit"
GRADE_GAP = "grade_gap"
SERVICE_GAP_YEARS = "service_gap_years"
#: Candidate pairs: the mentee, the mentor, the focus competency and the facts a scorer uses.
CANDIDATE_COLUMNS = (
    c.MENTEE_NIP,
    c.MENTOR_NIP,
    c.COMPETENCY_ID,
    MENTEE_LEVEL,
    c.REQUIRED_LEVEL,
    MENTOR_LEVEL,
    SAME_UNIT,
    GRADE_GAP,
    SERVICE_GAP_YEARS,
)

_NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
_DEFAULT_CHUNK_PAIRS = 4_000_000

PreScore = str | Callable[[pd.DataFrame], "np.ndarray | pd.Series"]


def employee_profile(employees: pd.DataFrame, positions: pd.DataFrame) -> pd.DataFrame:
    """Per employee: the attributes the eligibility rules read, with grade = kelas jabatan.

    Serves as the mentor frame as it is, and as the right-hand side to merge onto a mentee's
    focus (``focus.merge(profile, on=NIP)``) to build the mentee frame.
    """
    grade = positions.set_index(c.POSITION_ID)[c.GRADE]
    out = employees[[c.NIP, c.ACTIVE, c.UNIT_ID, c.TMT_CPNS, c.SUPERVISOR_NIP]].copy()
    out[c.GRADE] = employees[c.POSITION_ID].map(grade).astype("Int64")
    return out[[c.NIP, c.ACTIVE, c.UNIT_ID, c.GRADE, c.TMT_CPNS, c.SUPERVISOR_NIP]]


def subunit_scope(units: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Map each unit to itself and all its descendants (``parent_unit_id`` tree).

    Passed as ``unit_scope``, it lets a mentor in a parent unit mentor the staff of its
    sub-units, while a mentor in a sub-unit stays within it.
    """
    parent = dict(zip(units[c.UNIT_ID], units[c.PARENT_UNIT_ID], strict=True))
    scope: dict[str, set[str]] = {u: {u} for u in parent}
    for unit in parent:
        seen = {unit}
        up = parent[unit]
        while isinstance(up, str):
            if up in seen:
                raise ValueError(f"unit hierarchy has a cycle through {up!r}")
            seen.add(up)
            scope.setdefault(up, {up}).add(unit)
            up = parent.get(up)
    return {u: frozenset(s) for u, s in scope.items()}


def eligible_pairs(
    mentees: pd.DataFrame,
    mentors: pd.DataFrame,
    levels: pd.DataFrame,
    *,
    same_unit: bool = False,
    unit_scope: Mapping[str, Iterable[str]] | None = None,
    exclude_supervisor: bool = False,
    top_n: int | None = None,
    pre_score: PreScore = MENTOR_LEVEL,
    chunk_pairs: int = _DEFAULT_CHUNK_PAIRS,
) -> pd.DataFrame:
    """All (mentee, mentor) pairs that satisfy the eligibility rules, as ``CANDIDATE_COLUMNS``.

    Parameters
    ----------
    mentees, mentors, levels
        Frames with (at least) ``MENTEE_COLUMNS``, ``MENTOR_COLUMNS`` and ``LEVEL_COLUMNS``.
        NIPs are unique in ``mentees`` and ``mentors``; (nip, competency) unique in ``levels``.
        A mentee with no focus competency gets no candidates.
    same_unit
        Only mentors of the mentee's unit, or, with ``unit_scope``, of any unit whose scope
        holds the mentee's unit.
    unit_scope
        Mentor's unit -> the units whose staff that unit's mentors may mentor (e.g.
        ``subunit_scope(units)``); a unit always covers itself.
    exclude_supervisor
        Never pair a mentee with their direct supervisor.
    top_n, pre_score
        Keep only each mentee's ``top_n`` candidates by ``pre_score`` (a candidate column, or
        a row-wise function of the candidate frame), ties to the lower mentor NIP.
    chunk_pairs
        Bound on the pre-filter pairs materialised at once (memory, not results).

    Returns
    -------
    DataFrame
        One row per eligible pair, mentees in input order, each mentee's mentors by descending
        level then NIP.
    """
    _require(mentees, MENTEE_COLUMNS, "mentees")
    _require(mentors, MENTOR_COLUMNS, "mentors")
    _require(levels, LEVEL_COLUMNS, "levels")
    if top_n is not None and top_n < 1:
        raise ValueError("top_n must be at least 1")
    for frame, name, key in (
        (mentees, "mentees", [c.NIP]),
        (mentors, "mentors", [c.NIP]),
        (levels, "levels", [c.NIP, c.COMPETENCY_ID]),
    ):
        if frame.duplicated(key).any():
            raise ValueError(f"{name}: duplicate {', '.join(key)}")
    required = mentees[c.REQUIRED_LEVEL].to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(required[mentees[c.COMPETENCY_ID].notna().to_numpy()]).any():
        raise ValueError("mentees: a focus competency without a required level")

    # Mentor-side rows: one per (active mentor, assessed competency[, covered unit]).
    active = mentors[mentors[c.ACTIVE].to_numpy(dtype=bool)]
    mentor_pos = pd.Index(active[c.NIP]).get_indexer(levels[c.NIP])
    known = mentor_pos >= 0
    row_mentor = mentor_pos[known]
    row_comp = levels[c.COMPETENCY_ID].to_numpy(dtype=object)[known]
    row_level = levels[c.LEVEL].to_numpy(dtype="float64", na_value=np.nan)[known]
    ok = ~pd.isna(row_comp) & ~np.isnan(row_level)
    row_mentor, row_comp, row_level = row_mentor[ok], row_comp[ok], row_level[ok]

    comp_codes, _ = pd.factorize(
        np.concatenate([mentees[c.COMPETENCY_ID].to_numpy(dtype=object), row_comp])
    )
    mentee_key = comp_codes[: len(mentees)].astype(np.int64)
    row_key = comp_codes[len(mentees) :].astype(np.int64)

    if same_unit:
        mentor_units = active[c.UNIT_ID].to_numpy(dtype=object)
        row_mentor, row_key, row_level, row_unit = _expand_unit_scope(
            row_mentor, row_key, row_level, mentor_units, unit_scope
        )
        unit_codes, uniques = pd.factorize(
            np.concatenate([mentees[c.UNIT_ID].to_numpy(dtype=object), row_unit])
        )
        n_units = max(len(uniques), 1)
        mentee_unit = unit_codes[: len(mentees)].astype(np.int64)
        row_unit_code = unit_codes[len(mentees) :].astype(np.int64)
        placed = row_unit_code >= 0  # a mentor without a unit serves no unit
        row_mentor, row_level = row_mentor[placed], row_level[placed]
        row_key = row_key[placed] * n_units + row_unit_code[placed]
        valid = (mentee_key >= 0) & (mentee_unit >= 0)
        mentee_key = np.where(valid, mentee_key * n_units + mentee_unit, -1)

    # Sort mentor rows by key, then level descending, then mentor NIP: for each mentee the
    # qualified mentors are then one slice [start, end) found by two binary searches.
    uniq_levels, level_rank = np.unique(row_level, return_inverse=True)
    n_levels = max(len(uniq_levels), 1)
    composite = row_key * n_levels + (n_levels - 1 - level_rank)
    nip_rank = pd.Index(active[c.NIP]).argsort().argsort()
    order = np.lexsort((nip_rank[row_mentor], composite))
    composite, row_mentor, row_level = composite[order], row_mentor[order], row_level[order]

    current = mentees[c.LEVEL].to_numpy(dtype="float64", na_value=np.nan)
    min_rank = np.searchsorted(uniq_levels, required, side="left")
    above_current = np.searchsorted(uniq_levels, np.nan_to_num(current, nan=-np.inf), "right")
    min_rank = np.maximum(min_rank, above_current)
    start = np.searchsorted(composite, mentee_key * n_levels, side="left")
    end = np.searchsorted(composite, mentee_key * n_levels + (n_levels - 1 - min_rank), "right")
    count = np.where((mentee_key >= 0) & (min_rank < len(uniq_levels)), end - start, 0)

    ctx = _Context.build(mentees, active, current, required)
    pieces = [
        _chunk_pairs(ctx, lo, hi, start, count, row_mentor, row_level, exclude_supervisor)
        for lo, hi in _chunks(count, chunk_pairs)
    ]
    if top_n is not None:
        pieces = [top_n_per_mentee(p, top_n, pre_score) for p in pieces]
    if not pieces:
        return _empty_candidates()
    return pd.concat(pieces, ignore_index=True)


def top_n_per_mentee(
    candidates: pd.DataFrame,
    n: int,
    score: PreScore = MENTOR_LEVEL,
    *,
    col_mentee: str = c.MENTEE_NIP,
    col_mentor: str = c.MENTOR_NIP,
) -> pd.DataFrame:
    """Each mentee's ``n`` best candidates by ``score`` (higher first, ties to lower mentor).

    Pruning bounds the assignment's size; ``benchmarks/bench_assignment.py`` measures what it
    costs in total benefit. Row order of the survivors is kept.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if candidates.empty:
        return candidates
    values = candidates[score] if isinstance(score, str) else score(candidates)
    values = np.asarray(values, dtype="float64")
    mentee_code = pd.factorize(candidates[col_mentee])[0]
    mentor_code = pd.factorize(candidates[col_mentor], sort=True)[0]
    order = np.lexsort((mentor_code, -np.nan_to_num(values, nan=-np.inf), mentee_code))
    sorted_mentee = mentee_code[order]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_mentee)) + 1]
    group_start = np.repeat(first, np.diff(np.r_[first, len(order)]))
    keep = np.zeros(len(order), dtype=bool)
    keep[order[np.arange(len(order)) - group_start < n]] = True
    return candidates[keep].reset_index(drop=True)


# --- internals ----------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [col for col in columns if col not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")


def _expand_unit_scope(
    row_mentor: np.ndarray,
    row_key: np.ndarray,
    row_level: np.ndarray,
    mentor_units: np.ndarray,
    unit_scope: Mapping[str, Iterable[str]] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat each mentor row once per unit its mentor may serve."""
    units = mentor_units[row_mentor]
    if unit_scope is None:
        return row_mentor, row_key, row_level, units
    scope_units, scope_idx = pd.factorize(units)
    covered = [
        sorted(set(unit_scope.get(u, ())) | {u}) if isinstance(u, str) else [u] for u in scope_idx
    ]
    sizes = np.array([len(cov) for cov in covered], dtype=np.int64)
    flat = np.array([u for cov in covered for u in cov], dtype=object)
    offsets = np.r_[0, np.cumsum(sizes)]
    per_row = sizes[scope_units]
    rep = np.repeat(np.arange(len(row_mentor)), per_row)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    unit_out = flat[offsets[scope_units][rep] + within]
    return row_mentor[rep], row_key[rep], row_level[rep], unit_out


@dataclass(frozen=True)
class _Context:
    """Numeric arrays of both sides (mentees ``e_*``, mentors ``m_*``), built once."""

    e_nip: np.ndarray
    m_nip: np.ndarray
    e_sup: np.ndarray
    nips: np.ndarray
    e_unit: np.ndarray
    m_unit: np.ndarray
    e_grade: np.ndarray
    m_grade: np.ndarray
    e_tmt: np.ndarray
    m_tmt: np.ndarray
    e_comp: np.ndarray
    e_current: np.ndarray
    e_required: np.ndarray

    @classmethod
    def build(
        cls, mentees: pd.DataFrame, mentors: pd.DataFrame, current: np.ndarray, req: np.ndarray
    ) -> _Context:
        nip_codes, nips = pd.factorize(
            np.concatenate(
                [
                    mentees[c.NIP].to_numpy(dtype=object),
                    mentors[c.NIP].to_numpy(dtype=object),
                    mentees[c.SUPERVISOR_NIP].to_numpy(dtype=object),
                ]
            )
        )
        ne, nm = len(mentees), len(mentors)
        unit_codes, _ = pd.factorize(
            np.concatenate(
                [mentees[c.UNIT_ID].to_numpy(dtype=object), mentors[c.UNIT_ID].to_numpy(object)]
            )
        )
        return cls(
            e_nip=nip_codes[:ne],
            m_nip=nip_codes[ne : ne + nm],
            e_sup=nip_codes[ne + nm :],
            nips=np.asarray(nips, dtype=object),
            e_unit=unit_codes[:ne],
            m_unit=unit_codes[ne:],
            e_grade=mentees[c.GRADE].to_numpy(dtype="float64", na_value=np.nan),
            m_grade=mentors[c.GRADE].to_numpy(dtype="float64", na_value=np.nan),
            e_tmt=_tmt_ns(mentees[c.TMT_CPNS]),
            m_tmt=_tmt_ns(mentors[c.TMT_CPNS]),
            e_comp=mentees[c.COMPETENCY_ID].to_numpy(dtype=object),
            e_current=current,
            e_required=req,
        )


def _tmt_ns(values: pd.Series) -> np.ndarray:
    """Start of service as float nanoseconds, NaN when unknown (never senior)."""
    dt = pd.to_datetime(values).astype("datetime64[ns]")
    out = dt.to_numpy().view(np.int64).astype("float64")
    out[dt.isna().to_numpy()] = np.nan
    return out


def _chunks(count: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive mentee ranges whose pair count stays near ``limit`` (whole mentees)."""
    if len(count) == 0 or count.sum() == 0:
        return []
    cum = np.cumsum(count)
    bounds = [0]
    while bounds[-1] < len(count):
        base = cum[bounds[-1] - 1] if bounds[-1] > 0 else 0
        nxt = int(np.searchsorted(cum, base + limit, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    bounds[-1] = min(bounds[-1], len(count))
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _chunk_pairs(
    ctx: _Context,
    lo: int,
    hi: int,
    start: np.ndarray,
    count: np.ndarray,
    row_mentor: np.ndarray,
    row_level: np.ndarray,
    exclude_supervisor: bool,
) -> pd.DataFrame:
    cnt = count[lo:hi]
    e = np.repeat(np.arange(lo, hi), cnt)
    within = np.arange(len(e)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    rows = start[lo:hi].repeat(cnt) + within
    m = row_mentor[rows]

    grade_gap = ctx.m_grade[m] - ctx.e_grade[e]
    service_gap = ctx.e_tmt[e] - ctx.m_tmt[m]
    senior = (grade_gap > 0) | ((grade_gap == 0) & (service_gap > 0))
    keep = senior & (ctx.m_nip[m] != ctx.e_nip[e])
    if exclude_supervisor:
        keep &= ctx.m_nip[m] != ctx.e_sup[e]
    e, m, rows = e[keep], m[keep], rows[keep]
    same = (ctx.m_unit[m] == ctx.e_unit[e]) & (ctx.e_unit[e] >= 0)
    return pd.DataFrame(
        {
            c.MENTEE_NIP: pd.array(ctx.nips[ctx.e_nip[e]], dtype="str"),
            c.MENTOR_NIP: pd.array(ctx.nips[ctx.m_nip[m]], dtype="str"),
            c.COMPETENCY_ID: pd.array(ctx.e_comp[e], dtype="str"),
            MENTEE_LEVEL: ctx.e_current[e],
            c.REQUIRED_LEVEL: ctx.e_required[e],
            MENTOR_LEVEL: row_level[rows],
            SAME_UNIT: same,
            GRADE_GAP: grade_gap[keep],
            SERVICE_GAP_YEARS: service_gap[keep] / _NS_PER_YEAR,
        }
    )


def _empty_candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.MENTEE_NIP: pd.array([], dtype="str"),
            c.MENTOR_NIP: pd.array([], dtype="str"),
            c.COMPETENCY_ID: pd.array([], dtype="str"),
            MENTEE_LEVEL: np.array([], dtype="float64"),
            c.REQUIRED_LEVEL: np.array([], dtype="float64"),
            MENTOR_LEVEL: np.array([], dtype="float64"),
            SAME_UNIT: np.array([], dtype=bool),
            GRADE_GAP: np.array([], dtype="float64"),
            SERVICE_GAP_YEARS: np.array([], dtype="float64"),
        }
    )
