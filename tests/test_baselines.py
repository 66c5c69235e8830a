"""Baseline recommenders: known answers on tiny data, and one contract suite for all three."""

from __future__ import annotations

import importlib.util
import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from features import columns as c
from features.competency import CURRENT_LEVEL, GAP, WEIGHTED_GAP
from features.contract import TABLES
from features.io import dtype_of, empty_table
from features.plan_input import EmployeeView
from model.baselines import (
    SCORE_COLUMNS,
    ALSRecommender,
    ContentRuleRecommender,
    PeerUnavailable,
    PopularityRecommender,
    top_k,
)
from model.path_catalog import Catalog
from model.path_inputs import candidates_from_frame

AS_OF = pd.Timestamp("2025-06-30")
needs_implicit = pytest.mark.skipif(
    importlib.util.find_spec("implicit") is None, reason="implicit is not installed"
)


# --- tiny data builders ------------------------------------------------------------------


def typed(table: str, rows: list[dict]) -> pd.DataFrame:
    """A typed contract frame from partial rows (missing columns are empty)."""
    spec = TABLES[table]
    data = {}
    for col in spec.columns:
        values = [row.get(col.name) for row in rows]
        if col.dtype == "date":
            data[col.name] = pd.to_datetime(pd.Series(values, dtype=object)).astype(
                "datetime64[ns]"
            )
        else:
            data[col.name] = pd.Series(values, dtype=dtype_of(col))
    return pd.DataFrame(data) if rows else empty_table(table)


def nip(i: int) -> str:
    return f"19900101201501{1 + i % 2}{i:03d}"


def make_tables(
    n_users: int,
    courses: list[tuple[str, bool]],
    bands: list[tuple[str, str, int, int]],
    completions: list[tuple[int, str, str]],
    other: list[tuple[int, str, str]] = (),  # type: ignore[assignment]
) -> dict[str, pd.DataFrame]:
    """Typed tables: `completions` are (user, course, end date); `other` (user, course,
    status) start a month before AS_OF."""
    employees = [
        {
            c.NIP: nip(i),
            c.NAME: f"P{i}",
            c.GENDER: "L",
            c.BIRTH_DATE: "1990-01-01",
            c.TMT_CPNS: "2015-01-01",
            c.GOLONGAN: "III/a",
            c.EDUCATION: "S1",
            c.UNIT_ID: "U",
            c.POSITION_ID: "P",
            c.ACTIVE: True,
        }
        for i in range(n_users)
    ]
    enr = [
        {
            c.NIP: nip(u),
            c.COURSE_ID: k,
            c.START_DATE: pd.Timestamp(end) - pd.Timedelta(days=3),
            c.END_DATE: end,
            c.STATUS: "completed",
        }
        for u, k, end in completions
    ]
    enr += [
        {
            c.NIP: nip(u),
            c.COURSE_ID: k,
            c.START_DATE: AS_OF - pd.Timedelta(days=30),
            c.END_DATE: None if status in ("ongoing", "no_show") else AS_OF,
            c.STATUS: status,
        }
        for u, k, status in other
    ]
    rows = {
        c.EMPLOYEES: employees,
        c.COURSES: [
            {
                c.COURSE_ID: k,
                c.TITLE: k,
                c.PROVIDER: "X",
                c.MODE: "klasikal",
                c.HOURS_JP: 8,
                c.ACTIVE: active,
            }  # fmt: skip
            for k, active in courses
        ],
        c.COURSE_COMPETENCIES: [
            {c.COURSE_ID: k, c.COMPETENCY_ID: comp, c.MIN_LEVEL: lo, c.TARGET_LEVEL: hi}
            for k, comp, lo, hi in bands
        ],
        c.ENROLLMENTS: enr,
    }
    return {name: typed(name, rows.get(name, [])) for name in c.ALL_TABLES}


