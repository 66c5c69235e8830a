"""Feature pipelines on a small hand-built history with answers worked out by hand.

The story, seen at AS_OF = 2024-06-30:
- A (administrator P1, requires K1 at 3 and K2 at 4) has K1 levels 2.0 (2022-01-10), 2.5
  (2023-10-01) and a future 4.0; K3 3.0 then 3.5; never K2.
- B (also P1) has K1 2.5 (2023-06-30) and two same-day 3.0/4.0 on AS_OF; K2 4.5 (2021-06-30).
- C is inactive (still counts in global rates), D is hired after AS_OF (invisible).
Courses C1 (klasikal, 10 JP, K1 2->3), C2 (e_learning, 8 JP, K3 1->2), C3 (workshop, 12 JP,
K1 2->4 and K2 3->4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import columns as c
from features import competency as comp
from features import course_vectors as cv
from features import evaluation as ev
from features import mentor_vectors as mv
from features.as_of import AsOfTables, tables_as_of
from features.build import FeatureSet, build_features
from features.contract import TABLES
from features.io import dtype_of

AS_OF = pd.Timestamp("2024-06-30")
A = "198001012005011001"
B = "198502022010022002"
C = "197003031995031003"
D = "199804042025012004"

ROWS: dict[str, list[tuple]] = {
    c.UNITS: [("U1", "Kecamatan", None)],
    c.COMPETENCIES: [
        ("K1", "Integritas", "manajerial"),
        ("K2", "Adminduk", "teknis"),
        ("K3", "Perekat Bangsa", "sosial_kultural"),
    ],  # fmt: skip
    c.POSITIONS: [("P1", "Kepala Seksi", "administrator", 9)],
    c.POSITION_REQUIREMENTS: [("P1", "K1", 3), ("P1", "K2", 4)],
    c.EMPLOYEES: [
        (A, "A", "L", "1980-01-01", "2005-01-01", "III/c", "S1", "U1", "P1", None, True),
        (B, "B", "P", "1985-02-02", "2010-02-01", "III/a", "S1", "U1", "P1", A, True),
        (C, "C", "L", "1970-03-03", "1995-03-01", "IV/a", "S2", "U1", "P1", None, False),
        (D, "D", "P", "1998-04-04", "2025-01-01", "II/a", "SMA", "U1", "P1", A, True),
    ],
    c.ASSESSMENTS: [
        (A, "K1", 2.0, "2022-01-10", "uji_kompetensi"),
        (A, "K1", 2.5, "2023-10-01", "uji_kompetensi"),
        (A, "K1", 4.0, "2024-08-01", "uji_kompetensi"),
        (A, "K3", 3.0, "2022-05-01", "mandiri"),
        (A, "K3", 3.5, "2023-04-01", "mandiri"),
        (B, "K1", 2.5, "2023-06-30", "penilaian_360"),
        (B, "K1", 3.0, "2024-06-30", "penilaian_360"),
        (B, "K1", 4.0, "2024-06-30", "assessment_center"),
        (B, "K2", 4.5, "2021-06-30", "assessment_center"),
        (D, "K1", 5.0, "2025-02-01", "mandiri"),
    ],
    c.PERFORMANCE_REVIEWS: [
        (A, 2020, "sesuai", "sesuai", "baik"),
        (A, 2021, "di_bawah", "sesuai", "butuh_perbaikan"),
        (A, 2022, "sesuai", "di_atas", "baik"),
        (A, 2023, "di_atas", "di_atas", "sangat_baik"),
        (A, 2024, "sesuai", "di_bawah", "kurang"),
        (B, 2023, "sesuai", "sesuai", "baik"),
    ],
    c.COURSES: [
        ("C1", "Pelatihan Integritas", "BPSDM", "klasikal", 10, True),
        ("C2", "Wawasan Kebangsaan", "LAN", "e_learning", 8, True),
        ("C3", "Lokakarya Adminduk", "Dukcapil", "workshop", 12, False),
    ],
    c.COURSE_COMPETENCIES: [
        ("C1", "K1", 2, 3),
        ("C2", "K3", 1, 2),
        ("C3", "K1", 2, 4),
        ("C3", "K2", 3, 4),
    ],  # fmt: skip
    c.COURSE_PREREQUISITES: [],
    c.ENROLLMENTS: [
        (A, "C1", "2023-09-01", "2023-09-05", "completed", 80.0),  # 1: in the 12 months
        (A, "C2", "2023-03-01", "2023-03-10", "completed", 90.0),  # 2: before them
        (A, "C3", "2024-01-10", "2024-01-12", "dropped", None),  # 3
        (A, "C1", "2024-06-01", "2024-07-15", "completed", 100.0),  # 4: ends after AS_OF
        (A, "C2", "2024-02-01", None, "no_show", None),  # 5: known on its start
        (A, "C3", "2024-07-10", "2024-07-12", "completed", 95.0),  # 6: starts after AS_OF
        (B, "C1", "2022-01-01", "2022-01-05", "dropped", None),  # 7
        (B, "C3", "2024-06-20", "2024-06-30", "completed", 70.0),  # 8: ends on AS_OF
        (C, "C2", "2020-01-01", "2020-01-02", "completed", 60.0),  # 9: inactive employee
    ],
    c.MENTORSHIPS: [
        (A, B, "K1", "2023-07-01", "2023-12-01", 4),  # B's K1: 2.5 -> 3.5
        (A, C, "K2", "2022-01-01", "2022-06-01", 2),
        (A, B, "K3", "2024-05-01", "2024-09-01", 5),  # ongoing at AS_OF
        (B, A, "K2", "2024-08-01", None, None),  # starts after AS_OF
        (C, B, "K2", "2021-01-01", "2021-03-01", 5),
    ],
}


def typed(table: str, rows: list[tuple]) -> pd.DataFrame:
    """A typed-table frame from Python values in contract column order."""
    data = {}
    for i, col in enumerate(TABLES[table].columns):
        values = pd.Series([row[i] for row in rows], dtype=object)
        if col.dtype == "date":
            data[col.name] = pd.to_datetime(values).astype("datetime64[ns]")
        else:
            data[col.name] = values.astype(dtype_of(col))
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return {name: typed(name, ROWS[name]) for name in TABLES}


@pytest.fixture(scope="module")
def features(tables) -> FeatureSet:
    return build_features(tables, AS_OF)


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for col, value in where.items():
        mask &= (frame[col] == value).to_numpy()
    assert mask.sum() == 1, where
    return frame.loc[mask].iloc[0]


# --- as_of -----------------------------------------------------------------------------------
def test_tables_as_of_hides_the_future(tables):
    t = tables_as_of(tables, AS_OF)
    assert isinstance(t, AsOfTables) and t.as_of == AS_OF
    assert list(t[c.EMPLOYEES][c.NIP]) == [A, B, C]
    assert t[c.EMPLOYEES][c.SUPERVISOR_NIP].isna().tolist() == [True, False, True]
    assert (t[c.ASSESSMENTS][c.ASSESSED_ON] <= AS_OF).all() and len(t[c.ASSESSMENTS]) == 8
    assert sorted(t[c.PERFORMANCE_REVIEWS][c.YEAR]) == [2020, 2021, 2022, 2023, 2023]
    enr = t[c.ENROLLMENTS]
    assert len(enr) == 8  # no. 6 and D's nothing
    ongoing = enr.loc[enr[c.STATUS] == "ongoing"]
    assert len(ongoing) == 1 and ongoing[c.END_DATE].isna().all() and ongoing[c.SCORE].isna().all()
    assert (enr[c.STATUS] == "no_show").sum() == 1
    men = t[c.MENTORSHIPS]
    assert len(men) == 4
    pending = men.loc[men[c.COMPETENCY_ID] == "K3"]
    assert pending[c.END_DATE].isna().all() and pending[c.OUTCOME].isna().all()
    # dtypes survive the cut
    for name in TABLES:
        assert dict(t[name].dtypes) == dict(tables[name].dtypes), name


def test_tables_as_of_is_idempotent_and_refuses_to_widen(tables):
    t = tables_as_of(tables, "2024-06-30")
    assert tables_as_of(t, AS_OF) is t
    earlier = tables_as_of(t, "2023-01-01")
    assert earlier.as_of == pd.Timestamp("2023-01-01")
    with pytest.raises(ValueError, match="cannot view"):
        tables_as_of(earlier, AS_OF)


def test_year_end_as_of_includes_that_years_review(tables):
    t = tables_as_of(tables, "2023-12-31")
    assert 2023 in set(t[c.PERFORMANCE_REVIEWS][c.YEAR])
    assert 2023 not in set(tables_as_of(tables, "2023-12-30")[c.PERFORMANCE_REVIEWS][c.YEAR])


def test_missing_optional_tables_are_empty(tables):
    partial = {k: v for k, v in tables.items() if k not in c.OPTIONAL_TABLES}
    fs = build_features(partial, AS_OF)
    assert fs.mentor_stats[mv.N_MENTORSHIPS].sum() == 0
    assert fs.evaluation[ev.SKP_LATEST].isna().all()
    with pytest.raises(KeyError, match="employees"):
        tables_as_of({k: v for k, v in tables.items() if k != c.EMPLOYEES}, AS_OF)


# --- competency --------------------------------------------------------------------------------
def test_competency_gaps_known_answers(features):
    gaps = features.competency
    assert list(gaps.columns) == list(comp.GAP_COLUMNS)
    assert list(zip(gaps[c.NIP], gaps[c.COMPETENCY_ID], strict=True)) == [
        (A, "K1"), (A, "K2"), (A, "K3"), (B, "K1"), (B, "K2"),
    ]  # fmt: skip
    expected = pd.DataFrame(
        {
            comp.REQUIRED: [True, True, False, True, True],
            c.REQUIRED_LEVEL: [3.0, 4.0, np.nan, 3.0, 4.0],
            comp.ASSESSED: [True, False, True, True, True],
            comp.CURRENT_LEVEL: [2.5, np.nan, 3.5, 3.5, 4.5],
            c.ASSESSED_ON: pd.to_datetime(
                ["2023-10-01", None, "2023-04-01", "2024-06-30", "2021-06-30"]
            ).astype("datetime64[ns]"),
            comp.STALENESS_DAYS: [273.0, np.nan, 456.0, 0.0, 1096.0],
            comp.GAP: [0.5, 3.0, 0.0, 0.0, 0.0],  # never assessed K2: 4 - assumed 1
            comp.GAP_WEIGHT: [0.6, 0.8, 0.0, 0.6, 0.8],
            comp.WEIGHTED_GAP: [0.3, 2.4, 0.0, 0.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(gaps[list(expected.columns)], expected)


def test_competency_gap_options(tables):
    gaps = comp.competency_gaps(
        tables, AS_OF, assumed_level=2.0, kind_weights={"teknis": 2.0, "manajerial": 0.5}
    )
    a_k2 = _row(gaps, nip=A, competency_id="K2")
    assert a_k2[comp.GAP] == 2.0 and a_k2[comp.GAP_WEIGHT] == pytest.approx(1.6)
    assert _row(gaps, nip=A, competency_id="K1")[comp.WEIGHTED_GAP] == pytest.approx(0.5 * 0.3)


def test_competency_matrices(features):
    m = features.matrices
    assert list(m.nips) == [A, B] and list(m.competency_ids) == ["K1", "K2", "K3"]
    a, k2 = m.nip_index[A], m.competency_index["K2"]
    np.testing.assert_array_equal(m.gap, [[0.5, 3.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(m.required, [[3.0, 4.0, 0.0], [3.0, 4.0, 0.0]])
    assert np.isnan(m.current[a, k2]) and not m.assessed[a, k2]
    np.testing.assert_array_equal(m.current[m.nip_index[B]], [3.5, 4.5, np.nan])


def test_level_change_matches_brute_force():
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {
            c.NIP: [f"{i % 9}" for i in range(n)],
            c.COMPETENCY_ID: rng.choice(["K1", "K2"], n),
            c.LEVEL: rng.integers(2, 11, n) / 2.0,
            c.ASSESSED_ON: pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 900, n), "D"),
        }
    )
    history = comp.AssessmentHistory(
        AS_OF, pd.Index([f"{i}" for i in range(9)]), pd.Index(["K1", "K2"]), *_daily(frame)
    )
    m = 300
    keys = rng.integers(0, 18, m)
    start = rng.integers(18262, 18262 + 900, m)  # 2020-01-01 + [0, 900) days
    end = start + rng.integers(0, 60, m)
    got = comp.level_change(history, keys, start, end, window_days=200)
    for i in range(m):
        sel = history.key == keys[i]
        days, levels = history.day[sel], history.level[sel]
        pre = np.flatnonzero((days <= start[i]) & (days >= start[i] - 200))
        post = np.flatnonzero((days >= end[i]) & (days <= end[i] + 200))
        before = levels[pre[-1]] if len(pre) else np.nan
        after = levels[post[0]] if len(post) else np.nan
        if len(pre) and len(post) and days[post[0]] <= days[pre[-1]]:
            after = np.nan
        assert got["level_before"][i] == pytest.approx(before, nan_ok=True)
        assert got["level_after"][i] == pytest.approx(after, nan_ok=True)


def _daily(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference daily means by a plain groupby, keyed like AssessmentHistory."""
    key = frame[c.NIP].astype(int) * 2 + (frame[c.COMPETENCY_ID] == "K2").astype(int)
    day = frame[c.ASSESSED_ON].to_numpy().astype("datetime64[D]").astype(np.int64)
    daily = (
        pd.DataFrame({"key": key, "day": day, "level": frame[c.LEVEL]})
        .groupby(["key", "day"], as_index=False)["level"]
        .mean()
    )
    return (daily["key"].to_numpy(np.int64), daily["day"].to_numpy(np.int64),
            daily["level"].to_numpy())  # fmt: skip


