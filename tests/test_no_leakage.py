"""No leakage: features at `as_of` cannot tell the real future from no future or a wild one.

For several `as_of` dates, `build_features` on the full tables must equal (frame by frame,
exactly) `build_features` on (a) the tables with every post-`as_of` fact removed, written here
independently of `features.as_of`, and (b) the tables with every post-`as_of` fact mutated to
extreme values. A control test checks that the comparison is not vacuous.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import columns as c
from features.build import FeatureSet, build_features
from features.io import empty_table

FRAMES = ("competency", "evaluation", "courses", "course_competencies", "mentors", "mentor_stats")
AS_OF_DATES = ("2019-06-30", "2021-12-31", "2023-03-15")


def typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame to the typed-table dtypes of the contract."""
    dtypes = empty_table(name).dtypes
    return frame[list(dtypes.index)].astype(dict(dtypes))


def random_tables(
    n_employees: int = 300,
    seed: int = 0,
    *,
    assessments_per_employee: int = 8,
    enrollments_per_employee: int = 5,
) -> dict[str, pd.DataFrame]:
    """Valid typed tables with history spread over 2015-2025 (vectorised: scales to 100k)."""
    rng = np.random.default_rng(seed)
    n = n_employees
    day0 = np.datetime64("2015-01-01")
    span = int((np.datetime64("2025-12-31") - day0).astype(int))

    def dates(size: int, low: np.datetime64 = day0, high: int = span) -> np.ndarray:
        return (low + rng.integers(0, high, size)).astype("datetime64[ns]")

    units = pd.DataFrame({c.UNIT_ID: ["U1", "U2", "U3"], c.NAME: ["A", "B", "C"],
                          c.PARENT_UNIT_ID: [np.nan, "U1", "U1"]})  # fmt: skip
    comp_ids = [f"K{i}" for i in range(8)]
    competencies = pd.DataFrame(
        {c.COMPETENCY_ID: comp_ids, c.NAME: comp_ids,
         c.KIND: [c.COMPETENCY_KINDS[i % 3] for i in range(8)]}
    )  # fmt: skip
    pos_ids = [f"P{i}" for i in range(5)]
    positions = pd.DataFrame(
        {c.POSITION_ID: pos_ids, c.TITLE: pos_ids, c.CATEGORY: list(c.POSITION_CATEGORIES),
         c.GRADE: [15, 12, 9, 6, 8]}
    )  # fmt: skip
    req = [
        (p, k, int(rng.integers(2, 5))) for i, p in enumerate(pos_ids) for k in comp_ids[i : i + 4]
    ]
    requirements = pd.DataFrame(req, columns=[c.POSITION_ID, c.COMPETENCY_ID, c.REQUIRED_LEVEL])

    birth = (np.datetime64("1965-01-01") + rng.integers(0, 30 * 365, n)).astype("datetime64[D]")
    tmt = (np.datetime64("2005-01-01") + rng.integers(0, 20 * 365, n)).astype("datetime64[M]")
    gender = rng.integers(1, 3, n)
    nips = [
        f"{str(b).replace('-', '')}{str(t).replace('-', '')}{g}{i % 1000:03d}"
        for b, t, g, i in zip(birth, tmt, gender, range(n), strict=True)
    ]
    employees = pd.DataFrame(
        {
            c.NIP: nips,
            c.NAME: [f"E{i}" for i in range(n)],
            c.GENDER: np.where(gender == 1, "L", "P"),
            c.BIRTH_DATE: birth.astype("datetime64[ns]"),
            c.TMT_CPNS: tmt.astype("datetime64[D]").astype("datetime64[ns]"),
            c.GOLONGAN: rng.choice(c.GOLONGAN_VALUES, n),
            c.EDUCATION: rng.choice(c.EDUCATION_VALUES, n),
            c.UNIT_ID: rng.choice(units[c.UNIT_ID], n),
            c.POSITION_ID: rng.choice(pos_ids, n),
            c.SUPERVISOR_NIP: np.where(rng.random(n) < 0.5, np.roll(nips, 1), None),
            c.ACTIVE: rng.random(n) < 0.9,
        }
    ).drop_duplicates(c.NIP)
    nips = employees[c.NIP].to_numpy()
    n = len(nips)

    m = assessments_per_employee * n
    a_dates = dates(m)
    dup = rng.random(m) < 0.1  # same-day assessments, averaged into one daily level
    a_dates[1:][dup[1:]] = a_dates[:-1][dup[1:]]
    a_nip = rng.choice(nips, m)
    a_nip[1:][dup[1:]] = a_nip[:-1][dup[1:]]
    a_comp = rng.choice(comp_ids, m)
    a_comp[1:][dup[1:]] = a_comp[:-1][dup[1:]]
    assessments = pd.DataFrame(
        {c.NIP: a_nip, c.COMPETENCY_ID: a_comp, c.LEVEL: rng.integers(2, 11, m) / 2.0,
         c.ASSESSED_ON: a_dates, c.METHOD: rng.choice(c.ASSESSMENT_METHODS, m)}
    )  # fmt: skip

    years = np.arange(2015, 2026)
    r_nip = np.repeat(nips, len(years))
    r_year = np.tile(years, n)
    keep = rng.random(len(r_nip)) < 0.8
    cells = list(c.SKP_MATRIX)
    pick = rng.integers(0, len(cells), keep.sum())
    reviews = pd.DataFrame(
        {c.NIP: r_nip[keep], c.YEAR: r_year[keep],
         c.WORK_RESULT: [cells[i][0] for i in pick], c.WORK_BEHAVIOR: [cells[i][1] for i in pick],
         c.RATING: [c.SKP_MATRIX[cells[i]] for i in pick]}
    )  # fmt: skip

    course_ids = [f"C{i}" for i in range(12)]
    courses = pd.DataFrame(
        {c.COURSE_ID: course_ids, c.TITLE: course_ids, c.PROVIDER: rng.choice(["BPSDM", "LAN"], 12),
         c.MODE: [c.COURSE_MODES[i % 8] for i in range(12)], c.HOURS_JP: rng.integers(4, 40, 12),
         c.ACTIVE: np.arange(12) != 11}
    )  # fmt: skip
    bands = [
        (cid, comp_ids[(i + j) % 8], lo, lo + 1 + j)
        for i, cid in enumerate(course_ids)
        for j, lo in enumerate((1 + i % 2, 2)[: 1 + i % 2])
    ]
    course_competencies = pd.DataFrame(
        bands, columns=[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL]
    )
    prerequisites = pd.DataFrame({c.COURSE_ID: ["C1", "C2"], c.PREREQUISITE_ID: ["C0", "C1"]})

    e = enrollments_per_employee * n
    start = dates(e)
    end = start + rng.integers(0, 90, e).astype("timedelta64[D]")
    status = rng.choice(["completed", "completed", "completed", "dropped", "no_show", "ongoing"], e)
    end = np.where(status == "ongoing", np.datetime64("NaT"), end)
    end = np.where((status == "no_show") & (rng.random(e) < 0.5), np.datetime64("NaT"), end)
    score = np.where(status == "completed", rng.uniform(40, 100, e).round(1), np.nan)
    enrollments = pd.DataFrame(
        {c.NIP: rng.choice(nips, e), c.COURSE_ID: rng.choice(course_ids, e), c.START_DATE: start,
         c.END_DATE: end, c.STATUS: status, c.SCORE: score}
    )  # fmt: skip

    k = max(n // 2, 1)
    mentor = rng.integers(0, n, k)
    mentee = (mentor + rng.integers(1, max(n, 2), k)) % n
    m_start = dates(k)
    m_length = rng.integers(30, 200, k).astype("timedelta64[D]")
    m_end = np.where(rng.random(k) < 0.85, m_start + m_length, np.datetime64("NaT"))
    outcome = pd.array(np.where(~pd.isna(m_end), rng.integers(1, 6, k), 0), dtype="Int64")
    outcome[outcome == 0] = pd.NA
    mentorships = pd.DataFrame(
        {c.MENTOR_NIP: nips[mentor], c.MENTEE_NIP: nips[mentee],
         c.COMPETENCY_ID: rng.choice(comp_ids, k), c.START_DATE: m_start, c.END_DATE: m_end,
         c.OUTCOME: outcome}
    ).loc[lambda f: f[c.MENTOR_NIP] != f[c.MENTEE_NIP]]  # fmt: skip

    raw = {
        c.UNITS: units,
        c.COMPETENCIES: competencies,
        c.POSITIONS: positions,
        c.POSITION_REQUIREMENTS: requirements,
        c.EMPLOYEES: employees,
        c.ASSESSMENTS: assessments,
        c.PERFORMANCE_REVIEWS: reviews,
        c.COURSES: courses,
        c.COURSE_COMPETENCIES: course_competencies,
        c.COURSE_PREREQUISITES: prerequisites,
        c.ENROLLMENTS: enrollments,
        c.MENTORSHIPS: mentorships,
    }
    return {name: typed(name, frame.reset_index(drop=True)) for name, frame in raw.items()}


# --- the future, removed and mutated --------------------------------------------------------
def _future_masks(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.Series]:
    """Per table, the rows that are wholly after `as_of` (including those of later hires)."""
    late_hire = set(tables[c.EMPLOYEES].loc[tables[c.EMPLOYEES][c.TMT_CPNS] > as_of, c.NIP])
    # The SKP of a year exists once the year is over.
    closed_through = as_of.year if (as_of.month, as_of.day) == (12, 31) else as_of.year - 1
    a, r, e, m = (
        tables[k] for k in (c.ASSESSMENTS, c.PERFORMANCE_REVIEWS, c.ENROLLMENTS, c.MENTORSHIPS)
    )
    return {
        c.EMPLOYEES: tables[c.EMPLOYEES][c.NIP].isin(late_hire),
        c.ASSESSMENTS: (a[c.ASSESSED_ON] > as_of) | a[c.NIP].isin(late_hire),
        c.PERFORMANCE_REVIEWS: (r[c.YEAR] > closed_through) | r[c.NIP].isin(late_hire),
        c.ENROLLMENTS: (e[c.START_DATE] > as_of) | e[c.NIP].isin(late_hire),
        c.MENTORSHIPS: (m[c.START_DATE] > as_of)
        | m[c.MENTOR_NIP].isin(late_hire)
        | m[c.MENTEE_NIP].isin(late_hire),
    }


def _unresolved(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.Series]:
    """Rows started by `as_of` whose outcome is only known after it."""
    e, m = tables[c.ENROLLMENTS], tables[c.MENTORSHIPS]
    known_on = e[c.END_DATE].fillna(e[c.START_DATE].where(e[c.STATUS] == "no_show"))
    return {
        c.ENROLLMENTS: ~(known_on <= as_of).fillna(False).astype(bool),
        c.MENTORSHIPS: ~(m[c.END_DATE] <= as_of).fillna(False).astype(bool),
    }


def without_future(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    future = _future_masks(tables, as_of)
    out = dict(tables)
    for name, mask in future.items():
        out[name] = tables[name].loc[~mask.to_numpy()].reset_index(drop=True)
    e = out[c.ENROLLMENTS]
    hide = _unresolved(out, as_of)[c.ENROLLMENTS]
    out[c.ENROLLMENTS] = e.assign(
        **{c.STATUS: e[c.STATUS].mask(hide, "ongoing"), c.END_DATE: e[c.END_DATE].mask(hide),
           c.SCORE: e[c.SCORE].mask(hide)}
    )  # fmt: skip
    m = out[c.MENTORSHIPS]
    hide = _unresolved(out, as_of)[c.MENTORSHIPS]
    out[c.MENTORSHIPS] = m.assign(
        **{c.END_DATE: m[c.END_DATE].mask(hide), c.OUTCOME: m[c.OUTCOME].mask(hide)}
    )
    return out


def with_wild_future(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, seed: int = 1
) -> dict[str, pd.DataFrame]:
    """Every post-`as_of` fact replaced by an extreme value (dates stay after `as_of`)."""
    rng = np.random.default_rng(seed)
    future, pending = _future_masks(tables, as_of), _unresolved(tables, as_of)
    later = as_of + pd.Timedelta(days=1)

    def later_dates(size: int) -> pd.Series:
        return later + pd.to_timedelta(rng.integers(0, 400, size), unit="D")

    out = {name: frame.copy() for name, frame in tables.items()}
    emp = out[c.EMPLOYEES]
    f = future[c.EMPLOYEES].to_numpy()
    emp.loc[f, c.GOLONGAN] = "IV/e"
    emp.loc[f, c.POSITION_ID] = tables[c.POSITIONS][c.POSITION_ID].iloc[0]
    emp.loc[f, c.TMT_CPNS] = later_dates(int(f.sum())).to_numpy()

    a = out[c.ASSESSMENTS]
    f = future[c.ASSESSMENTS].to_numpy()
    a.loc[f, c.LEVEL] = np.where(rng.random(f.sum()) < 0.5, 1.0, 5.0)
    a.loc[f & (a[c.ASSESSED_ON] > as_of).to_numpy(), c.ASSESSED_ON] = later_dates(
        int((f & (a[c.ASSESSED_ON] > as_of).to_numpy()).sum())
    ).to_numpy()

    r = out[c.PERFORMANCE_REVIEWS]
    f = future[c.PERFORMANCE_REVIEWS].to_numpy()
    r.loc[f, [c.WORK_RESULT, c.WORK_BEHAVIOR, c.RATING]] = ["di_bawah", "di_bawah", "sangat_kurang"]

    e = out[c.ENROLLMENTS]
    f = future[c.ENROLLMENTS].to_numpy()
    p = pending[c.ENROLLMENTS].to_numpy() & ~f
    e.loc[f, c.COURSE_ID] = tables[c.COURSES][c.COURSE_ID].iloc[0]
    e.loc[f & (e[c.START_DATE] > as_of).to_numpy(), c.START_DATE] = later_dates(
        int((f & (e[c.START_DATE] > as_of).to_numpy()).sum())
    ).to_numpy()
    flip = f | p
    e.loc[flip, c.STATUS] = np.where(rng.random(flip.sum()) < 0.5, "completed", "dropped")
    e.loc[flip, c.SCORE] = np.where(rng.random(flip.sum()) < 0.5, 0.0, 100.0)
    e.loc[flip, c.END_DATE] = (
        e.loc[flip, c.START_DATE].clip(lower=later) + pd.Timedelta(days=1)
    ).to_numpy()

    m = out[c.MENTORSHIPS]
    f = future[c.MENTORSHIPS].to_numpy()
    p = pending[c.MENTORSHIPS].to_numpy() & ~f
    flip = f | p
    m.loc[flip, c.OUTCOME] = np.where(rng.random(flip.sum()) < 0.5, 1, 5)
    m.loc[flip, c.END_DATE] = (
        m.loc[flip, c.START_DATE].clip(lower=later) + pd.Timedelta(days=30)
    ).to_numpy()
    return {name: typed(name, frame) for name, frame in out.items()}


def assert_same_features(left: FeatureSet, right: FeatureSet) -> None:
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), obj=name)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return random_tables(n_employees=300, seed=7)


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_future_removed_or_mutated_changes_nothing(tables, as_of):
    as_of = pd.Timestamp(as_of)
    future = _future_masks(tables, as_of)
    assert all(mask.any() for mask in future.values()), "the fixture must have a future to hide"
    assert _unresolved(tables, as_of)[c.ENROLLMENTS].any()

    full = build_features(tables, as_of)
    assert_same_features(full, build_features(without_future(tables, as_of), as_of))
    assert_same_features(full, build_features(with_wild_future(tables, as_of), as_of))