def make_view(
    n_users: int,
    completed: list[tuple[int, str]] = (),  # type: ignore[assignment]
    ongoing: list[tuple[int, str]] = (),  # type: ignore[assignment]
    gaps: list[tuple[int, str, float | None, float]] = (),  # type: ignore[assignment]
) -> EmployeeView:
    """A hand-made view; `gaps` rows are (user, competency, current, required)."""
    comp = pd.DataFrame(
        {
            c.NIP: [nip(u) for u, *_ in gaps],
            c.COMPETENCY_ID: [k for _, k, _, _ in gaps],
            CURRENT_LEVEL: np.array([np.nan if v is None else v for *_, v, _ in gaps], float),
            c.REQUIRED_LEVEL: np.array([r for *_, r in gaps], float),
        }
    )
    cur = comp[CURRENT_LEVEL].fillna(1.0)
    comp[GAP] = np.maximum(comp[c.REQUIRED_LEVEL] - cur, 0.0)
    comp[WEIGHTED_GAP] = comp[GAP]

    def pairs(items):
        return pd.DataFrame(
            {c.NIP: [nip(u) for u, _ in items], c.COURSE_ID: [k for _, k in items]},
            columns=[c.NIP, c.COURSE_ID],
        )

    employees = pd.DataFrame({c.NIP: [nip(i) for i in range(n_users)]})
    return EmployeeView(AS_OF, employees, comp, pairs(completed), pairs(ongoing))


# --- top-k ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_top_k_matches_a_stable_full_sort(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(30, 17)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    for k in (1, 5, 17, 25):
        idx, val = top_k(scores, k)
        expected = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, 17)]
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_array_equal(val, np.take_along_axis(scores, expected, axis=1))


# --- known answers --------------------------------------------------------------------------


def popularity_case():
    courses = [("C1", True), ("C2", True), ("C3", True), ("C4", True), ("C5", False)]
    bands = [(k, "K1", 1, 3) for k, _ in courses]
    recent = "2025-03-01"
    completions = [(0, "C1", recent), (1, "C1", recent), (2, "C1", recent)]
    completions += [(0, "C3", recent), (1, "C3", recent), (2, "C2", recent)]
    completions += [(u, "C5", recent) for u in range(4)]  # most popular, but inactive
    completions += [(u, "C4", "2022-01-01") for u in range(4)]  # outside the window
    return make_tables(5, courses, bands, completions)


def test_popularity_orders_by_completions_in_the_window():
    model = PopularityRecommender(window_days=365).fit(popularity_case(), AS_OF)
    np.testing.assert_array_equal(model.counts_, [3, 1, 2, 0, 4])
    view = make_view(2, completed=[(1, "C1")], ongoing=[(1, "C3")])
    nips, ids, scores = model.recommend(view, n=5)
    assert list(nips) == [nip(0), nip(1)]
    assert list(ids[0]) == ["C1", "C3", "C2", "C4", None]
    np.testing.assert_array_equal(scores[0, :4], [3, 2, 1, 0])
    assert np.isnan(scores[0, 4])
    assert list(ids[1, :2]) == ["C2", "C4"] and ids[1, 2] is None


def test_popularity_without_window_counts_everything():
    model = PopularityRecommender(window_days=None).fit(popularity_case(), AS_OF)
    np.testing.assert_array_equal(model.counts_, [3, 1, 2, 4, 4])


def test_content_rule_picks_the_course_covering_the_biggest_gap():
    courses = [("A", True), ("B", True), ("D", True), ("E", True), ("F", False)]
    bands = [
        ("A", "K2", 1, 3),  # closes the small gap (1 level)
        ("B", "K1", 1, 3),  # closes the big gap (2 levels)
        ("D", "K1", 4, 5),  # right competency, far above the employee: underprepared
        ("E", "K3", 1, 3),  # a competency without a gap
        ("F", "K1", 1, 3),  # as good as B, but inactive
    ]
    tables = make_tables(1, courses, bands, [])
    view = make_view(1, gaps=[(0, "K1", 1.0, 3.0), (0, "K2", 2.0, 3.0), (0, "K3", 4.0, 3.0)])
    model = ContentRuleRecommender(band_slack=0.5, underprepared_factor=0.5).fit(tables, AS_OF)
    _, ids, scores = model.recommend(view, n=4)
    assert list(ids[0]) == ["B", "A", "D", "E"]
    np.testing.assert_allclose(scores[0], [2.0, 1.0, 0.5, 0.0])


