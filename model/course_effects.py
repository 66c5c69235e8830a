"""Heterogeneous course effects: how much a course adds depends on who takes it.

The ranker's band prior (`CourseRanker.predict_gain_prior` with ``gain_prior="band"``) gives
every participant who fits a band the same gain (the typical gain times the course's post-test
factor), half of it to one below the band and nothing at or above the target: hand-set
shares. Here the same quantities are learnt from the observed gains, pooled over all courses
(a band alone has a handful of observed changes; the pool has them all):

- where the participant stands against the band (`model.benefit.band_position`: a level or
  more below `min_level`, half to one level below, less than half below, inside, at or above
  the target), one mean per position: a course far above someone's level helps less;
- the course's length (log JP against the median): a longer course may teach more;
- the participant's gap on the band's competency: the same course may help someone with a
  big gap more than someone who nearly meets the requirement;
- the course's post-test value added (`course_score_effect`), the per-course evidence every
  completion leaves, scaled by the band fit.

A linear model in these terms (the last three scaled by the band fit, so they act where the
course can teach), fitted by least squares on the observed gains minus the untrained
baseline, each coefficient shrunk toward the band prior's own value by `prior_strength`
pseudo-observations of its term (ridge toward a prior, the empirical-Bayes form of "believe
the hand-set rule until the data say otherwise"). With no data it is the band prior exactly
(floor aside); nothing is tuned to a data generator: signs and sizes come from the data, and
whether it serves at all is decided by estimated benefit (`model.recommender`).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from features.pair_features import GAIN_FEATURES, UNDERPREPARED_FACTOR
from model.benefit import N_POSITIONS, band_position

_I_LEVEL_MINUS_MIN = GAIN_FEATURES.index("band_level_minus_min")
_I_HEADROOM = GAIN_FEATURES.index("band_target_minus_level")
_I_SCORE_EFFECT = GAIN_FEATURES.index("course_score_effect")
_I_HOURS = GAIN_FEATURES.index("course_hours_jp")
_I_GAP = GAIN_FEATURES.index("band_gap")
_I_MIN = GAIN_FEATURES.index("band_min_level")
_I_TARGET = GAIN_FEATURES.index("band_target_level")
_I_POSTERIOR = GAIN_FEATURES.index("band_level_mean")
#: Names of the model's terms, in coefficient order.
TERMS = tuple(f"position_{k}" for k in range(N_POSITIONS)) + (
    "score_effect",
    "log_hours",
    "gap",
)
#: Gaps above this many levels count as this many (a rare huge gap must not lever the line).
MAX_GAP = 2.0


def band_positions(X_gain: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
    """`model.benefit.band_position` of gain rows at the participant's best level estimate:
    the posterior level (`band_level_mean`, `features.level_estimates`) where known, else
    the measured level (the floor when unassessed) moved by `shift` (e.g. the expected
    untrained change: E[level | measured])."""
    rel = np.asarray(X_gain[:, _I_LEVEL_MINUS_MIN], dtype=np.float64)
    headroom = np.asarray(X_gain[:, _I_HEADROOM], dtype=np.float64)
    if shift is not None:
        rel, headroom = rel + shift, headroom - shift
    posterior = np.asarray(X_gain[:, _I_POSTERIOR], dtype=np.float64)
    known = ~np.isnan(posterior)
    rel = np.where(known, posterior - X_gain[:, _I_MIN], rel)
    headroom = np.where(known, X_gain[:, _I_TARGET] - posterior, headroom)
    return band_position(np.nan_to_num(rel, nan=-10.0), np.zeros(len(rel)), rel + headroom)


def position_fit(positions: np.ndarray, underprepared_factor: float) -> np.ndarray:
    """The band prior's share per position: 1 from half a level below the band up to its
    target, `underprepared_factor` further below, 0 at or above the target
    (`features.pair_features.band_fit`)."""
    shares = np.array([underprepared_factor, underprepared_factor, 1.0, 1.0, 0.0])
    return shares[positions]


class HeterogeneousGain(BaseEstimator):
    """Gain if completed per band row, from who takes the course and how it fits them.

    Parameters
    ----------
    prior_strength : float
        Pseudo-observations of its own term pulling each coefficient toward the band prior.
    underprepared_factor : float
        The band prior's share below the band (its coefficient there, over the typical gain).
    score_effect_weight : float
        The band prior's weight of the post-test value added.
    """

    _parameter_constraints: dict = {
        "prior_strength": [Interval(Real, 0, None, closed="left")],
        "underprepared_factor": [Interval(Real, 0, 1, closed="both")],
        "score_effect_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        prior_strength: float = 30.0,
        underprepared_factor: float = UNDERPREPARED_FACTOR,
        score_effect_weight: float = 0.75,
    ) -> None:
        self.prior_strength = prior_strength
        self.underprepared_factor = underprepared_factor
        self.score_effect_weight = score_effect_weight

    def _design(self, X_gain: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        pos = band_positions(X_gain, shift)
        fit = position_fit(pos, self.underprepared_factor)
        z = np.nan_to_num(np.asarray(X_gain[:, _I_SCORE_EFFECT], dtype=np.float64), nan=0.0)
        hours = np.asarray(X_gain[:, _I_HOURS], dtype=np.float64)
        log_hours = np.nan_to_num(np.log(np.maximum(hours, 1.0)) - self.log_hours_ref_, nan=0.0)
        gap = np.clip(np.nan_to_num(np.asarray(X_gain[:, _I_GAP], dtype=np.float64)), 0, MAX_GAP)
        onehot = np.zeros((len(pos), N_POSITIONS))
        onehot[np.arange(len(pos)), pos] = 1.0
        return np.column_stack(
            [onehot, fit * z, fit * log_hours, fit * (gap - self.gap_ref_)]
        ).reshape(len(pos), len(TERMS))

    def fit(
        self,
        X_gain: np.ndarray,
        target: np.ndarray,
        typical_gain: float,
        shift: np.ndarray | None = None,
    ) -> HeterogeneousGain:
        """Fit on band rows (`GAIN_FEATURES`) and their gain beyond the untrained baseline;
        `typical_gain` scales the band prior the coefficients shrink toward."""
        self._validate_params()
        X = np.asarray(X_gain, dtype=np.float64)
        y = np.asarray(target, dtype=np.float64).ravel()
        if X.ndim != 2 or X.shape[1] != len(GAIN_FEATURES) or len(y) != len(X):
            raise ValueError("X_gain must be 2-D with GAIN_FEATURES columns, one target per row")
        keep = ~np.isnan(y)
        X, y = X[keep], y[keep]
        shift = None if shift is None else np.asarray(shift, dtype=np.float64)[keep]
        hours = X[:, _I_HOURS]
        known = hours[np.isfinite(hours) & (hours > 0)]
        self.log_hours_ref_ = float(np.median(np.log(known))) if len(known) else 0.0
        gap = np.clip(np.nan_to_num(X[:, _I_GAP]), 0, MAX_GAP)
        learn = position_fit(band_positions(X, shift), self.underprepared_factor) > 0
        self.gap_ref_ = float(gap[learn].mean()) if learn.any() else 0.0
        u, w = self.underprepared_factor, self.score_effect_weight
        self.prior_coef_ = float(typical_gain) * np.array([u, u, 1.0, 1.0, 0.0, w, 0.0, 0.0])
        D = self._design(X, shift)
        # Each term's pseudo-observations at its own typical size (1 for a position).
        sq = D**2
        nonzero = np.maximum((sq > 0).sum(axis=0), 1)
        scale = np.where(sq.sum(axis=0) > 0, sq.sum(axis=0) / nonzero, 1.0)
        strength = np.full(len(TERMS), float(self.prior_strength))
        strength[TERMS.index("score_effect")] = 1e6
        penalty = np.diag(strength * scale)
        lhs = D.T @ D + penalty
        rhs = D.T @ y + penalty @ self.prior_coef_
        self.coef_ = np.linalg.solve(lhs + 1e-12 * np.eye(len(TERMS)), rhs)
        self.n_examples_ = int(len(y))
        return self

    def predict(self, X_gain: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        """Gain per band row (never below 0); `shift` as at fit."""
        check_is_fitted(self, "coef_")
        X = np.asarray(X_gain, dtype=np.float64)
        if len(X) == 0:
            return np.zeros(0)
        return np.maximum(self._design(X, shift) @ self.coef_, 0.0)

    def coefficients(self) -> dict[str, float]:
        """The fitted coefficient of every term (`TERMS`), for logs and reports."""
        check_is_fitted(self, "coef_")
        return {name: float(v) for name, v in zip(TERMS, self.coef_, strict=True)}