def test_assessment_history_daily_means(tables):
    h = comp.assessment_history(tables, AS_OF)
    key = h.encode(pd.Index([B]), pd.Index(["K1"]))[0]
    np.testing.assert_array_equal(h.level[h.key == key], [2.5, 3.5])
    assert len(h.key) == 7


# --- evaluation --------------------------------------------------------------------------------
def test_evaluation_skp_and_jp(features):
    e = features.evaluation
    assert list(e[c.NIP]) == [A, B]  # C inactive, D not hired yet
    a, b = _row(e, nip=A), _row(e, nip=B)
    assert a[ev.SKP_LATEST] == 5 and a[ev.SKP_LATEST_YEAR] == 2023  # 2024 not closed
    assert a[ev.SKP_MEAN_LAST3] == pytest.approx(4.0)  # 3, 4, 5
    assert a[ev.SKP_TREND] == pytest.approx(1.0)
    assert a[ev.SKP_N_REVIEWS] == 4
    assert b[ev.SKP_LATEST] == 4 and np.isnan(b[ev.SKP_TREND])
    assert a[ev.JP_LAST_12M] == 10 and a[ev.JP_DEFICIT] == 10  # only no. 1 in the window
    assert b[ev.JP_LAST_12M] == 12 and b[ev.JP_DEFICIT] == 8
    assert a[ev.DAYS_SINCE_LAST_TRAINING] == 299 and b[ev.DAYS_SINCE_LAST_TRAINING] == 0