def test_content_rule_weights_gaps_and_counts_unassessed_from_level_one():
    tables = make_tables(1, [("A", True), ("B", True)], [("A", "K1", 1, 3), ("B", "K2", 1, 3)], [])
    view = make_view(1, gaps=[(0, "K1", 2.0, 3.0), (0, "K2", None, 2.0)])
    comp = view.competency.copy()
    comp[WEIGHTED_GAP] = comp[GAP] * np.where(comp[c.COMPETENCY_ID] == "K1", 3.0, 1.0)
    view = EmployeeView(view.as_of, view.employees, comp, view.completed, view.ongoing)
    _, ids, scores = ContentRuleRecommender().fit(tables, AS_OF).recommend(view, n=2)
    assert list(ids[0]) == ["A", "B"]  # the weighted gap wins over the unweighted one
    np.testing.assert_allclose(scores[0], [3.0, 1.0])


def checkerboard(n: int = 20):
    """User u completed every course of its parity except course u."""
    courses = [(f"I{i:02d}", True) for i in range(n)]
    bands = [(k, "K1", 1, 3) for k, _ in courses]
    done = [(u, i) for u in range(n) for i in range(n) if i % 2 == u % 2 and i != u]
    tables = make_tables(n, courses, bands, [(u, f"I{i:02d}", "2025-01-15") for u, i in done])
    view = make_view(n, completed=[(u, f"I{i:02d}") for u, i in done])
    return tables, view


@needs_implicit
def test_als_recovers_a_checkerboard():
    tables, view = checkerboard()
    model = ALSRecommender(factors=2, regularization=0.01, alpha=10.0, iterations=30)
    _, ids, scores = model.fit(tables, AS_OF).recommend(view, n=3)
    assert list(ids[:, 0]) == [f"I{u:02d}" for u in range(20)]
    assert (scores[:, 0] > scores[:, 1] + 0.5).all()


def test_als_fold_in_matches_implicit_recalculate_user():
    implicit_als = pytest.importorskip("implicit.cpu.als")
    tables, view = checkerboard()
    model = ALSRecommender(factors=4, regularization=0.5, alpha=7.0).fit(tables, AS_OF)
    ref = implicit_als.AlternatingLeastSquares(
        factors=4, regularization=0.5, alpha=7.0, use_cg=False
    )
    ref.item_factors = model.item_factors_.astype(np.float32)
    ref.user_factors = np.zeros((1, 4), dtype=np.float32)
    from scipy import sparse

    items = sparse.random(6, 20, density=0.3, random_state=1, format="csr")
    items.data[:] = 1.0
    expected = ref.recalculate_user(np.arange(6), items.astype(np.float32))
    np.testing.assert_allclose(model.fold_in(items), expected, atol=1e-4)


def test_als_without_implicit_raises_peer_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "implicit.cpu.als", None)
    tables, _ = checkerboard(4)
    with pytest.raises(PeerUnavailable, match="implicit"):
        ALSRecommender().fit(tables, AS_OF)
    assert issubclass(PeerUnavailable, ImportError)


# --- the contract every baseline keeps -----------------------------------------------------

RECOMMENDERS = [
    pytest.param(lambda: PopularityRecommender(), id="popularity"),
    pytest.param(lambda: ContentRuleRecommender(), id="content"),
    pytest.param(
        lambda: ALSRecommender(factors=3, regularization=0.1), id="als", marks=needs_implicit
    ),
]