def test_changing_the_past_does_change_features(tables):
    """Control: the equality above is not vacuous, a pre-as_of edit shows up."""
    as_of = pd.Timestamp(AS_OF_DATES[1])
    edited = {name: frame.copy() for name, frame in tables.items()}
    a = edited[c.ASSESSMENTS]
    past = (a[c.ASSESSED_ON] <= as_of).to_numpy()
    a.loc[past, c.LEVEL] = 5.0 - a.loc[past, c.LEVEL] + 1.0
    e = edited[c.ENROLLMENTS]
    done = ((e[c.END_DATE] <= as_of) & (e[c.STATUS] == "completed")).to_numpy()
    e.loc[done, c.STATUS] = "dropped"
    base, changed = build_features(tables, as_of), build_features(edited, as_of)
    for name in ("competency", "evaluation", "courses", "mentors"):
        with pytest.raises(AssertionError):
            pd.testing.assert_frame_equal(getattr(base, name), getattr(changed, name))


def test_tables_from_the_io_helper_do_not_leak():
    """Same check on the project's hand-made tiny dataset, when it is available."""
    tiny = pytest.importorskip("tiny_dataset", reason="tests/tiny_dataset.py not written yet")
    tables = tiny.tiny_tables()
    dates = pd.concat([tables[c.ASSESSMENTS][c.ASSESSED_ON], tables[c.ENROLLMENTS][c.START_DATE]])
    as_of = dates.quantile(0.5).normalize()
    full = build_features(tables, as_of)
    assert_same_features(full, build_features(without_future(tables, as_of), as_of))
    assert_same_features(full, build_features(with_wild_future(tables, as_of), as_of))


@pytest.fixture(scope="module")
def demo_tables() -> dict[str, pd.DataFrame]:
    demo = pytest.importorskip("demo_data")
    return demo.generate_demo(n_employees=400, seed=3).tables


@pytest.mark.parametrize("as_of", ["2024-06-30", "2025-12-31"])
def test_demo_dataset_does_not_leak(demo_tables, as_of):
    """Same check on the project's simulated city (realistic gaps, statuses and mentoring)."""
    tables = demo_tables
    as_of = pd.Timestamp(as_of)
    assert _unresolved(tables, as_of)[c.ENROLLMENTS].any()
    full = build_features(tables, as_of)
    assert_same_features(full, build_features(without_future(tables, as_of), as_of))
    assert_same_features(full, build_features(with_wild_future(tables, as_of), as_of))