def test_evaluation_rates_smoothed(features):
    a = _row(features.evaluation, nip=A)
    assert (a[ev.N_ENROLLMENTS], a[ev.N_ONGOING], a[ev.N_RESOLVED]) == (5, 1, 4)
    assert (a[ev.N_COMPLETED], a[ev.N_DROPPED], a[ev.N_NO_SHOW]) == (2, 1, 1)
    # global, over the 7 visible resolved rows of A, B and inactive C: 4 / 2 / 1
    assert a[ev.COMPLETION_RATE] == pytest.approx((2 + 5 * 4 / 7) / 9)
    assert a[ev.DROPOUT_RATE] == pytest.approx((1 + 5 * 2 / 7) / 9)
    assert a[ev.NO_SHOW_RATE] == pytest.approx((1 + 5 * 1 / 7) / 9)
    # klasikal: A completed no. 1 (no. 4 still ongoing), B dropped no. 7 -> prior 1/2
    assert a[ev.mode_column("klasikal", ev.N_RESOLVED)] == 1
    assert a[ev.mode_column("klasikal", ev.COMPLETION_RATE)] == pytest.approx((1 + 2.5) / 6)
    # workshop: A dropped no. 3, B completed no. 8 -> prior 1/2; a mode nobody took has no rate
    assert a[ev.mode_column("workshop", ev.DROPOUT_RATE)] == pytest.approx((1 + 5 * 0.5) / 6)
    assert np.isnan(a[ev.mode_column("magang", ev.COMPLETION_RATE)])


