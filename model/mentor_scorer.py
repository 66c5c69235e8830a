"""`MentorPairScorer`: the expected learning gain of a (mentee, mentor, focus competency) pair.

A mentor's worth is what the mentee learns, so the target is the mentee's level change in the
focus competency over the mentorship (method-debiased assessments before and after,
`features.mentor_pair_features.mentorship_examples`), not the outcome rating: ratings measure
satisfaction and are only a weak auxiliary signal (a feature: the mentor's shrunk past rating).

Candidates (`estimator`), every one a benefit in levels of the focus competency:

- ``"highest_level"``: the rule "the mentor with the highest estimated level" (no fitting);
- ``"shrunk_rating"``: headroom x (shrunk past rating - 1) / 4, the former rule;
- ``"track_record"``: headroom x the mentor's effect, i.e. what their earlier mentees gained per
  unit of headroom, shrunk toward the pool (`features.mentor_vectors`; the pool's effect for a
  mentor without observed mentees);
- ``"ridge"``: headroom x a linear effect of the pair features (track record, rating, same
  unit, load, seniority, ...) fitted on observed gains, monotone in the track record;
- ``"hgb"``: gradient boosting of the observed gain on all pair features, monotone in the
  track record and the headroom.

`headroom` (a feature) is P(mentor truly ahead) x the saturating expected lead, from level
estimates with uncertainty (`features.level_estimates`).

Which candidate serves is not decided by how well it predicts, but by the benefit of the
*assignment* it produces on later mentorships it has not seen (`select_mentor_scorer`): fit
every candidate on the mentorships before the last snapshot, let each assign the mentees of the
year after it to that year's mentors (exact, capacity-respecting), and score each assignment with
what that year revealed about the mentors (each mentor's gain per unit of headroom on their
held-out mentees, shrunk toward the pool). The winner is refitted on everything; all candidates'
estimates are kept in `candidate_benefit_` for the training summary and MLflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from features import columns as c
from features.as_of import AsOfLike, to_as_of
from features.build import build_features
from features.mentor_pair_features import (
    EXPECTED_LEAD,
    GRADE_DIFF,
    HEADROOM,
    LEVEL_CHANGE,
    MENTOR_EFFECT,
    MENTOR_LEVEL_MEAN,
    MENTOR_MENTEE_CHANGE,
    MENTOR_OUTCOME,
    MENTOR_PAIR_FEATURES,
    P_AHEAD,
    SNAPSHOT,
    TENURE_DIFF,
    MentorPairArrays,
    mentorship_examples,
    pair_matrix,
)
from features.plan_input import EmployeeView, employee_view
from model.threads import limit_threads

#: Candidate scorers, simplest first (ties in estimated benefit go to the simpler).
CANDIDATES = ("highest_level", "shrunk_rating", "track_record", "ridge", "hgb")
RULES = ("highest_level", "shrunk_rating", "track_record")
#: Served when there is no evidence to choose by.
DEFAULT_ESTIMATOR = "track_record"
#: Monotone directions: a better track record, more headroom, a larger expected lead or more
#: certainty that the mentor is ahead never lowers a score.
MONOTONE = {
    MENTOR_MENTEE_CHANGE: 1,
    MENTOR_EFFECT: 1,
    MENTOR_OUTCOME: 1,
    HEADROOM: 1,
    EXPECTED_LEAD: 1,
    P_AHEAD: 1,
}
#: Expected rating of a mentor without any (mid-scale), for the shrunk-rating rule.
DEFAULT_OUTCOME = 3.0
#: Smallest effect per unit of headroom: every eligible pair is worth something.
EFFECT_FLOOR = 0.01
#: Mean mentee gain assumed before any has been observed (levels per mentorship).
DEFAULT_GAIN = 0.2
#: A mentor must be above the mentee with at least this probability to be eligible.
MIN_CONFIDENCE = 0.99
#: Held-out mentorships with an observed gain needed to choose between candidates.
MIN_HOLDOUT = 20
#: Pseudo-observations (in squared headroom) shrinking a mentor's held-out effect to the pool.
HOLDOUT_SHRINK = 1.0

_SINGLE_THREAD_ROWS = 100_000
_I = {name: i for i, name in enumerate(MENTOR_PAIR_FEATURES)}


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


def _headroom(X: np.ndarray) -> np.ndarray:
    return np.nan_to_num(X[:, _I[HEADROOM]], nan=0.0)


class _EffectRidge:
    """gain ~ headroom x (b0 + b . z): ridge on standardised features scaled by the headroom.

    Missing values take the training mean; coefficients of `signs` +1 features are >= 0.
    """

    def __init__(self, alpha: float, signs: list[int]) -> None:
        self.alpha = alpha
        self.signs = signs

    def fit(self, X: np.ndarray, y: np.ndarray) -> _EffectRidge:
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        self.mean_ = np.nan_to_num(mean, nan=0.0)
        filled = np.where(np.isnan(X), self.mean_, X)
        std = filled.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        h = _headroom(X)[:, None]
        Z = np.hstack([h, h * (filled - self.mean_) / self.scale_])
        k = Z.shape[1]
        A = np.vstack([Z, np.sqrt(self.alpha) * np.eye(k)])
        A[len(Z), 0] = 0.0  # the base effect is not penalised
        b = np.r_[y, np.zeros(k)]
        lower = np.array([-np.inf] + [0.0 if s > 0 else -np.inf for s in self.signs])
        self.coef_ = lsq_linear(A, b, bounds=(lower, np.full(k, np.inf))).x
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(X), self.mean_, X)
        effect = self.coef_[0] + ((filled - self.mean_) / self.scale_) @ self.coef_[1:]
        return _headroom(X) * np.maximum(effect, EFFECT_FLOOR)


class MentorPairScorer(BaseEstimator):
    """Expected gain of mentoring pairs in levels of the focus competency.

    Parameters
    ----------
    estimator : {"highest_level", "shrunk_rating", "track_record", "ridge", "hgb"}
        The candidate (module docstring); `select_mentor_scorer` chooses one by benefit.
    alpha : float
        Ridge penalty (standardised features).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization :
        Passed to `HistGradientBoostingRegressor`.
    min_examples : int
        Fewer observed gains than this: a learned estimator falls back to the track-record rule
        (`fallback_reason_` says so).
    random_state : int or None
        Seeds the boosting model.

    Attributes
    ----------
    model_name_ : str
        The candidate actually used.
    fallback_reason_ : str or None
        Why a rule serves instead of the requested learned model; None otherwise.
    n_examples_ : int
        Observed gains fitted on.
    mean_gain_ : float
        Mean observed gain (the track-record rule's value for a mentor without history).

    Examples
    --------
    >>> import numpy as np
    >>> scorer = MentorPairScorer("ridge").fit(np.empty((0, len(MENTOR_PAIR_FEATURES))), [])
    >>> scorer.model_name_, scorer.fallback_reason_
    ('track_record', 'no mentoring history: no observed mentee gain to learn from')
    """

    _parameter_constraints: dict = {
        "estimator": [StrOptions(set(CANDIDATES))],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "min_examples": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: str = DEFAULT_ESTIMATOR,
        alpha: float = 30.0,
        max_iter: int = 100,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 8,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        min_examples: int = 30,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.min_examples = min_examples
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _signs(self) -> list[int]:
        return [MONOTONE.get(n, 0) for n in MENTOR_PAIR_FEATURES]

    def fit(self, X, y) -> MentorPairScorer:
        """Fit on pair features `X` and observed mentee gains `y` (NaN: unobserved, skipped)."""
        self._validate_params()
        Xa = _matrix(X)
        ya = np.asarray(y, dtype=np.float64).ravel()
        if ya.shape != (len(Xa),):
            raise ValueError("y must have one gain per row of X")
        seen = ~np.isnan(ya)
        Xa, ya = Xa[seen], ya[seen]
        if (np.abs(ya) > c.MAX_LEVEL_VALUE).any():
            raise ValueError("gains must lie within -5..5 levels")
        self.n_features_in_ = len(MENTOR_PAIR_FEATURES)
        self.n_examples_ = int(len(ya))
        self.mean_gain_ = float(ya.mean()) if len(ya) else DEFAULT_GAIN
        h = _headroom(Xa)
        self.mean_effect_ = (
            float((ya * h).sum() / (h * h).sum()) if (h * h).sum() > 0 else DEFAULT_GAIN
        )
        self.model_name_: str = self.estimator
        self.model_: Any = None
        self.fallback_reason_: str | None = None
        if self.estimator in RULES:
            return self
        if self.n_examples_ == 0:
            return self._fall_back("no mentoring history: no observed mentee gain to learn from")
        if self.n_examples_ < self.min_examples:
            return self._fall_back(
                f"too little mentoring history: {self.n_examples_} observed mentee gains "
                f"(a learned model needs {self.min_examples})"
            )
        with limit_threads(1):
            if self.estimator == "ridge":
                self.model_ = _EffectRidge(self.alpha, self._signs()).fit(Xa, ya)
            else:
                self.model_ = HistGradientBoostingRegressor(
                    max_iter=self.max_iter,
                    learning_rate=self.learning_rate,
                    max_leaf_nodes=self.max_leaf_nodes,
                    min_samples_leaf=self.min_samples_leaf,
                    l2_regularization=self.l2_regularization,
                    monotonic_cst=self._signs(),
                    random_state=self.random_state,
                ).fit(Xa, ya)
        return self

    def _fall_back(self, reason: str) -> MentorPairScorer:
        self.model_name_, self.fallback_reason_ = DEFAULT_ESTIMATOR, reason
        return self

    def predict(self, X) -> np.ndarray:
        """Expected gain per pair (levels), positive for every pair with some headroom."""
        check_is_fitted(self)
        Xa = _matrix(X)
        h = _headroom(Xa)
        floor = EFFECT_FLOOR * h + 1e-6
        name = self.model_name_
        if name == "highest_level":
            level = np.nan_to_num(Xa[:, _I[MENTOR_LEVEL_MEAN]], nan=c.MIN_LEVEL_VALUE)
            return np.maximum(level, 0.0) * np.nan_to_num(Xa[:, _I[P_AHEAD]], nan=0.0) + 1e-6
        if name == "shrunk_rating":
            rating = np.nan_to_num(Xa[:, _I[MENTOR_OUTCOME]], nan=DEFAULT_OUTCOME)
            span = c.MAX_LEVEL_VALUE - c.MIN_LEVEL_VALUE
            effect = np.clip((rating - c.MIN_LEVEL_VALUE) / span, EFFECT_FLOOR, 1.0)
            return h * effect + 1e-6
        if name == "track_record":
            record = np.nan_to_num(Xa[:, _I[MENTOR_EFFECT]], nan=self.mean_effect_)
            return np.maximum(h * record, floor)
        if len(Xa) == 0:
            return np.zeros(0)
        if len(Xa) < _SINGLE_THREAD_ROWS:
            with limit_threads(1):
                pred = self.model_.predict(Xa)
        else:
            pred = self.model_.predict(Xa)
        return np.maximum(pred, floor)


# --- training data and the choice by benefit ------------------------------------------------


def training_data(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    follow_up_days: int = 365,
    views: Mapping[pd.Timestamp, EmployeeView] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """(pair features at each snapshot, observed mentee gain) of the mentorships that followed.

    See `features.mentor_pair_features.mentorship_examples`; unobserved gains stay NaN.
    """
    examples = mentorship_examples(
        tables,
        snapshot_dates,
        horizon_days=horizon_days,
        follow_up_days=follow_up_days,
        views=views,
    )
    return examples[list(MENTOR_PAIR_FEATURES)], examples[LEVEL_CHANGE]


def holdout_assignment_benefit(
    train: pd.DataFrame,
    test: pd.DataFrame,
    view: EmployeeView,
    *,
    min_confidence: float = MIN_CONFIDENCE,
    capacity_per_mentor: int = 3,
    random_state: int | None = None,
    per_mentee: dict[str, np.ndarray] | None = None,
    **params: object,
) -> dict[str, float]:
    """Estimated benefit of each candidate's assignment of the held-out mentees (see module).

    `train` / `test` are `mentorship_examples` rows before / after the split; `view` is the
    employees at the split (the test rows' snapshot). Keys: every candidate, plus
    ``"as_happened"`` (the pairs that really formed) and ``"n_holdout"``. `per_mentee`, when
    given, receives each candidate's benefit per held-out mentee (for standard errors).
    """
    observed = test.loc[test[LEVEL_CHANGE].notna()]
    h = np.nan_to_num(observed[HEADROOM].to_numpy(dtype=np.float64), nan=0.0)
    y = observed[LEVEL_CHANGE].to_numpy(dtype=np.float64)
    pool = float((y * h).sum() / max((h * h).sum(), 1e-9))
    mentor_codes, mentor_nips = pd.factorize(observed[c.MENTOR_NIP].astype(str))
    yh = np.bincount(mentor_codes, y * h, minlength=len(mentor_nips))
    hh = np.bincount(mentor_codes, h * h, minlength=len(mentor_nips))
    theta = pd.Series((yh + HOLDOUT_SHRINK * pool) / (hh + HOLDOUT_SHRINK), index=mentor_nips)

    mentees = test.drop_duplicates(c.MENTEE_NIP)
    # every mentor with held-out evidence may take `capacity` mentees: more room than the
    # held-out mentees need, so an assignment shows which mentors it trusts
    capacity = pd.Series(capacity_per_mentor, index=theta.index)
    arrays = MentorPairArrays.from_view(view)
    e_idx, _, k_idx = arrays.indices(
        mentees[c.MENTEE_NIP].astype(str), mentees[c.MENTOR_NIP].astype(str),
        mentees[c.COMPETENCY_ID].astype(str),
    )  # fmt: skip
    m_idx = arrays.nips.get_indexer(pd.Index(capacity.index, dtype=object))
    ok_e, ok_m = e_idx >= 0, m_idx >= 0
    e_idx, k_idx, m_idx = e_idx[ok_e], k_idx[ok_e], m_idx[ok_m]
    mentor_names = np.asarray(capacity.index[ok_m], dtype=object)
    ee = np.repeat(np.arange(len(e_idx)), len(m_idx))
    mm = np.tile(np.arange(len(m_idx)), len(e_idx))
    X = pair_matrix(arrays, e_idx[ee], m_idx[mm], k_idx[ee])
    senior = (X[:, _I[GRADE_DIFF]] > 0) | (
        (X[:, _I[GRADE_DIFF]] == 0) & (X[:, _I[TENURE_DIFF]] > 0)
    )
    keep = senior & (e_idx[ee] != m_idx[mm]) & (np.nan_to_num(X[:, _I[P_AHEAD]]) >= min_confidence)
    X, ee, mm = X[keep], ee[keep], mm[keep]
    value = theta.reindex(mentor_names[mm]).to_numpy() * _headroom(X)
    pairs = pd.DataFrame({c.MENTEE_NIP: ee.astype(str), c.MENTOR_NIP: mentor_names[mm]})
    # mentee ids are positions 0..n-1 as strings, so chosen rows map back to mentees
    cap = {str(k): int(v) for k, v in capacity.items()}

    out: dict[str, float] = {
        "n_holdout": float(len(observed)),
        "as_happened": float(
            (theta.reindex(observed[c.MENTOR_NIP].astype(str)).to_numpy() * h).sum()
        ),
    }
    values = _candidate_values(train, X, pairs, value, cap, len(e_idx), random_state, params)
    out.update({name: float(np.sum(v)) for name, v in values.items()})
    if per_mentee is not None:
        per_mentee.update(values)
    return out


def _candidate_values(
    train: pd.DataFrame,
    X: np.ndarray,
    pairs: pd.DataFrame,
    value: np.ndarray,
    cap: Mapping[str, int],
    n_mentees: int,
    random_state: int | None,
    params: Mapping[str, object],
) -> dict[str, np.ndarray]:
    """Per held-out mentee, the estimated benefit of the pair each candidate assigns (0: none);
    NaN everywhere for a learned candidate that cannot be fitted on this history."""
    from model.assignment import BENEFIT, assign

    Xtr = train[list(MENTOR_PAIR_FEATURES)]
    ytr = train[LEVEL_CHANGE]
    out: dict[str, np.ndarray] = {}
    for name in CANDIDATES:
        scorer = MentorPairScorer(name, random_state=random_state, **params).fit(Xtr, ytr)  # type: ignore[arg-type]
        if name not in RULES and scorer.model_name_ != name:
            out[name] = np.full(n_mentees, np.nan)
            continue
        per = np.zeros(n_mentees)
        if len(pairs):
            scored = pairs.assign(**{BENEFIT: scorer.predict(X), "_value": value})
            chosen = assign(scored, cap)
            per[chosen[c.MENTEE_NIP].astype(int).to_numpy()] = chosen["_value"].to_numpy()
        out[name] = per
    return out


def choose_candidate(
    benefit: Mapping[str, float], standard_error: Mapping[str, float] | None = None
) -> tuple[str, str]:
    """The candidate with the highest estimated benefit; but when `DEFAULT_ESTIMATOR` (the rule
    that measures the target itself) is within one standard error of the paired difference to
    the best, the default: one held-out year is small, and a difference inside its noise says
    nothing."""
    valid = {n: benefit[n] for n in CANDIDATES if np.isfinite(benefit.get(n, np.nan))}
    best = max(valid, key=lambda n: valid[n])
    se = standard_error or {}
    winner = best
    if DEFAULT_ESTIMATOR in valid and valid[best] - valid[DEFAULT_ESTIMATOR] <= se.get(
        DEFAULT_ESTIMATOR, 0.0
    ):
        winner = DEFAULT_ESTIMATOR
    text = ", ".join(f"{n} {valid[n]:.2f}" for n in valid)
    how = "best" if winner == best else f"within one standard error of the best ({best})"
    return winner, f"{how} estimated held-out assignment benefit ({text})"


def _paired_se(a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of the total difference sum(a - b) over held-out mentees."""
    diff = a - b
    if len(diff) < 2 or np.isnan(diff).any():
        return 0.0
    return float(np.std(diff, ddof=1) * np.sqrt(len(diff)))


def select_mentor_scorer(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    follow_up_days: int = 365,
    views: Mapping[pd.Timestamp, EmployeeView] | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    n_folds: int = 2,
    random_state: int | None = None,
    **params: object,
) -> MentorPairScorer:
    """The candidate whose assignments help most on later mentorships, refitted on all.

    Rolling origin: for each of the last `n_folds` snapshots, the candidates are fitted on the
    mentorships that followed earlier snapshots and judged on those that followed it; the
    estimated benefits are summed over the folds. A fold needs `MIN_HOLDOUT` observed gains;
    without any such fold there is nothing to judge by and `DEFAULT_ESTIMATOR` serves. The
    returned scorer carries `candidate_benefit_` (name -> estimated held-out benefit, NaN when
    not judged) and `selection_reason_`.
    """
    dates = sorted({to_as_of(d) for d in snapshot_dates})
    built = dict(views or {})
    examples = mentorship_examples(
        tables, dates, horizon_days=horizon_days, follow_up_days=follow_up_days, views=built
    )
    benefit: dict[str, float] = {n: np.nan for n in CANDIDATES}
    winner, reason = DEFAULT_ESTIMATOR, "no held-out mentorships to judge by"
    folds = []
    for split in dates[1:][-n_folds:]:
        test = examples.loc[examples[SNAPSHOT] == split]
        if int(test[LEVEL_CHANGE].notna().sum()) >= MIN_HOLDOUT:
            folds.append(split)
    if folds:
        totals: dict[str, float] = {}
        values: dict[str, list[np.ndarray]] = {n: [] for n in CANDIDATES}
        for split in folds:
            fold_values: dict[str, np.ndarray] = {}
            if split not in built:
                built[split] = employee_view(tables, build_features(tables, split))
            fold = holdout_assignment_benefit(
                examples.loc[examples[SNAPSHOT] < split],
                examples.loc[examples[SNAPSHOT] == split],
                built[split],
                min_confidence=min_confidence,
                random_state=random_state,
                per_mentee=fold_values,
                **params,  # type: ignore[arg-type]
            )
            for name, value in fold.items():
                totals[name] = totals.get(name, 0.0) + value
            for name in CANDIDATES:
                values[name].append(fold_values[name])
        benefit.update(totals)
        stacked = {n: np.concatenate(v) for n, v in values.items()}
        best = max((n for n in CANDIDATES if np.isfinite(benefit[n])), key=lambda n: benefit[n])
        se = {n: _paired_se(stacked[best], stacked[n]) for n in CANDIDATES}
        winner, reason = choose_candidate(benefit, se)
        reason += f" over {len(folds)} later year(s)"
    elif len(dates) >= 2:
        reason = f"fewer than {MIN_HOLDOUT} held-out mentorships with an observed gain"
    scorer = MentorPairScorer(winner, random_state=random_state, **params).fit(  # type: ignore[arg-type]
        examples[list(MENTOR_PAIR_FEATURES)], examples[LEVEL_CHANGE]
    )
    scorer.candidate_benefit_ = benefit
    scorer.selection_reason_ = reason
    return scorer


def fit_mentor_scorer(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    follow_up_days: int = 365,
    views: Mapping[pd.Timestamp, EmployeeView] | None = None,
    **params: object,
) -> MentorPairScorer:
    """`select_mentor_scorer`: the pipeline's entry point."""
    return select_mentor_scorer(
        tables,
        snapshot_dates,
        horizon_days=horizon_days,
        follow_up_days=follow_up_days,
        views=views,
        **params,  # type: ignore[arg-type]
    )
