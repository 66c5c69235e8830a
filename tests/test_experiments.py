"""Experiment definitions stay runnable: every variant is a valid training configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from experiments.definitions import EXPERIMENTS
from experiments.runner import run_experiment
from features.settings import Settings
from training_pipeline.run_config import TrainConfig


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_variant_is_a_valid_config(name):
    base = TrainConfig(data_dir=Path("unused"))
    for overrides in EXPERIMENTS[name].variants.values():
        config = dataclasses.replace(base, register=False, **overrides)
        assert config.register is False


def test_unknown_experiment_is_refused(tmp_path):
    with pytest.raises(KeyError, match="known"):
        run_experiment("nope", TrainConfig(data_dir=tmp_path), Settings(home=tmp_path))


def test_mentor_pairing_study_scores_against_the_truth():
    from experiments.mentor_pairing_study import PAIRINGS, run_one

    row = run_one(400, seed=3)
    benefit = {p: row[f"{p}_true_benefit"] for p in PAIRINGS}
    # The optimum on the truth is exact on the same candidates and capacities.
    assert all(benefit["optimum"] >= v - 1e-6 for v in benefit.values())
    assert benefit["product"] > 0 and row["optimum_truly_below_share"] == 0.0
    assert 0 < row["product_share_of_optimum"] <= 1
    assert row["product_vs_highest_level"] == benefit["product"] / benefit["highest_level"]
    assert row["scorer"] in ("highest_level", "shrunk_rating", "track_record", "ridge", "hgb")
    # The skill references choose with the truth on the same candidates: never above the optimum.
    for ref in ("observed_skill", "known_skill"):
        assert 0 < row[f"{ref}_share_of_optimum"] <= 1 + 1e-9


def test_mentor_world_variants_change_the_hidden_rules_and_restore_them():
    import demo_data.truth as dt
    from experiments.mentor_world_variants import VARIANTS, run_variant
    from experiments.world_variants import variant_world

    before = {k: getattr(dt, k) for patches in VARIANTS.values() for _, ch in patches for k in ch}
    with variant_world(VARIANTS["homogeneous_skill"]):
        assert dt.SKILL_SIGMA == 0.3
    assert {k: getattr(dt, k) for k in before} == before
    with pytest.raises(RuntimeError), variant_world(VARIANTS["small_gains"]):
        raise RuntimeError("a study that fails mid-run")
    assert {k: getattr(dt, k) for k in before} == before
    row = run_variant("slow_saturation", 400, 3)
    assert {k: getattr(dt, k) for k in before} == before
    assert 0 < row["product_share_of_optimum"] <= 1 + 1e-9
    assert 0 < row["highest_level_share_of_optimum"] <= 1 + 1e-9
    assert row["product_vs_highest_level"] == pytest.approx(
        row["product_share_of_optimum"] / row["highest_level_share_of_optimum"]
    )


def test_path_world_variants_judge_the_policies_on_another_world(tmp_path):
    import demo_data.courses as dc
    import demo_data.truth as dt
    from experiments.path_world_variants import run_variant

    before = (dt.BELOW_BAND_FACTOR, dt.ABOVE_BAND_FACTOR, dict(dc._MODE_EFFECT))
    row = run_variant("flat_band", 400, 2, tmp_path)
    assert (dt.BELOW_BAND_FACTOR, dt.ABOVE_BAND_FACTOR, dict(dc._MODE_EFFECT)) == before
    assert row["variant"] == "flat_band" and row["max_rule_violations"] == 0
    assert 0 < row["planner_vs_oracle"] <= 1 + 1e-9
    assert sorted(row["true_order"].split(">")) == ["als", "content", "planner", "popularity"]


def test_estimated_benefit_ranks_the_policies_like_the_truth(tmp_path):
    """On a demo world the gate's estimator (observed outcomes only) orders the planner, the
    content rule, ALS and popularity as the hidden truth does, and no policy breaks a rule."""
    from experiments.benefit_study import run_one, summary

    results = run_one(1000, 1, tmp_path)
    (row,) = summary(results).to_dict("records")
    assert row["estimated_order"] == row["true_order"], row
    assert row["true_order"].startswith("planner>")
    assert row["max_rule_violations"] == 0
    assert 0 < row["planner_vs_oracle"] <= 1.0 + 1e-9