def test_evaluation_raw_rates_and_profile(tables):
    e = ev.evaluation_vectors(tables, AS_OF, prior_strength=0.0)
    a = _row(e, nip=A)
    assert a[ev.COMPLETION_RATE] == 0.5 and a[ev.NO_SHOW_RATE] == 0.25
    assert a[ev.mode_column("e_learning", ev.NO_SHOW_RATE)] == 0.5
    assert a[c.GRADE] == 9 and a[ev.POSITION_CATEGORY] == "administrator"
    assert a[ev.GOLONGAN_RANK] == c.GOLONGAN_RANK["III/c"] == 11
    assert a[ev.TENURE_YEARS] == pytest.approx((AS_OF - pd.Timestamp("2005-01-01")).days / 365.25)
    assert a[ev.AGE_YEARS] == pytest.approx((AS_OF - pd.Timestamp("1980-01-01")).days / 365.25)


def test_skp_trend_matches_polyfit():
    rng = np.random.default_rng(5)
    rows, expected = [], {}
    for i in range(30):
        nip = f"{i:02d}"
        years = np.sort(rng.choice(np.arange(2015, 2024), rng.integers(1, 7), replace=False))
        ratings = rng.choice(c.RATING_VALUES, len(years))
        rows += [(nip, int(y), "sesuai", "sesuai", r) for y, r in zip(years, ratings, strict=True)]
        x, y = years[-3:], np.array([c.RATING_SCORE[r] for r in ratings[-3:]], dtype=float)
        expected[nip] = (np.polyfit(x, y, 1)[0] if len(x) >= 2 else np.nan, y.mean())
    reviews = typed(c.PERFORMANCE_REVIEWS, rows)
    out = ev._skp(reviews, pd.Index(sorted(expected)), 2024, 3)
    for j, nip in enumerate(sorted(expected)):
        assert out[ev.SKP_TREND][j] == pytest.approx(expected[nip][0], nan_ok=True, abs=1e-9)
        assert out[ev.SKP_MEAN_LAST3][j] == pytest.approx(expected[nip][1])


