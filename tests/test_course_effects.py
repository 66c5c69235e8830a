"""Heterogeneous course effects: the band prior without data, effects learnt from data."""

from __future__ import annotations

import numpy as np
import pytest

from features.pair_features import GAIN_FEATURES
from model.course_effects import TERMS, HeterogeneousGain, band_positions
from model.gain_selection import paired_interval

COL = {name: GAIN_FEATURES.index(name) for name in GAIN_FEATURES}


def rows(level_minus_min, headroom, hours=16.0, gap=1.0, score_effect=0.0) -> np.ndarray:
    """Gain rows with the columns the model reads set; the rest NaN."""
    level_minus_min = np.asarray(level_minus_min, dtype=float)
    X = np.full((len(level_minus_min), len(GAIN_FEATURES)), np.nan)
    X[:, COL["band_level_minus_min"]] = level_minus_min
    X[:, COL["band_target_minus_level"]] = headroom
    X[:, COL["course_hours_jp"]] = hours
    X[:, COL["band_gap"]] = gap
    X[:, COL["course_score_effect"]] = score_effect
    return X


def test_positions_follow_the_band():
    X = rows([-1.5, -0.75, -0.25, 0.5, 2.0], [3.0, 2.0, 1.5, 0.5, -0.5])
    assert band_positions(X).tolist() == [0, 1, 2, 3, 4]


def test_positions_use_the_posterior_level_where_known():
    X = rows([-1.5, -1.5], [3.0, 3.0])
    X[:, COL["band_min_level"]], X[:, COL["band_target_level"]] = 2.0, 4.0
    X[1, COL["band_level_mean"]] = 2.5  # measured 0.5, but the readings together say 2.5
    assert band_positions(X).tolist() == [0, 3]
    assert band_positions(X, shift=np.array([1.0, 0.0])).tolist() == [2, 3]


def test_without_observations_it_is_the_band_prior():
    model = HeterogeneousGain(underprepared_factor=0.5).fit(rows([], []), np.zeros(0), 0.2)
    coef = model.coefficients()
    assert list(coef) == list(TERMS)
    assert coef["position_3"] == pytest.approx(0.2) and coef["position_0"] == pytest.approx(0.1)
    assert coef["position_4"] == pytest.approx(0.0) and coef["gap"] == pytest.approx(0.0)
    pred = model.predict(rows([0.5, -1.5, 2.0], [0.5, 3.0, -0.5]))
    assert pred == pytest.approx([0.2, 0.1, 0.0])


def test_learns_that_far_below_the_band_helps_less_and_gaps_help_more():
    rng = np.random.default_rng(0)
    n = 4000
    rel = rng.uniform(-2.0, 0.9, n)
    gap = rng.uniform(0.0, 2.0, n)
    X = rows(rel, 1.0 - rel, gap=gap)
    pos = band_positions(X)
    truth = np.where(pos >= 2, 0.3, 0.05) + 0.1 * (gap - 1.0) * (pos >= 2)
    y = truth + rng.normal(0, 0.3, n)
    coef = HeterogeneousGain(prior_strength=5.0).fit(X, y, 0.2).coefficients()
    assert coef["position_0"] < 0.1 < 0.25 < coef["position_3"]
    assert coef["gap"] > 0.05


def test_strong_prior_keeps_the_band_prior_and_predictions_are_not_negative():
    X = rows([0.5] * 50, [0.5] * 50)
    model = HeterogeneousGain(prior_strength=1e9).fit(X, np.full(50, -1.0), 0.2)
    assert model.coefficients()["position_3"] == pytest.approx(0.2, abs=1e-6)
    weak = HeterogeneousGain(prior_strength=0.0).fit(X, np.full(50, -1.0), 0.2)
    assert (weak.predict(X) == 0.0).all()


def test_bad_input_raises():
    with pytest.raises(ValueError, match="GAIN_FEATURES"):
        HeterogeneousGain().fit(np.zeros((2, 3)), np.zeros(2), 0.2)
    with pytest.raises(ValueError):
        HeterogeneousGain(prior_strength=-1.0).fit(rows([0.5], [0.5]), np.zeros(1), 0.2)


def test_paired_interval_covers_the_mean_difference():
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 0.5, 500)
    low, high = paired_interval(a + 0.1, a, rng)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
    noise = rng.normal(0.0, 1.0, 500)
    low, high = paired_interval(noise - noise.mean(), np.zeros(500), rng)
    assert low < 0 < high
