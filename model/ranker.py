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

`expected_utility` = p_complete * sum over the course's bands of min(gain, gap): what the
course is expected to close of the employee's gaps. A popular course without effect has gain
near 0 and so a low utility however often it is taken.

With too little data a model falls back to a constant: the completion base rate, or NaN gains
(meaning "no estimate": the path builder then uses the band default).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from features.pair_features import GAIN_FEATURES, PAIR_FEATURES

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


def _matrix(X: object, names: tuple[str, ...], what: str) -> np.ndarray:
    """X as a float array with columns `names` (a DataFrame is reordered by name)."""
    if isinstance(X, pd.DataFrame):
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise ValueError(f"{what} lacks feature columns {missing[:5]}")
        X = X[list(names)].to_numpy(dtype=np.float32, na_value=np.nan)
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"{what} must be 2-D with {len(names)} columns, got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


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
    min_gain_examples : int
        Below this many observed gains the gain model is not fitted (NaN gains).
    random_state : int or None
        Seeds the models' early-stopping split.

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
        "min_gain_examples": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
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
        min_gain_examples: int = 30,
        random_state: int | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.monotonic = monotonic
        self.calibration = calibration
        self.min_gain_examples = min_gain_examples
        self.random_state = random_state

    def _boosting_params(self) -> dict:
        return {
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "random_state": self.random_state,
        }

    def fit(self, X_pair, completed, X_gain, gain) -> CourseRanker:
        """Fit on pair rows (`PAIR_FEATURES`, 0/1 `completed`) and band rows (`GAIN_FEATURES`,
        observed `gain`; NaN gains are dropped)."""
        self._validate_params()
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
                **self._boosting_params(),
            )
            if self.calibration is not None:
                clf = CalibratedClassifierCV(clf, method=self.calibration, cv=3)
            self.complete_model_ = clf.fit(Xp, y.astype(np.int64))

        observed = ~np.isnan(g)
        self.n_gain_examples_ = int(observed.sum())
        self.mean_gain_ = float(g[observed].mean()) if observed.any() else float("nan")
        if self.n_gain_examples_ < self.min_gain_examples:
            self.gain_model_ = None
        else:
            reg = HistGradientBoostingRegressor(
                monotonic_cst=(
                    _constraints(GAIN_FEATURES, GAIN_MONOTONE) if self.monotonic else None
                ),
                **self._boosting_params(),
            )
            self.gain_model_ = reg.fit(Xg[observed], g[observed])
        return self

    def predict_complete(self, X_pair) -> np.ndarray:
        """P(complete) per pair row."""
        check_is_fitted(self)
        Xp = _matrix(X_pair, PAIR_FEATURES, "X_pair")
        if self.complete_model_ is None or len(Xp) == 0:
            return np.full(len(Xp), self.base_rate_)
        return self.complete_model_.predict_proba(Xp)[:, 1]

    def predict_gain(self, X_gain) -> np.ndarray:
        """Expected level gain per band row if the course is completed (NaN: no estimate)."""
        check_is_fitted(self)
        Xg = _matrix(X_gain, GAIN_FEATURES, "X_gain")
        if self.gain_model_ is None or len(Xg) == 0:
            return np.full(len(Xg), np.nan)
        return self.gain_model_.predict(Xg)


def expected_utility(
    p_complete: np.ndarray,
    gain: np.ndarray,
    gap: np.ndarray,
    entry_pair: np.ndarray,
    n_pairs: int,
) -> np.ndarray:
    """Per pair: p_complete * sum over its bands of min(max(gain, 0), gap).

    Bands are rows of `gain` / `gap`, band j belonging to pair `entry_pair[j]`.
    """
    closure = np.minimum(np.maximum(np.nan_to_num(gain, nan=0.0), 0.0), np.maximum(gap, 0.0))
    return np.asarray(p_complete, dtype=np.float64) * np.bincount(
        entry_pair, weights=closure, minlength=n_pairs
    )