# --- courses -------------------------------------------------------------------------------------
def test_course_effects_known_answers(features):
    eff = features.course_competencies
    assert list(zip(eff[c.COURSE_ID], eff[c.COMPETENCY_ID], strict=True)) == [
        ("C1", "K1"), ("C2", "K3"), ("C3", "K1"), ("C3", "K2"),
    ]  # fmt: skip
    # C1/K1: A 2.0 (2022-01-10) -> 2.5 (2023-10-01); C2/K3: A 3.0 -> 3.5; C3/K1: B 2.5 -> 3.5;
    # C3/K2: B's only K2 level is 1086 days before the start, outside the 730-day window.
    assert list(eff[cv.N_EFFECT]) == [1, 1, 1, 0]
    np.testing.assert_allclose(eff[cv.EFFECT_MEAN], [0.5, 0.5, 1.0, np.nan])
    prior = 2.0 / 3.0
    np.testing.assert_allclose(
        eff[cv.EFFECT_SHRUNK],
        [(0.5 + 5 * prior) / 6, (0.5 + 5 * prior) / 6, (1.0 + 5 * prior) / 6, prior],
    )
    assert list(eff[c.TARGET_LEVEL]) == [3, 2, 4, 4]


def test_course_effect_window_option(tables):
    eff = cv.course_effects(tables, AS_OF, effect_window_days=None, prior_strength=0.0)
    assert list(eff[cv.N_EFFECT]) == [1, 1, 1, 0]  # B's K2 has no level after the course
    eff = cv.course_effects(tables, AS_OF, effect_window_days=320, prior_strength=0.0)
    assert list(eff[cv.N_EFFECT]) == [0, 1, 0, 0]  # pre-course levels 599 and 356 days old


