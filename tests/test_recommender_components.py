"""The recommender fitted on components, its scalar `score`, and its gain-model choice.

Uses the hand-built world of `test_ranker` (see its docstring).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_ranker import SCORE_DATE, SNAPSHOTS, world

from features.build import build_features
from features.plan_input import employee_view
from model.candidates import CandidateGenerator
from model.ranker import GAIN_PRIORS, CourseRanker
from model.recommender import TrainingPathRecommender
from model.recommender_inputs import scoring_knowledge, training_examples


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return world()


@pytest.fixture(scope="module")
def view(tables):
    return employee_view(tables, build_features(tables, SCORE_DATE))


def _ranker() -> CourseRanker:
    return CourseRanker(min_samples_leaf=5, max_iter=30, random_state=0)


def test_fit_on_components_equals_the_convenience_path(tables, view):
    examples = training_examples(tables, SNAPSHOTS)
    knowledge = scoring_knowledge(
        tables, examples.snapshot_dates[-1], examples.competency_ids, examples.last_features
    )
    built = TrainingPathRecommender(ranker=_ranker(), random_state=0).fit(
        examples, knowledge=knowledge
    )
    convenient = TrainingPathRecommender(ranker=_ranker(), random_state=0).fit(tables, SNAPSHOTS)
    pd.testing.assert_frame_equal(built.scored_candidates(view), convenient.scored_candidates(view))
    assert built.gain_selection_ == convenient.gain_selection_
    with pytest.raises(ValueError, match="ScoringKnowledge"):
        TrainingPathRecommender().fit(examples)
    with pytest.raises(ValueError, match="snapshot_dates"):
        TrainingPathRecommender().fit(tables)


def test_a_given_candidate_generator_is_cloned_and_used(tables, view):
    few = CandidateGenerator(n_candidates=1, use_collaborative=False)
    rec = TrainingPathRecommender(ranker=_ranker(), candidate_generator=few, random_state=0)
    rec.fit(tables, SNAPSHOTS)
    assert rec.candidates_ is not few and not hasattr(few, "similarity_")
    scored = rec.scored_candidates(view)
    assert scored.drop_duplicates(["nip", "course_id"]).groupby("nip").size().max() <= 1


def test_score_is_the_mean_expected_closure_of_its_paths(tables, view):
    rec = TrainingPathRecommender(ranker=_ranker(), random_state=0).fit(tables, SNAPSHOTS)
    value = rec.score(view)
    assert isinstance(value, float) and value > 0
    # A budget too small for any course closes nothing.
    assert rec.score(view, jp_budget=1) == pytest.approx(0.0)


def test_gain_model_is_chosen_by_estimated_benefit_and_recorded(tables, view):
    rec = TrainingPathRecommender(ranker=_ranker(), random_state=0).fit(tables, SNAPSHOTS)
    selection = rec.gain_selection_
    assert selection["chosen"] in GAIN_PRIORS and rec.gain_prior_ == selection["chosen"]
    assert all(np.isfinite(selection[name]) for name in GAIN_PRIORS)
    assert selection["validation_date"] == SNAPSHOTS[-1]
    fixed = TrainingPathRecommender(ranker=_ranker(), gain_prior="heterogeneous", random_state=0)
    fixed.fit(tables, SNAPSHOTS)
    assert fixed.gain_prior_ == "heterogeneous" and fixed.gain_selection_["reason"] == "fixed"


def test_one_snapshot_falls_back_to_the_band_prior(tables):
    rec = TrainingPathRecommender(ranker=_ranker(), random_state=0).fit(tables, SNAPSHOTS[:1])
    assert rec.gain_prior_ == "band" and "reason" in rec.gain_selection_


def test_selection_metrics_name_every_estimate(tables):
    from model.gain_selection import selection_metrics

    rec = TrainingPathRecommender(ranker=_ranker(), random_state=0).fit(tables, SNAPSHOTS)
    metrics = selection_metrics(rec)
    for name in GAIN_PRIORS:
        assert metrics[f"gain_selection_est_{name}"] == rec.gain_selection_[name]
    low = metrics["gain_selection_heterogeneous_minus_band_ci_low"]
    assert low <= metrics["gain_selection_heterogeneous_minus_band_ci_high"]
    assert metrics["gain_selection_heterogeneous"] == float(rec.gain_prior_ == "heterogeneous")
