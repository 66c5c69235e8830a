"""Mentor pairing on the demo data: hard constraints always hold, the exact assignment beats the
baselines on its own objective, and the scorer's pairs beat them on the hidden truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo_data import generate_demo
from demo_data import truth as dt
from features import columns as c
from features.build import build_features
from features.competency import CURRENT_LEVEL, GAP, REQUIRED, STALENESS_DAYS, WEIGHTED_GAP
from features.mentor_pair_features import MENTOR_PAIR_FEATURES
from features.plan_input import EmployeeView, employee_view, from_plan_input, to_plan_input
from model import mentor_pairing as mp
from model.assignment import BENEFIT
from model.mentor_eligibility import MENTOR_LEVEL, eligible_pairs, subunit_scope
from model.mentor_scorer import MIN_CONFIDENCE, MentorPairScorer, fit_mentor_scorer

SNAPSHOTS = pd.date_range("2022-12-31", "2026-06-30", freq="2QE")
CAPACITY = 3


@pytest.fixture(scope="module")
def demo():
    return generate_demo(600, seed=7)


@pytest.fixture(scope="module")
def view(demo) -> EmployeeView:
    return employee_view(demo.tables, build_features(demo.tables, demo.until))


@pytest.fixture(scope="module")
def scorer(demo) -> MentorPairScorer:
    return fit_mentor_scorer(
        demo.tables, SNAPSHOTS, horizon_days=182, follow_up_days=365, random_state=0
    )


@pytest.fixture(scope="module")
def candidates(view, scorer) -> pd.DataFrame:
    return mp.candidate_pairs(view, scorer)


@pytest.fixture(scope="module")
def pairs(view, scorer) -> pd.DataFrame:
    return mp.pair_mentors(view, scorer, capacity=CAPACITY)


def true_gain(truth) -> callable:
    """Expected level gain of a pair under the demo's hidden response model."""
    return lambda pairs: dt.expected_mentor_gain(truth, pairs)


# --- select_mentees -----------------------------------------------------------------------


def small_view() -> EmployeeView:
    employees = pd.DataFrame(
        {
            c.NIP: pd.array(["A", "B", "C"], dtype="str"),
            c.UNIT_ID: pd.array(["U1", "U2", "U1"], dtype="str"),
        }
    )
    rows = [  # nip, competency, current, required, weight
        ("A", "K1", 2.0, 3.0, 0.6),
        ("A", "K2", 1.0, 4.0, 0.8),
        ("B", "K1", 2.0, 4.0, 0.8),
        ("C", "K1", 4.0, 3.0, 0.6),
    ]
    comp = pd.DataFrame(
        rows, columns=[c.NIP, c.COMPETENCY_ID, CURRENT_LEVEL, c.REQUIRED_LEVEL, "w"]
    )
    comp[GAP] = np.maximum(comp[c.REQUIRED_LEVEL] - comp[CURRENT_LEVEL], 0)
    comp[WEIGHTED_GAP] = comp[GAP] * comp.pop("w")
    comp[REQUIRED] = True
    comp[STALENESS_DAYS] = 0.0
    empty = pd.DataFrame({c.NIP: [], c.COURSE_ID: []})
    return EmployeeView(pd.Timestamp("2026-01-01"), employees, comp, empty, empty)


def test_select_mentees_largest_weighted_gap_first() -> None:
    chosen = mp.select_mentees(small_view())
    assert list(chosen.columns) == list(mp.SELECTED_COLUMNS)
    # A: K2 (3 x 0.8 = 2.4) over K1; B: 1.6; C has no gap.
    assert chosen[[c.NIP, c.COMPETENCY_ID]].to_numpy().tolist() == [["A", "K2"], ["B", "K1"]]
    assert mp.select_mentees(small_view(), units=["U2"])[c.NIP].tolist() == ["B"]
    assert mp.select_mentees(small_view(), nips=["A"], min_gap=3.0).empty


# --- constraints --------------------------------------------------------------------------


def test_pairs_respect_every_constraint(view, pairs, candidates) -> None:
    assert list(pairs.columns) == list(mp.PAIRING_COLUMNS)
    assert len(pairs) > 100
    assert not pairs[c.MENTEE_NIP].duplicated().any()  # one mentor per mentee
    assert (pairs[c.MENTEE_NIP] != pairs[c.MENTOR_NIP]).all()
    # Every pair is eligible, with its focus = the mentee's largest weighted gap.
    keys = [c.MENTEE_NIP, c.MENTOR_NIP, c.COMPETENCY_ID]
    assert len(pairs.merge(candidates[keys], on=keys)) == len(pairs)
    focus = mp.select_mentees(view).set_index(c.NIP)[c.COMPETENCY_ID]
    assert (focus.reindex(pairs[c.MENTEE_NIP]).to_numpy() == pairs[c.COMPETENCY_ID]).all()
    # Capacity counts ongoing mentorships.
    load = view.employees.set_index(c.NIP)["current_load"]
    new = pairs[c.MENTOR_NIP].value_counts()
    assert (new + load.reindex(new.index).to_numpy() <= CAPACITY).all()
    # Supervisors are excluded by default.
    supervisor = view.employees.set_index(c.NIP)[c.SUPERVISOR_NIP]
    assert (supervisor.reindex(pairs[c.MENTEE_NIP]).to_numpy() != pairs[c.MENTOR_NIP]).all()
    # Scores are the candidates' benefits; reasons in both languages.
    assert (pairs[mp.SCORE] > 0).all()
    assert pairs[mp.REASON_ID].str.startswith("Mentor di level").all()
    assert pairs[mp.REASON_EN].str.startswith("Mentor at level").all()