def test_course_vectors_known_answers(features):
    courses = features.courses
    assert list(courses[c.COURSE_ID]) == ["C1", "C2", "C3"]
    assert list(courses[cv.N_ENROLLED]) == [3, 3, 2]
    assert list(courses[cv.N_ONGOING]) == [1, 0, 0]
    assert list(courses[cv.N_RESOLVED]) == [2, 3, 2]
    np.testing.assert_allclose(courses[cv.COMPLETION_RATE], [0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(
        courses[cv.COMPLETION_RATE_SMOOTHED],
        [(1 + 5 * 4 / 7) / 7, (2 + 5 * 4 / 7) / 8, (1 + 5 * 4 / 7) / 7],
    )
    np.testing.assert_allclose(courses[cv.MEAN_SCORE], [80.0, 75.0, 70.0])  # no. 4's 100 hidden
    assert list(courses[c.ACTIVE]) == [True, True, False]
    assert list(courses[cv.N_COMPETENCIES]) == [1, 1, 2]
    assert courses[cv.MEAN_EFFECT_SHRUNK].iloc[2] == pytest.approx(((1 + 10 / 3) / 6 + 2 / 3) / 2)


# --- mentors -------------------------------------------------------------------------------------
def test_mentor_stats_known_answers(tables, features):
    stats = features.mentor_stats
    assert list(stats[c.MENTOR_NIP]) == [A, B]
    a, b = _row(stats, mentor_nip=A), _row(stats, mentor_nip=B)
    assert (a[mv.N_MENTORSHIPS], a[mv.N_ENDED], a[mv.N_RATED], a[mv.CURRENT_LOAD]) == (3, 2, 2, 1)
    assert a[mv.OUTCOME_MEAN] == 3.0
    prior = (4 + 2 + 5) / 3  # C's ended mentorship counts in the global mean
    assert a[mv.OUTCOME_SHRUNK] == pytest.approx((6 + 3 * prior) / 5)
    # B's K1: 360 at 2.5 before; a 360 at 3.0 and a centre at 4.0 on one day after. On
    # debiased readings (360 bias b, calibrated on the data) that is 1 + b / 2, not 1.0.
    from features.level_estimates import method_biases

    bias_360 = method_biases(tables[c.ASSESSMENTS])["penilaian_360"]
    assert a[mv.N_MENTEE_CHANGE] == 1
    assert a[mv.MENTEE_CHANGE_MEAN] == pytest.approx(1.0 + bias_360 / 2)
    assert b[mv.N_MENTORSHIPS] == 0 and np.isnan(b[mv.OUTCOME_MEAN])
    assert b[mv.OUTCOME_SHRUNK] == pytest.approx(prior) and b[mv.CURRENT_LOAD] == 0


def test_mentor_vectors_known_answers(features):
    men = features.mentors
    assert list(zip(men[c.MENTOR_NIP], men[c.COMPETENCY_ID], strict=True)) == [
        (A, "K1"), (A, "K3"), (B, "K1"), (B, "K2"),
    ]  # fmt: skip
    np.testing.assert_allclose(men[c.LEVEL], [2.5, 3.5, 3.5, 4.5])
    np.testing.assert_allclose(men[mv.STRENGTH], [-0.5, 2.5, 0.5, 0.5])  # K3 not required: vs 1
    assert list(men[mv.N_ENDED_IN_COMPETENCY]) == [1, 0, 0, 0]
    assert list(men[mv.CURRENT_LOAD]) == [1, 1, 0, 0]
    assert set(mv.STATS_COLUMNS) <= set(men.columns)


# --- build ---------------------------------------------------------------------------------------
def test_build_features_is_the_sum_of_its_stages(tables, features):
    assert features.as_of == AS_OF
    pd.testing.assert_frame_equal(features.competency, comp.competency_gaps(tables, AS_OF))
    pd.testing.assert_frame_equal(features.evaluation, ev.evaluation_vectors(tables, AS_OF))
    pd.testing.assert_frame_equal(features.courses, cv.course_vectors(tables, AS_OF))
    pd.testing.assert_frame_equal(features.mentors, mv.mentor_vectors(tables, AS_OF))
    assert set(features.timings) >= {"as_of", "competency", "evaluation", "mentors"}


def test_dates_in_other_units_give_the_same_features(tables, features):
    """pandas 3 parses dates as datetime64[us]; features must not depend on the unit."""
    micro = {
        name: frame.astype(
            {col: "datetime64[us]" for col in frame.select_dtypes("datetime").columns}
        )
        for name, frame in tables.items()
    }
    other = build_features(micro, AS_OF.date())
    for name in ("competency", "evaluation", "courses", "course_competencies", "mentors"):
        left, right = getattr(features, name), getattr(other, name)
        pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=name)


@pytest.mark.parametrize("as_of", ["1990-01-01", "2000-01-01", "2030-01-01"])
def test_any_as_of_builds(tables, as_of):
    """Before anyone is hired, before any history, after all of it: frames, never errors."""
    fs = build_features(tables, as_of)
    hired = tables[c.EMPLOYEES][c.TMT_CPNS] <= pd.Timestamp(as_of)
    n_known = int(hired.sum())
    n_active = int((hired & tables[c.EMPLOYEES][c.ACTIVE]).sum())
    assert len(fs.evaluation) == len(fs.mentor_stats) == n_active
    assert len(fs.courses) == 3 and len(fs.course_competencies) == 4
    assert fs.matrices.gap.shape == (n_active, len(fs.matrices.competency_ids))
    assert n_known >= n_active
