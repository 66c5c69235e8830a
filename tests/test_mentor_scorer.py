"""Mentor-pair features and `MentorPairScorer`: exact feature values on a hand-made view, the
estimator contract, the documented fallback, known answers (a better track record scores
higher), and the choice by held-out assignment benefit on the demo data."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from demo_data import generate_demo
from features import columns as c
from features import mentor_pair_features as mpf
from features.competency import CURRENT_LEVEL, GAP, REQUIRED, STALENESS_DAYS, WEIGHTED_GAP
from features.plan_input import EmployeeView
from model.mentor_scorer import (
    CANDIDATES,
    DEFAULT_ESTIMATOR,
    DEFAULT_GAIN,
    DEFAULT_OUTCOME,
    MentorPairScorer,
    choose_candidate,
    fit_mentor_scorer,
    training_data,
)

FEATURES = list(mpf.MENTOR_PAIR_FEATURES)
SNAPSHOTS = pd.date_range("2022-12-31", "2026-06-30", freq="2QE")


def tiny_view() -> EmployeeView:
    """Mentee E (unit U1, grade 6) and mentors M (U1, grade 9) and N (U2, grade 9, no history)."""
    employees = pd.DataFrame(
        {
            c.NIP: pd.array(["E", "M", "N"], dtype="str"),
            c.UNIT_ID: pd.array(["U1", "U1", "U2"], dtype="str"),
            c.GRADE: [6.0, 9.0, 9.0],
            "position_category": pd.array(["pelaksana", "pengawas", "pelaksana"], dtype="str"),
            "golongan_rank": [9.0, 13.0, 12.0],
            "tenure_years": [4.0, 20.0, 15.5],
            "skp_latest": [4.0, 5.0, np.nan],
            "completion_rate": [0.8, 0.9, 0.7],
            c.SUPERVISOR_NIP: pd.array(["M", np.nan, np.nan], dtype="str"),
            c.TMT_CPNS: pd.to_datetime(["2020-01-01", "2004-01-01", "2009-01-01"]),
            "outcome_shrunk": [np.nan, 4.2, np.nan],
            "mentee_change_shrunk": [0.0, 0.3, 0.0],
            "n_mentorships": [0.0, 4.0, 0.0],
            "current_load": [0.0, 1.0, 0.0],
        }
    )
    rows = [  # nip, competency, current, required
        ("E", "K1", 2.0, 4.0),
        ("E", "K2", np.nan, 3.0),
        ("M", "K1", 4.5, 3.0),
        ("M", "K2", 3.0, np.nan),
        ("N", "K1", 4.0, np.nan),
    ]
    comp = pd.DataFrame(rows, columns=[c.NIP, c.COMPETENCY_ID, CURRENT_LEVEL, c.REQUIRED_LEVEL])
    comp[REQUIRED] = comp[c.REQUIRED_LEVEL].notna()
    floor = comp[CURRENT_LEVEL].fillna(1.0)
    comp[GAP] = np.where(comp[REQUIRED], np.maximum(comp[c.REQUIRED_LEVEL] - floor, 0), 0.0)
    comp[WEIGHTED_GAP] = comp[GAP] * comp[c.REQUIRED_LEVEL].fillna(0) / 5
    comp[STALENESS_DAYS] = 30.0
    empty = pd.DataFrame({c.NIP: [], c.COURSE_ID: []})
    return EmployeeView(pd.Timestamp("2026-09-30"), employees, comp, empty, empty)


def test_pair_features_exact_values() -> None:
    pairs = pd.DataFrame(
        {
            c.MENTEE_NIP: ["E", "E", "E"],
            c.MENTOR_NIP: ["M", "N", "M"],
            c.COMPETENCY_ID: ["K1", "K1", "K2"],
        }
    )
    X = mpf.mentor_pair_features(tiny_view(), pairs)
    assert list(X.columns) == FEATURES
    m, n, k2 = X.iloc[0], X.iloc[1], X.iloc[2]
    assert m[mpf.LEVEL_LEAD] == 2.5
    # Without estimates in the view, an assessed level stands with sd ASSESSED_SD (0.5).
    assert m[mpf.EXPECTED_LEAD] == pytest.approx(2.5)
    assert m[mpf.LEAD_SD] == pytest.approx(np.sqrt(0.5))
    assert m[mpf.P_AHEAD] == pytest.approx(ndtr(2.5 / np.sqrt(0.5)))
    assert m[mpf.HEADROOM] == pytest.approx(m[mpf.P_AHEAD] * (1 - np.exp(-2.5 / 0.75)))
    assert m[mpf.MENTOR_LEVEL_MEAN] == 4.5
    assert m[mpf.MENTOR_OVER_REQUIRED] == 0.5
    assert (m[mpf.MENTEE_GAP], m[mpf.MENTEE_ASSESSED]) == (2.0, 1.0)
    assert (m[mpf.MENTOR_OUTCOME], m[mpf.MENTOR_N_MENTORSHIPS], m[mpf.MENTOR_LOAD]) == (4.2, 4, 1)
    assert (m[mpf.SAME_UNIT], m[mpf.SAME_CATEGORY]) == (1.0, 0.0)
    assert (m[mpf.GRADE_DIFF], m[mpf.GOLONGAN_DIFF], m[mpf.TENURE_DIFF]) == (3.0, 4.0, 16.0)
    assert (m[mpf.MENTOR_SKP], m[mpf.MENTEE_COMPLETION_RATE]) == (5.0, 0.8)
    assert n[mpf.EXPECTED_LEAD] == pytest.approx(2.0)
    assert (n[mpf.SAME_UNIT], n[mpf.SAME_CATEGORY]) == (0.0, 1.0)
    assert np.isnan(n[mpf.MENTOR_OUTCOME]) and np.isnan(n[mpf.MENTOR_SKP])
    # Unassessed mentee: the prior at the required level 3 (sd 0.8) against the mentor's 3.
    assert (k2[mpf.LEVEL_LEAD], k2[mpf.MENTEE_ASSESSED]) == (2.0, 0.0)
    assert k2[mpf.EXPECTED_LEAD] == pytest.approx(0.0)
    assert k2[mpf.LEAD_SD] == pytest.approx(np.sqrt(0.25 + 0.64))
    assert (k2[mpf.P_AHEAD], k2[mpf.HEADROOM]) == (pytest.approx(0.5), 0.0)
    assert k2[mpf.MENTEE_GAP] == 2.0


def test_pair_features_reject_unknown_employees() -> None:
    pairs = pd.DataFrame({c.MENTEE_NIP: ["E"], c.MENTOR_NIP: ["X"], c.COMPETENCY_ID: ["K1"]})
    with pytest.raises(ValueError, match="not in the view"):
        mpf.mentor_pair_features(tiny_view(), pairs)


# --- estimator contract -------------------------------------------------------------------


def synthetic(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Gains = headroom x (a mentor effect seen through the track record) + noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    X[mpf.MENTOR_OUTCOME] = rng.uniform(1.5, 4.8, n)
    X[mpf.HEADROOM] = rng.uniform(0.1, 1.0, n)
    X[mpf.P_AHEAD] = rng.uniform(0.9, 1.0, n)
    X[mpf.MENTOR_LEVEL_MEAN] = rng.uniform(2.0, 5.0, n)
    effect = np.minimum(rng.lognormal(-0.5, 1.0, n), 3.0)
    X[mpf.MENTOR_MENTEE_CHANGE] = 0.5 * effect + rng.normal(0, 0.1, n)
    X[mpf.MENTOR_EFFECT] = effect + rng.normal(0, 0.2, n)
    y = X[mpf.HEADROOM].to_numpy() * effect + rng.normal(0, 0.2, n)
    return X, y


@pytest.mark.parametrize("estimator", CANDIDATES)
def test_contract(estimator: str) -> None:
    X, y = synthetic()
    scorer = MentorPairScorer(estimator=estimator, random_state=0)
    with pytest.raises(NotFittedError):
        scorer.predict(X)
    assert scorer.fit(X, y) is scorer
    assert scorer.n_features_in_ == len(FEATURES)
    assert scorer.model_name_ == estimator and scorer.fallback_reason_ is None
    pred = scorer.predict(X)
    assert pred.shape == (len(X),) and np.isfinite(pred).all() and (pred > 0).all()
    again = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(again.predict(X), pred)
    np.testing.assert_array_equal(scorer.predict(X.to_numpy()), pred)  # array == frame
    assert clone(scorer).get_params() == scorer.get_params()
    assert scorer.predict(X.iloc[:0]).shape == (0,)


@pytest.mark.parametrize("estimator", ["ridge", "hgb"])
def test_learned_models_recover_the_gain(estimator: str) -> None:
    X, y = synthetic(800)
    test_X, test_y = synthetic(400, seed=1)
    scorer = MentorPairScorer(estimator=estimator, random_state=0).fit(X, y)
    assert np.corrcoef(scorer.predict(test_X), test_y)[0, 1] > 0.5


def test_bad_input_raises() -> None:
    X, y = synthetic(50)
    with pytest.raises(InvalidParameterError):
        MentorPairScorer(estimator="forest").fit(X, y)
    with pytest.raises(ValueError, match="columns"):
        MentorPairScorer().fit(X.drop(columns=[mpf.LEVEL_LEAD]), y)
    with pytest.raises(ValueError, match="-5..5"):
        MentorPairScorer().fit(X, y + 9)
    with pytest.raises(ValueError, match="one gain per row"):
        MentorPairScorer().fit(X, y[:-1])


def test_fallback_without_history_says_so() -> None:
    X, y = synthetic(10)
    none = MentorPairScorer("hgb").fit(X.iloc[:0], y[:0])
    assert none.model_name_ == DEFAULT_ESTIMATOR
    assert "no mentoring history" in none.fallback_reason_
    few = MentorPairScorer("ridge", min_examples=30).fit(X, y)
    assert few.model_name_ == DEFAULT_ESTIMATOR and "10 observed" in few.fallback_reason_
    unobserved = MentorPairScorer("ridge").fit(X, np.full(len(X), np.nan))
    assert "no mentoring history" in unobserved.fallback_reason_
    # The track-record rule: headroom x the mentor's effect, the pool's without one.
    rows = X.iloc[:2].copy()
    rows[mpf.MENTOR_EFFECT] = [0.6, np.nan]
    rows[mpf.HEADROOM] = [0.5, 0.5]
    np.testing.assert_allclose(none.predict(rows), [0.3, 0.5 * DEFAULT_GAIN])
    # The rating rule: headroom x (rating - 1) / 4, mid-scale without one.
    rating = MentorPairScorer("shrunk_rating").fit(X.iloc[:0], y[:0])
    rows[mpf.MENTOR_OUTCOME] = [5.0, np.nan]
    np.testing.assert_allclose(
        rating.predict(rows), [0.5 + 1e-6, 0.5 * (DEFAULT_OUTCOME - 1) / 4 + 1e-6]
    )


@pytest.mark.parametrize("estimator", ["shrunk_rating", "track_record", "ridge", "hgb"])
def test_better_track_record_scores_higher(estimator: str) -> None:
    X, y = synthetic()
    scorer = MentorPairScorer(estimator=estimator, random_state=0).fit(X, y)
    pair = X.iloc[[0, 0]].copy()
    column = {"shrunk_rating": mpf.MENTOR_OUTCOME, "track_record": mpf.MENTOR_EFFECT}.get(
        estimator, mpf.MENTOR_MENTEE_CHANGE
    )
    pair[column] = [2.0, 4.5] if column == mpf.MENTOR_OUTCOME else [0.1, 1.5]
    low, high = scorer.predict(pair)
    assert high > low


def test_more_headroom_never_scores_lower() -> None:
    X, y = synthetic()
    for estimator in CANDIDATES[1:]:
        scorer = MentorPairScorer(estimator=estimator, random_state=0).fit(X, y)
        rows = X.iloc[:30].copy()
        low = scorer.predict(rows.assign(**{mpf.HEADROOM: 0.2}))
        high = scorer.predict(rows.assign(**{mpf.HEADROOM: 0.9}))
        assert (high >= low).all(), estimator


def test_choice_prefers_the_target_rule_inside_the_noise() -> None:
    benefit = {"highest_level": 10.0, "shrunk_rating": 11.0, "track_record": 12.0,
               "ridge": 12.5, "hgb": np.nan}  # fmt: skip
    assert choose_candidate(benefit, {"track_record": 1.0})[0] == "track_record"
    assert choose_candidate(benefit, {"track_record": 0.1})[0] == "ridge"
    winner, reason = choose_candidate({**benefit, "highest_level": 20.0})
    assert winner == "highest_level" and "hgb" not in reason


# --- demo data ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return generate_demo(600, seed=7)


@pytest.fixture(scope="module")
def examples(demo) -> pd.DataFrame:
    return mpf.mentorship_examples(demo.tables, SNAPSHOTS, horizon_days=182, follow_up_days=365)


def test_examples_follow_their_snapshot(demo, examples) -> None:
    assert len(examples) > 50
    assert list(examples.columns) == list(mpf.EXAMPLE_COLUMNS)
    start = examples[c.START_DATE]
    snap = examples[mpf.SNAPSHOT]
    assert ((start > snap) & (start <= snap + pd.Timedelta(days=182))).all()
    ms = demo.tables[c.MENTORSHIPS]
    # Features at d count only the mentorships the mentor had started by d (no leakage).
    for row in examples.sample(20, random_state=0).itertuples():
        started = ms.loc[(ms[c.MENTOR_NIP] == row.mentor_nip) & (ms[c.START_DATE] <= row.snapshot)]
        assert getattr(row, mpf.MENTOR_N_MENTORSHIPS) == len(started)
    # Targets are the table's outcomes (NaN while unrated at the label cut).
    merged = examples.merge(
        ms, on=[c.MENTOR_NIP, c.MENTEE_NIP, c.COMPETENCY_ID, c.START_DATE], suffixes=("", "_t")
    )
    assert len(merged) == len(examples)
    rated = merged[c.OUTCOME].notna()
    np.testing.assert_array_equal(merged.loc[rated, c.OUTCOME], merged.loc[rated, "outcome_t"])
    change = examples[mpf.LEVEL_CHANGE]
    assert 0 < change.notna().sum() < len(examples)


def test_demo_scorer_is_chosen_by_held_out_benefit(demo) -> None:
    scorer = fit_mentor_scorer(
        demo.tables, SNAPSHOTS, horizon_days=182, follow_up_days=365, random_state=0
    )
    benefit = scorer.candidate_benefit_
    assert set(benefit) >= set(CANDIDATES) | {"as_happened", "n_holdout"}
    judged = {n: benefit[n] for n in CANDIDATES if np.isfinite(benefit[n])}
    assert set(judged) >= {"highest_level", "shrunk_rating", "track_record"}
    assert scorer.model_name_ in judged
    assert "held-out assignment benefit" in scorer.selection_reason_
    # The winner is the best, or the target rule within the noise of the best.
    best = max(judged, key=judged.get)
    assert scorer.model_name_ in (best, DEFAULT_ESTIMATOR)


def test_no_mentorships_table_falls_back(demo) -> None:
    tables = dict(demo.tables)
    tables[c.MENTORSHIPS] = tables[c.MENTORSHIPS].iloc[:0]
    X, y = training_data(tables, SNAPSHOTS[-2:], horizon_days=182)
    assert len(X) == 0 and list(X.columns) == FEATURES
    scorer = fit_mentor_scorer(tables, SNAPSHOTS[-2:], horizon_days=182)
    assert scorer.model_name_ == DEFAULT_ESTIMATOR
    assert scorer.selection_reason_.startswith("fewer than 20 held-out mentorships")
    assert all(np.isnan(v) for v in scorer.candidate_benefit_.values())