@pytest.fixture(scope="module")
def random_case():
    rng = np.random.default_rng(3)
    n_users, n_courses = 14, 12
    courses = [(f"K{i:02d}", bool(i % 5)) for i in range(n_courses)]  # K00, K05, K10 inactive
    comps = ["M1", "M2", "M3", "M4"]
    bands = []
    for k, _ in courses:
        for comp in sorted(rng.choice(comps, size=rng.integers(1, 3), replace=False)):
            lo = int(rng.integers(1, 4))
            bands.append((k, str(comp), lo, lo + int(rng.integers(1, 3))))
    completions = [
        (u, courses[i][0], "2025-02-01")
        for u in range(n_users)
        for i in range(n_courses)
        if rng.random() < 0.3
    ]
    tables = make_tables(n_users, courses, bands, completions)
    completed = [(u, k) for u, k, _ in completions]
    ongoing = [(u, courses[int(rng.integers(n_courses))][0]) for u in range(0, n_users, 3)]
    ongoing = [p for p in ongoing if p not in completed]
    gaps = [
        (u, comp, float(rng.integers(1, 4)) if rng.random() < 0.8 else None, 3.0)
        for u in range(n_users)
        for comp in comps
        if rng.random() < 0.7
    ]
    view = make_view(n_users, completed=completed, ongoing=ongoing, gaps=gaps)
    return tables, view, courses, bands


@pytest.mark.parametrize("make", RECOMMENDERS)
def test_fit_returns_self_and_unfitted_raises(make, random_case):
    tables, view, *_ = random_case
    model = make()
    with pytest.raises(NotFittedError):
        model.recommend(view)
    with pytest.raises(NotFittedError):
        model.score(view)
    assert model.fit(tables, AS_OF) is model


@pytest.mark.parametrize("make", RECOMMENDERS)
def test_never_recommends_completed_ongoing_or_inactive(make, random_case):
    tables, view, courses, _ = random_case
    nips, ids, _ = make().fit(tables, AS_OF).recommend(view, n=12)
    inactive = {k for k, active in courses if not active}
    banned = set(zip(view.completed[c.NIP], view.completed[c.COURSE_ID], strict=True))
    banned |= set(zip(view.ongoing[c.NIP], view.ongoing[c.COURSE_ID], strict=True))
    for n, row in zip(nips, ids, strict=True):
        shown = [k for k in row if k is not None]
        assert len(shown) == len(set(shown))
        assert not inactive & set(shown)
        assert not {(n, k) for k in shown} & banned
        eligible = {k for k, a in courses if a} - {k for m, k in banned if m == n}
        assert set(shown) == eligible  # n = catalog size: every eligible course, padded after


@pytest.mark.parametrize("make", RECOMMENDERS)
def test_batch_equals_single_and_blocks_do_not_matter(make, random_case):
    tables, view, *_ = random_case
    model = make().fit(tables, AS_OF)
    nips, ids, scores = model.recommend(view, n=5)
    _, ids_small, scores_small = model.recommend(view, n=5, block=4)
    np.testing.assert_array_equal(ids, ids_small)
    np.testing.assert_allclose(scores, scores_small, rtol=1e-10)
    for row in (0, 5, 13):
        one_nips, one_ids, one_scores = model.recommend(view.subset([nips[row]]), n=5)
        assert list(one_nips) == [nips[row]]
        np.testing.assert_array_equal(one_ids[0], ids[row])
        np.testing.assert_allclose(one_scores[0], scores[row], rtol=1e-10)


