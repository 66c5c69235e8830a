"""`MentorPairScorer`: the predicted benefit of a (mentee, mentor, focus competency) pair.

Benefit = effect x headroom, in levels of the focus competency:

- headroom = the mentor's expected lead over the mentee (`features.mentor_pair_features.
  expected_lead`: assessed levels corrected toward the positions' required levels), kept within
  [`LEAD_FLOOR`, `lead_cap`]: what the mentor has to pass on. Beyond `lead_cap` levels a mentor
  passes on no more in one mentorship; the floor keeps every eligible pair assignable (the hard
  rules already say the mentor is ahead).
- effect = (expected outcome rating - 1) / 4, in [`EFFECT_FLOOR`, 1]: how well the pairing is
  expected to work. The expected outcome (1..5) is learned from past mentorships on the pair
  features (the mentor's shrunk past outcomes and mentee level changes, load, seniority
  differences, unit ...).

Why the outcome rating and not the mentee's measured level change as the target: a level change
is observable only when the mentee was assessed in the focus competency both before and after
(on the demo data for about one mentorship in seven), and assessments move in whole or half
levels with noise as large as a mentoring gain, so that target carries almost no signal at
realistic volumes, while every finished mentorship is rated. `mentorship_examples` still
returns the level change, for evaluation.

Model choice: `estimator="auto"` measures the K-fold mean squared error of the expected outcome
for the rule below, a ridge model and a histogram gradient boosting model on the same folds, and
keeps the simplest whose error is within one standard error of the lowest (the one-standard-error
rule: on a few hundred ratings the differences are mostly fold noise, and a learned model that
only ties the rule tends to flatten the track record it should reward). Both learned models are
monotone (non-decreasing) in the mentor's past outcomes and past mentee level changes, so a
better track record never lowers a score all else equal.

Fallback rule (documented, no fitting): the expected outcome is the mentor's shrunk past outcome
rating (`mentor_outcome_shrunk`), or the neutral `DEFAULT_OUTCOME` for a mentor without one. It
is used with fewer than `min_examples` rated mentorships, or when it wins the cross-validation;
`fallback_reason_` then says why, so the pipeline can report it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from features import columns as c
from features.as_of import AsOfLike
from features.mentor_pair_features import (
    EXPECTED_LEAD,
    MENTOR_MENTEE_CHANGE,
    MENTOR_OUTCOME,
    MENTOR_PAIR_FEATURES,
    mentorship_examples,
)
from features.plan_input import EmployeeView
from model.threads import limit_threads

#: Direction of the monotone constraints (+1: the expected outcome never falls as it rises).
MONOTONE = {MENTOR_OUTCOME: 1, MENTOR_MENTEE_CHANGE: 1}
#: Expected outcome of a mentor without any track record under the fallback rule (mid-scale).
DEFAULT_OUTCOME = 3.0
#: Smallest effect: any eligible pair is worth something, so it may still be assigned.
EFFECT_FLOOR = 0.05
#: Smallest headroom of a pair, in levels.
LEAD_FLOOR = 0.2
_OUTCOME_RANGE = (float(c.MIN_LEVEL_VALUE), float(c.MAX_LEVEL_VALUE))

#: Below this many rows boosting runs on one thread: OpenMP start-up on a few hundred
#: mentorships costs far more than it saves (20x slower measured on a busy 2-core machine).
_SINGLE_THREAD_ROWS = 100_000

_I_LEAD = MENTOR_PAIR_FEATURES.index(EXPECTED_LEAD)
_I_OUTCOME = MENTOR_PAIR_FEATURES.index(MENTOR_OUTCOME)


def _matrix(X: object) -> np.ndarray:
    """X as a float array with the `MENTOR_PAIR_FEATURES` columns (a DataFrame by name)."""
    if isinstance(X, pd.DataFrame):
        missing = [n for n in MENTOR_PAIR_FEATURES if n not in X.columns]
        if missing:
            raise ValueError(f"X lacks feature columns {missing[:5]}")
        X = X[list(MENTOR_PAIR_FEATURES)].to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(MENTOR_PAIR_FEATURES):
        raise ValueError(
            f"X must be 2-D with {len(MENTOR_PAIR_FEATURES)} columns, got shape {arr.shape}"
        )
    return arr


def _rule_outcome(X: np.ndarray) -> np.ndarray:
    """The fallback rule's expected outcome: the mentor's shrunk past outcome, else neutral."""
    past = X[:, _I_OUTCOME]
    return np.where(np.isnan(past), DEFAULT_OUTCOME, past)


class _BoundedRidge:
    """Ridge regression on standardised features with sign bounds on some coefficients.

    Missing values are replaced by the training mean. The penalised least squares problem is
    solved as a bounded linear least squares on the augmented system [X; sqrt(alpha) I].
    """

    def __init__(self, alpha: float, signs: list[int]) -> None:
        self.alpha = alpha
        self.signs = signs

    def fit(self, X: np.ndarray, y: np.ndarray) -> _BoundedRidge:
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        self.mean_ = np.nan_to_num(mean, nan=0.0)
        Z = self._standardise_fit(X)
        self.intercept_ = float(y.mean())
        k = Z.shape[1]
        A = np.vstack([Z, np.sqrt(self.alpha) * np.eye(k)])
        b = np.r_[y - self.intercept_, np.zeros(k)]
        lower = np.array([0.0 if s > 0 else -np.inf for s in self.signs])
        upper = np.array([0.0 if s < 0 else np.inf for s in self.signs])
        self.coef_ = lsq_linear(A, b, bounds=(lower, upper)).x
        return self

    def _standardise_fit(self, X: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(X), self.mean_, X)
        std = filled.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        return (filled - self.mean_) / self.scale_

    def predict(self, X: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(X), self.mean_, X)
        return self.intercept_ + ((filled - self.mean_) / self.scale_) @ self.coef_


class MentorPairScorer(BaseEstimator):
    """Predicted benefit of mentoring pairs: learned expected outcome x level headroom.

    Parameters
    ----------
    estimator : {"auto", "rule", "ridge", "hgb"}
        The outcome model; "auto" chooses by cross-validated error (module docstring).
    alpha : float
        Ridge penalty (on standardised features).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization :
        Passed to `HistGradientBoostingRegressor`; defaults suit a few hundred examples.
    monotonic : bool
        Constrain the outcome to be non-decreasing in `MONOTONE`'s features.
    min_examples : int
        Fewer rated mentorships than this: the documented fallback rule, not a learned model.
    cv : int
        Folds of the cross-validation behind `estimator="auto"` (and `cv_mse_`).
    lead_cap : float
        Levels of lead beyond which a mentor passes on no more (the headroom's cap); at
        least `LEAD_FLOOR`.
    random_state : int or None
        Seeds the folds and the boosting model.

    Attributes
    ----------
    model_name_ : str
        "ridge", "hgb" or "rule" (the fallback).
    fallback_reason_ : str or None
        Why the fallback rule is used; None for a learned model.
    cv_mse_, cv_se_ : dict
        Cross-validated mean squared error of the outcome (and its standard error over the
        folds) per candidate model, "rule" and "constant" (the training mean).
    n_examples_ : int
        Rated mentorships fitted on.

    Examples
    --------
    >>> import numpy as np
    >>> scorer = MentorPairScorer().fit(np.empty((0, len(MENTOR_PAIR_FEATURES))), [])
    >>> scorer.model_name_, scorer.fallback_reason_
    ('rule', 'no mentoring history: no rated mentorship to learn from')
    """

    _parameter_constraints: dict = {
        "estimator": [StrOptions({"auto", "rule", "ridge", "hgb"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "monotonic": ["boolean"],
        "min_examples": [Interval(Integral, 2, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "lead_cap": [Interval(Real, LEAD_FLOOR, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: str = "auto",
        alpha: float = 100.0,
        max_iter: int = 100,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 8,
        min_samples_leaf: int = 10,
        l2_regularization: float = 1.0,
        monotonic: bool = True,
        min_examples: int = 30,
        cv: int = 5,
        lead_cap: float = 2.0,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.monotonic = monotonic
        self.min_examples = min_examples
        self.cv = cv
        self.lead_cap = lead_cap
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # --- fitting ---------------------------------------------------------------------------

    def _signs(self) -> list[int]:
        return [MONOTONE.get(n, 0) if self.monotonic else 0 for n in MENTOR_PAIR_FEATURES]

    def _make(self, name: str):
        if name == "ridge":
            return _BoundedRidge(self.alpha, self._signs())
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            monotonic_cst=self._signs(),
            random_state=self.random_state,
        )

    def fit(self, X, y) -> MentorPairScorer:
        """Fit the outcome model on pair features `X` and outcome ratings `y` (1..5).

        Rows with a missing outcome (mentorships unrated or still running) are skipped.
        """
        self._validate_params()
        Xa = _matrix(X)
        ya = np.asarray(y, dtype=np.float64).ravel()
        if ya.shape != (len(Xa),):
            raise ValueError("y must have one outcome per row of X")
        rated = ~np.isnan(ya)
        Xa, ya = Xa[rated], ya[rated]
        if ((ya < _OUTCOME_RANGE[0]) | (ya > _OUTCOME_RANGE[1])).any():
            raise ValueError("outcomes must lie in 1..5")

        self.n_features_in_ = len(MENTOR_PAIR_FEATURES)
        self.n_examples_ = int(len(ya))
        self.outcome_mean_ = float(ya.mean()) if len(ya) else DEFAULT_OUTCOME
        self.cv_mse_: dict[str, float] = {}
        self.cv_se_: dict[str, float] = {}
        self.model_name_, self.model_, self.fallback_reason_ = "rule", None, None

        if self.n_examples_ == 0:
            self.fallback_reason_ = "no mentoring history: no rated mentorship to learn from"
            return self
        if self.n_examples_ < self.min_examples:
            self.fallback_reason_ = (
                f"too little mentoring history: {self.n_examples_} rated mentorships "
                f"(a learned model needs {self.min_examples})"
            )
            return self

        # Simplest first: the one-standard-error rule picks the first within reach of the best.
        names = ["rule", "ridge", "hgb"] if self.estimator == "auto" else [self.estimator]
        folds = self._cross_validate(Xa, ya, names)
        self.cv_mse_ = {n: float(np.mean(e)) for n, e in folds.items()}
        self.cv_se_ = {n: float(np.std(e, ddof=1) / np.sqrt(len(e))) for n, e in folds.items()}
        lowest = min(names, key=lambda n: self.cv_mse_[n])
        reach = self.cv_mse_[lowest] + self.cv_se_[lowest]
        best = next(n for n in names if self.cv_mse_[n] <= reach)
        if self.estimator == "rule":
            self.fallback_reason_ = "the rule was requested (estimator='rule')"
            return self
        if best == "rule":
            errors = ", ".join(f"{n} {self.cv_mse_[n]:.3f}" for n in names)
            self.fallback_reason_ = (
                "no learned model predicted past outcomes clearly better than the rule "
                f"(cross-validated MSE: {errors}; standard error of the lowest "
                f"{self.cv_se_[lowest]:.3f})"
            )
            return self
        self.model_name_ = best
        with limit_threads(1):
            self.model_ = self._make(best).fit(Xa, ya)
        return self

    def _cross_validate(
        self, X: np.ndarray, y: np.ndarray, names: list[str]
    ) -> dict[str, list[float]]:
        """Per-fold mean squared error of the expected outcome per model; the rule and the
        constant (training mean) are measured on the same folds for reference."""
        folds = KFold(min(self.cv, len(y)), shuffle=True, random_state=self.random_state)
        learned = [n for n in names if n != "rule"]
        errors: dict[str, list[float]] = {n: [] for n in [*learned, "rule", "constant"]}

        def mse(pred: np.ndarray, test: np.ndarray) -> float:
            return float(((y[test] - np.clip(pred, *_OUTCOME_RANGE)) ** 2).mean())

        with limit_threads(1):
            for train, test in folds.split(X):
                errors["constant"].append(mse(np.full(len(test), y[train].mean()), test))
                errors["rule"].append(mse(_rule_outcome(X[test]), test))
                for name in learned:
                    model = self._make(name).fit(X[train], y[train])
                    errors[name].append(mse(model.predict(X[test]), test))
        return errors

    # --- prediction ------------------------------------------------------------------------

    def predict_outcome(self, X) -> np.ndarray:
        """Expected outcome rating (1..5) per pair."""
        check_is_fitted(self)
        Xa = _matrix(X)
        if self.model_ is None:
            pred = _rule_outcome(Xa)
        elif len(Xa) < _SINGLE_THREAD_ROWS:
            with limit_threads(1):
                pred = self.model_.predict(Xa) if len(Xa) else np.zeros(0)
        else:
            pred = self.model_.predict(Xa)
        return np.clip(pred, *_OUTCOME_RANGE)

    def predict_effect(self, X) -> np.ndarray:
        """(expected outcome - 1) / 4, floored at `EFFECT_FLOOR`."""
        outcome = self.predict_outcome(X)
        span = _OUTCOME_RANGE[1] - _OUTCOME_RANGE[0]
        return np.clip((outcome - _OUTCOME_RANGE[0]) / span, EFFECT_FLOOR, 1.0)

    def headroom(self, X) -> np.ndarray:
        """The expected lead within [LEAD_FLOOR, lead_cap] (LEAD_FLOOR when unknown)."""
        lead = _matrix(X)[:, _I_LEAD]
        return np.clip(np.nan_to_num(lead, nan=LEAD_FLOOR), LEAD_FLOOR, self.lead_cap)

    def predict(self, X) -> np.ndarray:
        """Benefit per pair: effect x headroom (levels of the focus competency)."""
        check_is_fitted(self)
        Xa = _matrix(X)
        return self.predict_effect(Xa) * self.headroom(Xa)


def training_data(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    follow_up_days: int = 365,
    views: Mapping[pd.Timestamp, EmployeeView] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """(pair features at each snapshot, outcome) of the mentorships that followed it.

    See `features.mentor_pair_features.mentorship_examples`; unrated rows keep a NaN outcome
    (`MentorPairScorer.fit` skips them). Empty when there is no mentoring history.
    """
    examples = mentorship_examples(
        tables,
        snapshot_dates,
        horizon_days=horizon_days,
        follow_up_days=follow_up_days,
        views=views,
    )
    return examples[list(MENTOR_PAIR_FEATURES)], examples[c.OUTCOME]


def fit_mentor_scorer(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    follow_up_days: int = 365,
    views: Mapping[pd.Timestamp, EmployeeView] | None = None,
    **params: object,
) -> MentorPairScorer:
    """`MentorPairScorer(**params)` fitted on `training_data(tables, snapshot_dates, ...)`."""
    X, y = training_data(
        tables,
        snapshot_dates,
        horizon_days=horizon_days,
        follow_up_days=follow_up_days,
        views=views,
    )
    return MentorPairScorer(**params).fit(X, y)  # type: ignore[arg-type]
