"""The learned course ranker: P(complete) and the expected level gain if completed.

Two gradient-boosted models on the features of `features.pair_features`:

- completion: `HistGradientBoostingClassifier` on pair features, trained on the enrollments
  that followed each feature snapshot (1 = completed, 0 = dropped or no-show). It is the
  probability of completing *given an enrollment*, which is what a recommendation leads to.
  Monotone constraints make it rise with the employee's completion rates (overall and in the
  course's mode) and the course's, and fall with drop-out / no-show rates, so a person who
  drops classroom courses gets a lower chance on the next one even from few examples.
- gain: `HistGradientBoostingRegressor` on pair + band features, trained on completed
  enrollments whose level change on the band's competency was observed
  (`features.labels.enrollment_outcomes`). Monotone in the band's observed (shrunk) effect, so
  a course that history shows to work never ranks below an otherwise equal one that did not.
- gain prior, and empirical Bayes between the two: observed level changes are differences of
  two noisy assessments and need an assessment before and after, so a band rarely has more
  than a handful (on 400 demo employees, ~130 in all, and the learned gain was uncorrelated
  with the true one). The prior is what the content rule knows (who a band suits:
  `features.pair_features.band_fit`) times the typical gain seen in the data times a course
  factor from the post-test value added (`course_score_effect`, evidence every completion
  leaves). The expected gain is the learned one weighted n / (n + `gain_shrinkage`) by the
  band's n observed effects, and the prior for the rest. A second prior,
  `model.course_effects.HeterogeneousGain`, learns how the gain varies with where the
  participant stands against the band (at E[level | measured]: the level plus the baseline
  below), the course's length and the gap, pooled over all observed gains; both are fitted
  and `model.gain_selection` chooses between them by estimated benefit.
- baseline: a before/after change is not all the course's doing. Levels are noisy
  measurements, and people with a gap were, on average, measured low: their next measurement
  is higher even without training (regression to the mean), and everyone drifts a little on
  the job. A third model learns the change of untrained (employee, competency) pairs from the
  employee's state on the competency (`LEVEL_FEATURES`, `features.labels.level_changes`);
  the gain model is fitted on observed gain minus that baseline, so it predicts what the course
  adds. Without it, every course for someone with a gap would look like it closes the gap,
  and min(gain, gap) could no longer tell an effective course from a popular one.

`expected_utility` = p_complete * sum over the course's bands of min(gain, gap): what the
course is expected to close of the employee's gaps. A popular course without effect has gain
near 0 and so a low utility however often it is taken.

With too little data a model falls back: completion to its base rate, the gain to its prior
(the typical gain then stays at `prior_gain`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from features.pair_features import (
    GAIN_FEATURES,
    LEVEL_FEATURES,
    PAIR_FEATURES,
    UNDERPREPARED_FACTOR,
)
from model.course_effects import HeterogeneousGain
from model.threads import limit_threads

#: Direction of the completion model's monotone constraints (+1 rises, -1 falls).
COMPLETION_MONOTONE = {
    "emp_completion_rate": 1,
    "emp_dropout_rate": -1,
    "emp_no_show_rate": -1,
    "mode_completion_rate": 1,
    "mode_dropout_rate": -1,
    "mode_no_show_rate": -1,
    "course_completion_rate": 1,
}
#: ... and of the gain model's.
GAIN_MONOTONE = {"band_effect_shrunk": 1}
#: Below this many rows the models run all `max_iter` iterations without a held-out set.
EARLY_STOPPING_MIN_SAMPLES = 200
_LEVEL_COLUMNS = np.array([GAIN_FEATURES.index(name) for name in LEVEL_FEATURES])
_I_IN_BAND = GAIN_FEATURES.index("band_in_band")
_I_HEADROOM = GAIN_FEATURES.index("band_target_minus_level")
_I_SCORE_EFFECT = GAIN_FEATURES.index("course_score_effect")
_I_N_EFFECT = GAIN_FEATURES.index("band_n_effect")
#: The prior's course multiplier never falls below this share of the typical course.
MIN_COURSE_FACTOR = 0.1
#: The gain priors a ranker fits (`CourseRanker.predict_gain_prior`).
GAIN_PRIORS = ("band", "heterogeneous")


def _threads(n: int | None) -> AbstractContextManager:
    """Limit OpenMP threads (the boosting models' only parallelism) to n; None: no limit."""
    return limit_threads(n, "openmp")


#: Rows predicted per call (bounds the temporary arrays of one call).
PREDICT_BLOCK_ROWS = 65536


def _in_blocks(predict, X: np.ndarray) -> np.ndarray:
    """Predict block by block on a column-major copy of X (same numbers, less memory traffic).

    Each tree reads one feature of every row in turn: in column-major order those reads are
    consecutive, in row-major order each one is a cache miss (a 70-feature row is 560 bytes).
    On 100,000-employee partitions this made the 4-leaf gain model's prediction 1.7x faster
    than row-major blocks of 8,192 rows (the completion model's 1.1x).
    """
    X = np.asfortranarray(X)
    if len(X) <= PREDICT_BLOCK_ROWS:
        return predict(X)
    return np.concatenate(
        [predict(X[i : i + PREDICT_BLOCK_ROWS]) for i in range(0, len(X), PREDICT_BLOCK_ROWS)]
    )


def _matrix(X: object, names: tuple[str, ...], what: str) -> np.ndarray:
    """X as a float array with columns `names` (a DataFrame is reordered by name)."""
    if isinstance(X, pd.DataFrame):
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise ValueError(f"{what} lacks feature columns {missing[:5]}")
        X = X[list(names)].to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"{what} must be 2-D with {len(names)} columns, got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _without_empty_columns(X: np.ndarray) -> np.ndarray:
    """X with all-missing columns set to 0 (scikit-learn's binning fails on them).

    A column that was constant in training is never split on, so leaving it as it is at
    prediction time changes nothing.
    """
    empty = np.isnan(X).all(axis=0) if len(X) else np.zeros(X.shape[1], dtype=bool)
    if not empty.any():
        return X
    X = X.copy()
    X[:, empty] = 0.0
    return X


def _constraints(names: tuple[str, ...], signs: dict[str, int]) -> list[int]:
    return [signs.get(n, 0) for n in names]


class CourseRanker(BaseEstimator):
    """P(complete | pair) and E[gain | completed, band], two histogram boosting models.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization :
        Passed to both `HistGradientBoosting*` models.
    monotonic : bool
        Apply `COMPLETION_MONOTONE` / `GAIN_MONOTONE`.
    calibration : {None, "sigmoid", "isotonic"}
        Recalibrate P(complete) with `CalibratedClassifierCV` (3 folds; fits 3 more models).
    gain_max_leaf_nodes, gain_learning_rate, gain_min_leaf_fraction :
        The gain model's own, stronger regularisation: observed gains are differences of two
        rounded, method-biased assessments, mostly noise. Its leaves hold at least
        `gain_min_leaf_fraction` of the examples (and `min_samples_leaf`). On 10,000 demo
        employees this raised NDCG@5 against the true gap closure from 0.43 to 0.52.
    min_gain_examples : int
        Below this many observed gains the gain model is not fitted (the prior alone).
    prior_gain : float
        Prior level gain of a completed course on a band the participant fits, before any
        data; the typical gain `typical_gain_` is estimated from the observed gains, shrunk
        toward it by `prior_strength` pseudo-observations.
    prior_strength : float
        Weight of `prior_gain`, in observed gains.
    score_effect_weight : float
        How much the prior trusts the post-test value added (`course_score_effect`, in
        standard deviations): a course one deviation above the others is expected to add
        this share more than the typical course.
    gain_shrinkage : float
        Observed effects of a band (`band_n_effect`) at which the learned gain model and the
        prior weigh the same (empirical Bayes: weight n / (n + gain_shrinkage)).
    underprepared_factor : float
        Share of the prior credited below a band (`features.pair_features.band_fit`).
    gain_prior : {"band", "heterogeneous"}
        The prior the gain shrinks toward: "band" (band fit x typical gain x course factor,
        hand-set shares) or "heterogeneous" (`model.course_effects.HeterogeneousGain`: the
        same terms plus band position, length and gap effects learnt from all observed gains).
        Both are fitted; `predict_gain(..., prior=...)` can ask for either.
    heterogeneous_strength : float
        `HeterogeneousGain.prior_strength`.
    random_state : int or None
        Seeds the models' early-stopping split.
    n_threads : int or None
        OpenMP threads for fitting and predicting; None uses every core. One by default: on
        a busy 2-core machine OpenMP's waiting made two threads ten times slower than one,
        and serving scores one employee at a time.

    Examples
    --------
    >>> ranker = CourseRanker(max_iter=50).fit(X_pair, completed, X_gain, gain)  # doctest: +SKIP
    >>> p = ranker.predict_complete(X_pair)  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "monotonic": ["boolean"],
        "calibration": [StrOptions({"sigmoid", "isotonic"}), None],
        "gain_max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "gain_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "gain_min_leaf_fraction": [Interval(Real, 0, 0.5, closed="both")],
        "min_gain_examples": [Interval(Integral, 1, None, closed="left")],
        "prior_gain": [Interval(Real, 0, None, closed="neither")],
        "prior_strength": [Interval(Real, 0, None, closed="left")],
        "score_effect_weight": [Interval(Real, 0, None, closed="left")],
        "gain_shrinkage": [Interval(Real, 0, None, closed="left")],
        "underprepared_factor": [Interval(Real, 0, 1, closed="both")],
        "gain_prior": [StrOptions(set(GAIN_PRIORS))],
        "heterogeneous_strength": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        monotonic: bool = True,
        calibration: str | None = None,
        gain_max_leaf_nodes: int = 4,
        gain_learning_rate: float = 0.05,
        gain_min_leaf_fraction: float = 0.1,
        min_gain_examples: int = 30,
        prior_gain: float = 0.2,
        prior_strength: float = 100.0,
        score_effect_weight: float = 0.75,
        gain_shrinkage: float = 20.0,
        underprepared_factor: float = UNDERPREPARED_FACTOR,
        gain_prior: str = "band",
        heterogeneous_strength: float = 30.0,
        random_state: int | None = None,
        n_threads: int | None = 1,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.monotonic = monotonic
        self.calibration = calibration
        self.gain_max_leaf_nodes = gain_max_leaf_nodes
        self.gain_learning_rate = gain_learning_rate
        self.gain_min_leaf_fraction = gain_min_leaf_fraction
        self.min_gain_examples = min_gain_examples
        self.prior_gain = prior_gain
        self.prior_strength = prior_strength
        self.score_effect_weight = score_effect_weight
        self.gain_shrinkage = gain_shrinkage
        self.underprepared_factor = underprepared_factor
        self.gain_prior = gain_prior
        self.heterogeneous_strength = heterogeneous_strength
        self.random_state = random_state
        self.n_threads = n_threads

    def _boosting_params(self, n_samples: int) -> dict:
        # Outcomes and level changes are noisy: stop on a held-out 10% whenever there is
        # enough data for one (scikit-learn's "auto" waits for 10,000 rows).
        return {
            "early_stopping": n_samples >= EARLY_STOPPING_MIN_SAMPLES,
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "random_state": self.random_state,
        }

    def fit(self, X_pair, completed, X_gain, gain, X_level=None, level_change=None) -> CourseRanker:
        """Fit on pair rows (`PAIR_FEATURES`, 0/1 `completed`), band rows (`GAIN_FEATURES`,
        observed `gain`; NaN gains are dropped) and, for the baseline, untrained level changes
        (`LEVEL_FEATURES`, `level_change`); without them the gain model fits raw gains."""
        self._validate_params()
        with _threads(self.n_threads):
            return self._fit(X_pair, completed, X_gain, gain, X_level, level_change)

    def _fit(self, X_pair, completed, X_gain, gain, X_level, level_change) -> CourseRanker:
        Xp = _matrix(X_pair, PAIR_FEATURES, "X_pair")
        y = np.asarray(completed, dtype=np.float64).ravel()
        if y.shape != (len(Xp),):
            raise ValueError("completed must have one value per row of X_pair")
        if len(y) == 0:
            raise ValueError("no training pairs")
        if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("completed must be 0/1")
        Xg = _matrix(X_gain, GAIN_FEATURES, "X_gain")
        g = np.asarray(gain, dtype=np.float64).ravel()
        if g.shape != (len(Xg),):
            raise ValueError("gain must have one value per row of X_gain")

        self.n_features_in_ = len(PAIR_FEATURES)
        self.base_rate_ = float(y.mean())
        self.n_pairs_ = int(len(y))
        if np.unique(y).size < 2:
            self.complete_model_ = None
        else:
            clf = HistGradientBoostingClassifier(
                monotonic_cst=(
                    _constraints(PAIR_FEATURES, COMPLETION_MONOTONE) if self.monotonic else None
                ),
                **self._boosting_params(len(y)),
            )
            if self.calibration is not None:
                clf = CalibratedClassifierCV(clf, method=self.calibration, cv=3)
            self.complete_model_ = clf.fit(_without_empty_columns(Xp), y.astype(np.int64))

        self.baseline_model_ = None
        self.n_level_examples_ = 0
        if X_level is not None:
            Xl = _matrix(X_level, LEVEL_FEATURES, "X_level")
            dl = np.asarray(level_change, dtype=np.float64).ravel()
            if dl.shape != (len(Xl),):
                raise ValueError("level_change must have one value per row of X_level")
            keep = ~np.isnan(dl)
            self.n_level_examples_ = int(keep.sum())
            if self.n_level_examples_ >= self.min_gain_examples:
                base = HistGradientBoostingRegressor(
                    **self._boosting_params(self.n_level_examples_)
                )
                self.baseline_model_ = base.fit(_without_empty_columns(Xl[keep]), dl[keep])

        observed = ~np.isnan(g)
        self.n_gain_examples_ = int(observed.sum())
        self.mean_gain_ = float(g[observed].mean()) if observed.any() else float("nan")
        target = g[observed] - self.predict_baseline(Xg[observed])
        # Typical gain on a fitting band: least squares of target on the band fit, shrunk
        # toward the prior; never below a tenth of the prior (noise can push it to zero).
        fit = self._band_fit(Xg[observed])
        weight = float(fit @ fit) + self.prior_strength
        typical = (
            (float(fit @ target) + self.prior_strength * self.prior_gain) / weight
            if weight > 0
            else self.prior_gain
        )
        self.typical_gain_ = max(typical, MIN_COURSE_FACTOR * self.prior_gain)
        self.heterogeneous_ = HeterogeneousGain(
            prior_strength=self.heterogeneous_strength,
            underprepared_factor=self.underprepared_factor,
            score_effect_weight=self.score_effect_weight,
        ).fit(Xg[observed], target, self.typical_gain_, self.predict_baseline(Xg[observed]))
        if self.n_gain_examples_ < self.min_gain_examples:
            self.gain_model_ = None
        else:
            n = self.n_gain_examples_
            params = self._boosting_params(n) | {
                "max_leaf_nodes": self.gain_max_leaf_nodes,
                "learning_rate": self.gain_learning_rate,
                "min_samples_leaf": max(
                    self.min_samples_leaf, int(self.gain_min_leaf_fraction * n)
                ),
            }
            reg = HistGradientBoostingRegressor(
                monotonic_cst=(
                    _constraints(GAIN_FEATURES, GAIN_MONOTONE) if self.monotonic else None
                ),
                **params,
            )
            self.gain_model_ = reg.fit(_without_empty_columns(Xg[observed]), target)
        return self

    def predict_baseline(self, X_gain) -> np.ndarray:
        """Expected level change without the course, per band row (0 without a baseline)."""
        Xg = _matrix(X_gain, GAIN_FEATURES, "X_gain")
        if getattr(self, "baseline_model_", None) is None or len(Xg) == 0:
            return np.zeros(len(Xg))
        with _threads(self.n_threads):
            return _in_blocks(self.baseline_model_.predict, Xg[:, _LEVEL_COLUMNS])  # type: ignore[union-attr]

    def predict_complete(self, X_pair) -> np.ndarray:
        """P(complete) per pair row."""
        check_is_fitted(self)
        Xp = _matrix(X_pair, PAIR_FEATURES, "X_pair")
        if self.complete_model_ is None or len(Xp) == 0:
            return np.full(len(Xp), self.base_rate_)
        with _threads(self.n_threads):
            return _in_blocks(lambda X: self.complete_model_.predict_proba(X)[:, 1], Xp)

    def _band_fit(self, Xg: np.ndarray) -> np.ndarray:
        """`features.pair_features.band_fit` from the band columns of gain rows."""
        inside = Xg[:, _I_IN_BAND] > 0
        below_target = Xg[:, _I_HEADROOM] > 0
        return np.where(inside, 1.0, np.where(below_target, self.underprepared_factor, 0.0))

    def predict_gain_prior(self, X_gain, prior: str | None = None) -> np.ndarray:
        """The prior gain per band row (`prior`, default `gain_prior`).

        "band": band fit x typical gain x the course's factor. The course factor is
        1 + score_effect_weight x its post-test value added (0 when
        unknown), floored at `MIN_COURSE_FACTOR`: the content rule's knowledge of who a band
        suits, scaled to the gains seen in the data, with the one per-course signal that
        exists even when level changes are rarely observed. "heterogeneous": the
        `model.course_effects.HeterogeneousGain` fitted on all observed gains.
        """
        check_is_fitted(self)
        Xg = _matrix(X_gain, GAIN_FEATURES, "X_gain")
        # Rankers pickled before the heterogeneous prior existed have the band prior only.
        name = getattr(self, "gain_prior", "band") if prior is None else prior
        if name not in GAIN_PRIORS:
            raise ValueError(f"prior must be one of {GAIN_PRIORS}, got {name!r}")
        if name == "heterogeneous":
            return self.heterogeneous_.predict(Xg, self.predict_baseline(Xg))
        z = np.nan_to_num(Xg[:, _I_SCORE_EFFECT].astype(np.float64), nan=0.0)
        course = np.maximum(1.0 + self.score_effect_weight * z, MIN_COURSE_FACTOR)
        return self._band_fit(Xg) * self.typical_gain_ * course

    def predict_learned_gain(self, X_gain) -> np.ndarray:
        """The gain model alone per band row (NaN when it was not fitted)."""
        check_is_fitted(self)
        Xg = _matrix(X_gain, GAIN_FEATURES, "X_gain")
        if self.gain_model_ is None or len(Xg) == 0:
            return np.full(len(Xg), np.nan)
        with _threads(self.n_threads):
            return _in_blocks(self.gain_model_.predict, Xg)

    def predict_gain(self, X_gain, prior: str | None = None) -> np.ndarray:
        """Level gain per band row that completing the course adds (`prior`: which gain prior,
        default `gain_prior`).

        Empirical Bayes between the learned model and the prior: with n observed effects of
        the band, the learned gain weighs n / (n + gain_shrinkage). Observed gains are
        differences of two noisy assessments, rare per band; where a band has few, the
        learned model mostly echoes noise, and the prior (`predict_gain_prior`) decides.
        """
        Xg = _matrix(X_gain, GAIN_FEATURES, "X_gain")
        base = self.predict_gain_prior(Xg, prior)
        learned = self.predict_learned_gain(Xg)
        n = np.maximum(np.nan_to_num(Xg[:, _I_N_EFFECT].astype(np.float64), nan=0.0), 0.0)
        weight = np.where(np.isnan(learned), 0.0, n / np.maximum(n + self.gain_shrinkage, 1e-12))
        return weight * np.nan_to_num(learned, nan=0.0) + (1.0 - weight) * base


def expected_utility(
    p_complete: np.ndarray,
    gain: np.ndarray,
    gap: np.ndarray,
    entry_pair: np.ndarray,
    n_pairs: int,
    required: np.ndarray | None = None,
    growth_weight: float = 0.0,
) -> np.ndarray:
    """Per pair: p_complete * sum over its bands of [min(gain, gap) + w * growth].

    Bands are rows of `gain` / `gap`, band j belonging to pair `entry_pair[j]`; gains below 0
    count as 0. growth = max(gain - gap, 0) on competencies the position requires (`required`),
    so with a small `growth_weight` w closing gaps always comes first, and among courses that
    close none, those that develop a required competency further rank above the rest.
    """
    g = np.maximum(np.nan_to_num(np.asarray(gain, dtype=np.float64), nan=0.0), 0.0)
    open_gap = np.maximum(np.asarray(gap, dtype=np.float64), 0.0)
    value = np.minimum(g, open_gap)
    if required is not None and growth_weight:
        value = value + growth_weight * np.where(required, np.maximum(g - open_gap, 0.0), 0.0)
    return np.asarray(p_complete, dtype=np.float64) * np.bincount(
        entry_pair, weights=value, minlength=n_pairs
    )