@pytest.mark.parametrize("make", RECOMMENDERS)
def test_pickle_round_trip(make, random_case):
    tables, view, *_ = random_case
    model = make().fit(tables, AS_OF)
    again = pickle.loads(pickle.dumps(model))
    for a, b in zip(model.recommend(view, n=4), again.recommend(view, n=4), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", RECOMMENDERS)
def test_score_frame_feeds_the_path_builder(make, random_case):
    tables, view, courses, bands = random_case
    model = make().fit(tables, AS_OF)
    frame = model.score(view, n=4)
    assert tuple(frame.columns) == SCORE_COLUMNS
    assert (frame["p_complete"] == 1.0).all() and frame["expected_gain"].isna().all()
    per_course = frame.drop_duplicates([c.NIP, c.COURSE_ID])
    assert per_course.groupby(c.NIP).size().max() <= 4
    # One row per band of every candidate course.
    n_bands = pd.Series([k for k, *_ in bands]).value_counts()
    assert len(frame) == int(n_bands.reindex(per_course[c.COURSE_ID]).sum())
    _, ids, scores = model.recommend(view, n=4)
    first = per_course.loc[per_course["rank"] == 1].set_index(c.NIP)[c.COURSE_ID]
    assert first.to_dict() == dict(zip(view.employees[c.NIP], ids[:, 0], strict=True))
    catalog = Catalog.from_frames(tables[c.COURSES], tables[c.COURSE_COMPETENCIES])
    candidates = candidates_from_frame(frame, catalog)
    assert set(candidates) == set(view.employees[c.NIP])


@pytest.mark.parametrize("make", RECOMMENDERS)
def test_bad_inputs_raise(make, random_case):
    tables, view, *_ = random_case
    model = make().fit(tables, AS_OF)
    with pytest.raises(ValueError, match="n must be"):
        model.recommend(view, n=0)
    nips, ids, scores = model.recommend(view.subset([]), n=3)
    assert nips.shape == (0,) and ids.shape == (0, 3) and scores.shape == (0, 3)
    assert model.score(view.subset([]), n=3).columns.tolist() == list(SCORE_COLUMNS)


@pytest.mark.parametrize(
    "model",
    [
        PopularityRecommender(window_days=0),
        ContentRuleRecommender(underprepared_factor=2.0),
        ALSRecommender(factors=0),
    ],
    ids=["popularity", "content", "als"],
)
def test_invalid_parameters_are_refused(model):
    tables, _ = checkerboard(4)
    with pytest.raises(InvalidParameterError):
        model.fit(tables, AS_OF)


def test_content_rule_scores_match_a_brute_force_loop(random_case):
    tables, view, courses, bands = random_case
    model = ContentRuleRecommender(band_slack=0.5, underprepared_factor=0.4).fit(tables, AS_OF)
    nips, ids, scores = model.recommend(view, n=len(courses))
    comp = view.competency.set_index([c.NIP, c.COMPETENCY_ID])
    for n, row_ids, row_scores in zip(nips, ids, scores, strict=True):
        for k, got in zip(row_ids, row_scores, strict=True):
            if k is None:
                continue
            expected = 0.0
            for course, competency, lo, hi in bands:
                if course != k or (n, competency) not in comp.index:
                    continue
                r = comp.loc[(n, competency)]
                if not r[GAP] > 0:
                    continue
                cur = 1.0 if np.isnan(r[CURRENT_LEVEL]) else r[CURRENT_LEVEL]
                gain = max(hi - max(cur, lo), 0.0)
                fit = 1.0 if cur >= lo - 0.5 else 0.4
                expected += r[WEIGHTED_GAP] / r[GAP] * min(gain, r[GAP]) * fit
            assert got == pytest.approx(expected)


def test_a_course_without_bands_gets_one_row_without_competency():
    tables = make_tables(
        2, [("A", True), ("NB", True)], [("A", "K1", 1, 3)], [(0, "NB", "2025-03-01")]
    )
    frame = PopularityRecommender().fit(tables, AS_OF).score(make_view(2), n=2)
    assert frame[c.NIP].dtype == "str" and frame[c.COURSE_ID].dtype == "str"
    nb = frame.loc[frame[c.COURSE_ID] == "NB"]
    assert len(nb) == 2 and nb[c.COMPETENCY_ID].isna().all() and (nb["rank"] == 1).all()
    catalog = Catalog.from_frames(tables[c.COURSES], tables[c.COURSE_COMPETENCIES])
    assert set(candidates_from_frame(frame, catalog)) == {nip(0), nip(1)}