def test_candidates_are_exactly_the_eligible_pairs(view, scorer, candidates) -> None:
    mentees = mp._mentee_frame(view, mp.select_mentees(view))
    mentors, levels = mp._mentor_frames(view)
    expected = eligible_pairs(mentees, mentors, levels, exclude_supervisor=True)
    keys = [c.MENTEE_NIP, c.MENTOR_NIP]
    anyone = mp.candidate_pairs(view, scorer, min_confidence=0.0)
    pd.testing.assert_frame_equal(
        anyone[keys].sort_values(keys).reset_index(drop=True),
        expected[keys].sort_values(keys).reset_index(drop=True),
    )
    # By default only the pairs where the mentor is ahead with high probability remain.
    sure = anyone.loc[anyone[mp.P_AHEAD] >= MIN_CONFIDENCE]
    pd.testing.assert_frame_equal(
        candidates[keys].sort_values(keys).reset_index(drop=True),
        sure[keys].sort_values(keys).reset_index(drop=True),
    )
    assert 0 < len(candidates) < len(anyone)


def test_unit_options_and_overrides(view, scorer, pairs, demo) -> None:
    scope = subunit_scope(demo.tables[c.UNITS])
    scoped = mp.pair_mentors(view, scorer, same_unit=True, unit_scope=scope)
    unit = view.employees.set_index(c.NIP)[c.UNIT_ID]
    mentor_unit = unit.reindex(scoped[c.MENTOR_NIP]).to_numpy()
    mentee_unit = unit.reindex(scoped[c.MENTEE_NIP]).to_numpy()
    assert all(e in scope[m] for e, m in zip(mentee_unit, mentor_unit, strict=True))

    some_unit = unit.value_counts().index[0]
    local = mp.pair_mentors(view, scorer, units=[some_unit])
    assert len(local) and (unit.reindex(local[c.MENTEE_NIP]) == some_unit).all()

    busiest = pairs[c.MENTOR_NIP].value_counts().index[0]
    without = mp.pair_mentors(view, scorer, capacity_overrides={busiest: 0})
    assert busiest not in set(without[c.MENTOR_NIP])
    one_each = mp.pair_mentors(view, scorer, capacity=1)
    assert not one_each[c.MENTOR_NIP].duplicated().any()


def test_rank_mentors_matches_the_batch(view, scorer, pairs, candidates) -> None:
    nip = pairs[c.MENTEE_NIP].iloc[0]
    ranked = mp.rank_mentors(view, scorer, nip, top_k=5)
    assert len(ranked) == min(5, (candidates[c.MENTEE_NIP] == nip).sum())
    assert ranked[mp.RANK].tolist() == list(range(1, len(ranked) + 1))
    assert ranked[mp.SCORE].is_monotonic_decreasing
    mine = candidates.loc[candidates[c.MENTEE_NIP] == nip].set_index(c.MENTOR_NIP)[BENEFIT]
    np.testing.assert_allclose(ranked[mp.SCORE], mine.reindex(ranked[c.MENTOR_NIP]))
    assert ranked[mp.SCORE].iloc[0] == mine.max()
    assert mp.rank_mentors(view, scorer, "not-an-nip").empty


def test_no_history_still_pairs(view) -> None:
    rule = MentorPairScorer("ridge").fit(np.empty((0, len(MENTOR_PAIR_FEATURES))), [])
    assert rule.fallback_reason_ is not None
    assert len(mp.pair_mentors(view, rule)) > 100


# --- benefit against the baselines --------------------------------------------------------


def test_exact_beats_baselines_on_its_objective(view, pairs, candidates) -> None:
    capacity = mp.remaining_capacity(view, CAPACITY)
    exact = mp.pairing_benefit(pairs, mp.SCORE)
    highest = mp.highest_level_pairing(candidates, capacity)
    assert exact >= mp.pairing_benefit(highest)
    assert highest.groupby(c.MENTEE_NIP)[MENTOR_LEVEL].size().max() == 1
    for seed in range(3):
        assert exact >= mp.pairing_benefit(mp.random_pairing(candidates, capacity, seed))
    empty = np.empty((0, len(MENTOR_PAIR_FEATURES)))
    benefit = mp.scorer_benefit(view, MentorPairScorer().fit(empty, []))
    assert mp.pairing_benefit(pairs.head(3), benefit) > 0


def test_scored_pairs_have_higher_true_benefit(demo, view, pairs, candidates, scorer) -> None:
    gain = true_gain(demo.truth)
    capacity = mp.remaining_capacity(view, CAPACITY)
    ours = mp.pairing_benefit(pairs, gain)
    highest = mp.pairing_benefit(mp.highest_level_pairing(candidates, capacity), gain)
    random = np.mean(
        [mp.pairing_benefit(mp.random_pairing(candidates, capacity, s), gain) for s in range(5)]
    )
    # Measured with seed 7 (600 employees): 59.4 (scorer) vs 56.7 (highest level) vs 48.1
    # (random, mean of 5). A world this small has few track records; the targets are
    # measured by experiments/mentor_pairing_study.py on 1,000 / 5,000 employees.
    assert ours > highest
    assert ours > 1.1 * random
    # Mentors truly below their mentee stay rare (the eligibility asks P(ahead) >= 0.99).
    lead = dt.true_lead(demo.truth, pairs)
    assert (lead <= 0).mean() <= 0.03


def test_same_pairs_from_the_plan_input_wire_format(view, scorer, pairs) -> None:
    wired = from_plan_input(to_plan_input(view))
    pd.testing.assert_frame_equal(mp.pair_mentors(wired, scorer, capacity=CAPACITY), pairs)
