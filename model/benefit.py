"""The gap a set of plans would close, estimated from what was observed (works on real data).

Used to judge any policy's plans (the planner, the content rule, ALS, popularity) the same way
and to gate promotion, so it is deliberately separate from, and simpler than, the recommender:
a policy must not be judged by its own model of the world.

Two parts, both fitted on observed outcomes only (`features.course_outcomes`):
- completion: a logistic model with one coefficient per person and per course (L2-shrunk, so
  people and courses with little history stay near the average): people differ in how often
  they finish, courses in how often they are finished (length, format);
- drift: how a level moves without a course on it (a line through the change of untrained
  pairs against the level they started at): noisy assessments regress to the mean, so a low
  measured level rises anyway; this is subtracted from every observed change after a course;
- gain if completed: the mean drift-corrected level change on a (course, competency), by where the
  participant stood against the course's band (below `min_level`, inside, at or above
  `target_level`), shrunk in levels: the band position's mean over all courses, plus the
  course's deviation (pooled over its competencies), plus the band's, plus the band's in that
  position, each with `prior_strength` pseudo-observations. Negative estimates count as no gain.

A plan is walked step by step like a person would: each course moves the level by P(complete)
x gain, so a later course meets the level earlier ones left; the gap closed is the drop of
sum(max(0, required - level)) over the position's competencies, starting from the posterior
level estimate where the view has one (`features.level_estimates`), else from the measured
level plus its drift. The last reading is stale and noisy; judged from it, every policy's gaps
look larger than they are (on the demo worlds the estimate ran at 1.6-2.3x the true closure,
mean by policy; from the posterior at 0.98-1.32x). Observational level changes include
whatever else happened meanwhile, which the shrinkage does not remove; that bias differs a
little between policies (more for the ones that pick courses people take anyway), so the
estimate is for ranking policies and gating, not a promise of levels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from features import columns as c
from features.competency import CURRENT_LEVEL as CURRENT
from features.competency import REQUIRED
from features.course_outcomes import CHANGE, COMPLETED, LEVEL_BEFORE, N_SHARING
from features.gap_closure import (
    GAP_BEFORE,
    GAP_CLOSED,
    closure_frame,
)
from features.level_estimates import LEVEL_MEAN

#: The most pseudo-observations "auto" shrinkage uses (when courses look alike).
MAX_PRIOR_STRENGTH = 50.0
#: Band positions (`band_position`): three below the band, inside it, at or above its target.
N_POSITIONS = 5


def fit_level_drift(untrained: pd.DataFrame | None) -> tuple[float, float]:
    """(intercept, slope) of the yearly change of an untrained measured level against it.

    Linear in the measured level: with noisy measurements the next one regresses toward the
    mean in proportion to the distance from it; two numbers, so it stays stable. `untrained`:
    level_before, change (`features.course_outcomes.untrained_level_changes`).
    """
    if untrained is None or len(untrained) < 2:
        return 0.0, 0.0
    x = untrained[LEVEL_BEFORE].to_numpy(dtype=float)
    y = untrained[CHANGE].to_numpy(dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return (float(y.mean()) if len(y) else 0.0), 0.0
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def judged_levels(competency: pd.DataFrame) -> pd.DataFrame:
    """The rows and columns of a view's competency frame that `ObservedBenefit.gap_closure`
    judges gaps on: the position's required competencies with a required level, the measured
    and, where the view carries it, the posterior level (one definition for every judge)."""
    keep = (
        competency[REQUIRED].to_numpy(dtype=bool) & competency[c.REQUIRED_LEVEL].notna().to_numpy()
    )
    columns = [c.NIP, c.COMPETENCY_ID, CURRENT, c.REQUIRED_LEVEL]
    columns += [LEVEL_MEAN] if LEVEL_MEAN in competency.columns else []
    return competency.loc[keep, columns]


def expected_unassessed(levels: pd.DataFrame) -> np.ndarray:
    """Current levels with a never-assessed one replaced by what assessed peers show.

    Peers: the same competency at the same required level (positions that ask the same), else
    the same competency. Counting an unassessed competency from the lowest level would credit
    a plan with closing gaps that are mostly not there.
    """
    cur = levels[CURRENT].to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(cur)
    if not missing.any() or missing.all():
        return cur
    assessed = levels.loc[~missing]
    keys = [c.COMPETENCY_ID, c.REQUIRED_LEVEL]
    by_req = assessed.groupby(keys)[CURRENT].mean()
    by_comp = assessed.groupby(c.COMPETENCY_ID)[CURRENT].mean()
    gaps = levels.loc[missing]
    fill = by_req.reindex(pd.MultiIndex.from_frame(gaps[keys])).to_numpy(dtype=float)
    fill = np.where(
        np.isnan(fill), by_comp.reindex(gaps[c.COMPETENCY_ID]).to_numpy(dtype=float), fill
    )
    out = cur.copy()
    out[missing] = fill  # still NaN (the floor) where no peer was ever assessed
    return out


def band_position(level: np.ndarray, min_level: np.ndarray, target_level: np.ndarray) -> np.ndarray:
    """Where a participant stands against a course's band, in half levels below it.

    0: a level or more below `min_level`; 1: half a level to a level below; 2: less than half
    a level below; 3: inside [min_level, target_level); 4: at or above the target. An unknown
    level counts as the lowest level.
    """
    level = np.where(np.isnan(level), float(c.MIN_LEVEL_VALUE), level)
    below = min_level - level
    return np.select(
        [level >= target_level, below <= 0, below <= 0.5, below <= 1.0], [4, 3, 2, 1], 0
    ).astype(np.int64)


class ObservedBenefit(BaseEstimator):
    """Estimated completion and gain of (person, course) pairs, and the gap plans would close.

    Parameters
    ----------
    prior_strength : pseudo-observations each shrinkage level adds; "auto" estimates them from
        the data (`_prior_strength`).
    correct_levels : judge gaps at the expected level, not the last measured one: the posterior
        level estimate where the levels frame carries one (`LEVEL_MEAN`, from
        `features.level_estimates`), else the measured level plus its drift.
    completion_c : inverse L2 strength of the completion model (scikit-learn's ``C``).

    >>> changes = pd.DataFrame({"nip": ["1", "2"], "course_id": ["A", "A"],
    ...     "competency_id": ["PP", "PP"], "min_level": [2.0, 2.0], "target_level": [3.0, 3.0],
    ...     "level_before": [2.0, 2.0], "change": [0.8, 0.6]})
    >>> enrollments = pd.DataFrame({"nip": ["1", "2", "3"], "course_id": ["A"] * 3,
    ...     "completed": [1, 1, 0]})
    >>> est = ObservedBenefit(prior_strength=0.0).fit(changes, enrollments)
    >>> round(float(est.gain(["A"], ["PP"], [2.0], [2.0], [3.0])[0]), 2)
    0.7
    """

    def __init__(
        self,
        prior_strength: float | str = "auto",
        completion_c: float = 1.0,
        correct_levels: bool = True,
    ) -> None:
        self.prior_strength = prior_strength
        self.completion_c = completion_c
        self.correct_levels = correct_levels

    def fit(
        self,
        level_changes: pd.DataFrame,
        enrollments: pd.DataFrame,
        untrained: pd.DataFrame | None = None,
        post_tests: pd.DataFrame | None = None,
    ) -> ObservedBenefit:
        """Frames in the layout of `features.course_outcomes` (`untrained`: level_before,
        change of pairs without a course, none means no drift correction; `post_tests`:
        course_id, mean_score, none means no post-test prior)."""
        auto = isinstance(self.prior_strength, str)
        bad = self.prior_strength != "auto" if auto else float(self.prior_strength) < 0
        if bad:
            raise ValueError("prior_strength must be 'auto' or a number >= 0")
        if self.completion_c <= 0:
            raise ValueError("completion_c must be > 0")
        self._fit_drift(untrained)
        self._fit_gain(level_changes, post_tests)
        self._fit_completion(enrollments)
        return self

    def _fit_drift(self, untrained: pd.DataFrame | None) -> None:
        self.drift_ = np.asarray(fit_level_drift(untrained), dtype=float)

    def _prior_strength(self, obs: pd.DataFrame) -> float:
        """`prior_strength`, or with "auto" the empirical-Bayes one: within-course variance of
        the level changes over the variance of the courses' true means (one-way random
        effects, moments), in [1, MAX_PRIOR_STRENGTH]; courses indistinguishable from noise
        shrink the most."""
        if not isinstance(self.prior_strength, str):
            self.prior_strength_ = float(self.prior_strength)
            return self.prior_strength_
        change = obs[CHANGE].to_numpy(dtype=float) - self.drift(
            obs[LEVEL_BEFORE].to_numpy(dtype=float)
        )
        if N_SHARING in obs:
            change = change / np.maximum(obs[N_SHARING].to_numpy(dtype=float), 1.0)
        code, _ = pd.factorize(obs[c.COURSE_ID].astype(str))
        n_total, n_groups = len(change), int(code.max()) + 1 if len(code) else 0
        k = MAX_PRIOR_STRENGTH
        if n_groups >= 2 and n_total > n_groups:
            n = np.bincount(code, minlength=n_groups).astype(float)
            mean = np.bincount(code, change, minlength=n_groups) / n
            within = float(((change - mean[code]) ** 2).sum()) / (n_total - n_groups)
            grand = float(change.mean())
            between_ss = float((n * (mean - grand) ** 2).sum())
            scale = n_total - float((n**2).sum()) / n_total
            between = (between_ss - (n_groups - 1) * within) / scale if scale > 0 else 0.0
            if between > 0:
                k = float(np.clip(within / between, 1.0, MAX_PRIOR_STRENGTH))
        self.prior_strength_ = k
        return k

    def drift(self, level: np.ndarray) -> np.ndarray:
        """Expected change of a measured level over a year without a course on it."""
        check_is_fitted(self, "drift_")
        level = np.where(np.isnan(level), float(c.MIN_LEVEL_VALUE), np.asarray(level, float))
        return self.drift_[0] + self.drift_[1] * level

    def _fit_gain(self, obs: pd.DataFrame, post_tests: pd.DataFrame | None = None) -> None:
        k = self._prior_strength(obs)
        change = obs[CHANGE].to_numpy(dtype=float) - self.drift(
            obs[LEVEL_BEFORE].to_numpy(dtype=float)
        )
        if N_SHARING in obs:  # courses between the same two assessments share the change
            change = change / np.maximum(obs[N_SHARING].to_numpy(dtype=float), 1.0)
        pos = band_position(
            obs[LEVEL_BEFORE].to_numpy(dtype=float),
            obs[c.MIN_LEVEL].to_numpy(dtype=float),
            obs[c.TARGET_LEVEL].to_numpy(dtype=float),
        )
        overall = float(change.mean()) if len(change) else 0.0
        n_pos = np.bincount(pos, minlength=N_POSITIONS)
        sum_pos = np.bincount(pos, change, minlength=N_POSITIONS)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.position_mean_ = (sum_pos + k * overall) / np.maximum(n_pos + k, 1e-12)
        self.position_mean_ = np.where(n_pos + k > 0, self.position_mean_, overall)
        resid = change - self.position_mean_[pos]
        # A course works (or not) on all its competencies: its own deviation is pooled over
        # them first, so a band with few observations borrows from its course's other bands.
        course = obs[c.COURSE_ID].astype(str)
        self.effect_courses_ = pd.Index(pd.unique(course))
        ccode = self.effect_courses_.get_indexer(course)
        n_c = np.bincount(ccode, minlength=len(self.effect_courses_))
        sum_c = np.bincount(ccode, resid, minlength=len(self.effect_courses_))
        self._fit_course_prior(post_tests, n_c, sum_c)
        prior = self.course_prior(self.effect_courses_)
        self.course_dev_ = (sum_c + k * prior) / np.maximum(n_c + k, 1e-12)
        resid = resid - self.course_dev_[ccode]
        bands = pd.MultiIndex.from_arrays(
            [obs[c.COURSE_ID].astype(str), obs[c.COMPETENCY_ID].astype(str)]
        )
        self.bands_ = pd.Index(bands.unique())
        code = self.bands_.get_indexer(bands)
        n_b = np.bincount(code, minlength=len(self.bands_))
        self.band_dev_ = np.bincount(code, resid, minlength=len(self.bands_)) / np.maximum(
            n_b + k, 1e-12
        )
        cell = code * N_POSITIONS + pos
        size = len(self.bands_) * N_POSITIONS
        n_cell = np.bincount(cell, minlength=size)
        rest = resid - self.band_dev_[code]
        self.cell_dev_ = np.bincount(cell, rest, minlength=size) / np.maximum(n_cell + k, 1e-12)
        self.n_level_changes_ = len(change)

    def _fit_completion(self, enr: pd.DataFrame) -> None:
        y = enr[COMPLETED].to_numpy(dtype=np.int64)
        self.people_ = pd.Index(pd.unique(enr[c.NIP].astype(str)))
        self.courses_ = pd.Index(pd.unique(enr[c.COURSE_ID].astype(str)))
        self.person_coef_ = np.zeros(len(self.people_))
        self.course_coef_ = np.zeros(len(self.courses_))
        rate = float(y.mean()) if len(y) else 0.5
        rate = min(max(rate, 1e-3), 1 - 1e-3)
        self.intercept_ = float(np.log(rate / (1 - rate)))
        if len(y) == 0 or y.min() == y.max():
            return
        X = self._design(enr[c.NIP].astype(str), enr[c.COURSE_ID].astype(str))
        model = LogisticRegression(C=self.completion_c, max_iter=500).fit(X, y)
        coef = model.coef_.ravel()
        self.person_coef_ = coef[: len(self.people_)]
        self.course_coef_ = coef[len(self.people_) :]
        self.intercept_ = float(model.intercept_[0])

    def _design(self, nips: pd.Series, courses: pd.Series) -> sp.csr_matrix:
        n = len(nips)
        p = self.people_.get_indexer(nips)
        q = self.courses_.get_indexer(courses)
        rows = np.concatenate([np.arange(n)[p >= 0], np.arange(n)[q >= 0]])
        cols = np.concatenate([p[p >= 0], len(self.people_) + q[q >= 0]])
        shape = (n, len(self.people_) + len(self.courses_))
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)

    def _fit_course_prior(
        self, post_tests: pd.DataFrame | None, n_c: np.ndarray, sum_c: np.ndarray
    ) -> None:
        """Where a course's deviation shrinks to: a line in its mean post-test score, fitted on
        the courses' observed deviations weighted by their counts (flat without post-tests)."""
        self.post_test_coef_ = np.zeros(2)
        self.post_test_score_ = pd.Series(dtype=float)
        if post_tests is None or post_tests.empty:
            return
        score = post_tests.set_index(post_tests[c.COURSE_ID].astype(str))["mean_score"]
        self.post_test_mean_ = float(score.mean())
        self.post_test_score_ = score.astype(float)
        x = score.reindex(self.effect_courses_).to_numpy(dtype=float) - self.post_test_mean_
        ok = ~np.isnan(x) & (n_c > 0)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0:
            return
        w = n_c[ok].astype(float)
        y = sum_c[ok] / n_c[ok]
        X = np.column_stack([np.ones(ok.sum()), x[ok]])
        root = np.sqrt(w)
        self.post_test_coef_ = np.linalg.lstsq(X * root[:, None], y * root, rcond=None)[0]

    def course_prior(self, course_ids) -> np.ndarray:
        """The course-level prior deviation from its post-test score (0 without one)."""
        if not len(self.post_test_score_):
            return np.zeros(len(course_ids))
        x = self.post_test_score_.reindex(pd.Index(course_ids).astype(str)).to_numpy(float)
        x = x - self.post_test_mean_
        return np.where(np.isnan(x), 0.0, self.post_test_coef_[0] + self.post_test_coef_[1] * x)

    def p_complete(self, nips, course_ids) -> np.ndarray:
        """Estimated P(complete) per pair; unknown people or courses count as average."""
        check_is_fitted(self, "person_coef_")
        p = self.people_.get_indexer(pd.Index(nips).astype(str))
        q = self.courses_.get_indexer(pd.Index(course_ids).astype(str))
        logit = (
            self.intercept_
            + np.where(p >= 0, self.person_coef_[np.maximum(p, 0)], 0.0)
            + np.where(q >= 0, self.course_coef_[np.maximum(q, 0)], 0.0)
        )
        return 1.0 / (1.0 + np.exp(-logit))

    def gain(self, course_ids, competency_ids, level, min_level, target_level) -> np.ndarray:
        """Estimated level gain if completed, per (course, competency) at a participant's level."""
        check_is_fitted(self, "band_dev_")
        pos = band_position(
            np.asarray(level, dtype=float),
            np.asarray(min_level, dtype=float),
            np.asarray(target_level, dtype=float),
        )
        keys = pd.MultiIndex.from_arrays(
            [pd.Index(course_ids).astype(str), pd.Index(competency_ids).astype(str)]
        )
        code = self.bands_.get_indexer(keys) if len(self.bands_) else np.full(len(pos), -1)
        known = code >= 0
        safe = np.maximum(code, 0)
        dev = np.where(known, self.band_dev_[safe] if len(self.bands_) else 0.0, 0.0)
        cell = np.where(
            known, self.cell_dev_[safe * N_POSITIONS + pos] if len(self.bands_) else 0.0, 0.0
        )
        q = self.effect_courses_.get_indexer(pd.Index(course_ids).astype(str))
        unseen = self.course_prior(course_ids)
        if len(self.effect_courses_):
            course = np.where(q >= 0, self.course_dev_[np.maximum(q, 0)], unseen)
        else:
            course = unseen
        return np.clip(self.position_mean_[pos] + course + dev + cell, 0.0, None)

    def gap_closure(
        self, paths: pd.DataFrame, levels: pd.DataFrame, bands: pd.DataFrame
    ) -> pd.DataFrame:
        """Estimated gap closed per employee of `levels` (employees without a path close 0).

        `paths`: nip, course_id, order. `levels`: one row per (nip, required competency) with
        current_level (NaN: never assessed, see `expected_unassessed`), required_level and,
        optionally, level_mean (the posterior level estimate the gap is judged at).
        `bands`: course_competencies (course_id, competency_id, min_level, target_level).
        Returns nip, gap_before, gap_after, gap_closed, expected_completions.
        """
        check_is_fitted(self, "band_dev_")
        nips = pd.Index(pd.unique(levels[c.NIP].astype(str)))
        comps = pd.Index(pd.unique(bands[c.COMPETENCY_ID].astype(str)).tolist()).union(
            pd.Index(pd.unique(levels[c.COMPETENCY_ID].astype(str)))
        )
        floor = float(c.MIN_LEVEL_VALUE)
        level = np.full((len(nips), len(comps)), floor)
        required = np.zeros((len(nips), len(comps)))
        r = nips.get_indexer(levels[c.NIP].astype(str))
        k = comps.get_indexer(levels[c.COMPETENCY_ID].astype(str))
        cur = expected_unassessed(levels)
        measured = np.full((len(nips), len(comps)), floor)
        measured[r, k] = np.where(np.isnan(cur), floor, cur)
        # The gap is judged at the expected level, not the measured one: a measured level is
        # noisy and stale, and a plan aimed at the largest measured gaps would otherwise be
        # credited for closing noise, or gaps courses since the reading have closed. The
        # posterior estimate (every reading, each method's bias and noise, growth since, the
        # requirement as prior) where given; else E[level | measured] from the untrained drift
        # (what the next measurement of an untrained pair shows on average). Competencies
        # nobody comparable was assessed in stay at the floor.
        if self.correct_levels:
            expected = np.clip(cur + self.drift(cur), floor, float(c.MAX_LEVEL_VALUE))
            if LEVEL_MEAN in levels.columns:
                posterior = levels[LEVEL_MEAN].to_numpy(dtype=float, na_value=np.nan)
                expected = np.where(np.isfinite(posterior), posterior, expected)
            level[r, k] = np.where(np.isnan(cur), floor, expected)
        else:
            level[r, k] = measured[r, k]
        required[r, k] = levels[c.REQUIRED_LEVEL].to_numpy(dtype=float)
        gap_before = np.clip(required - level, 0, None).sum(axis=1)
        completions = np.zeros(len(nips))
        steps = paths.loc[paths[c.NIP].astype(str).isin(nips), [c.NIP, c.COURSE_ID, "order"]]
        steps = steps.assign(
            **{c.NIP: steps[c.NIP].astype(str), c.COURSE_ID: steps[c.COURSE_ID].astype(str)}
        )
        if len(steps):
            p = self.p_complete(steps[c.NIP], steps[c.COURSE_ID])
            steps = steps.assign(_p=p)
            np.add.at(completions, nips.get_indexer(steps[c.NIP]), p)
            band = bands[[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL]].astype(
                {c.COURSE_ID: str, c.COMPETENCY_ID: str}
            )
            for order in np.sort(steps["order"].unique()):
                at = steps.loc[steps["order"] == order].merge(band, on=c.COURSE_ID, how="inner")
                if at.empty:
                    continue
                row = nips.get_indexer(at[c.NIP])
                col = comps.get_indexer(at[c.COMPETENCY_ID])
                now = measured[row, col]  # band positions were learnt on measured levels
                gain = self.gain(
                    at[c.COURSE_ID], at[c.COMPETENCY_ID], now, at[c.MIN_LEVEL], at[c.TARGET_LEVEL]
                )
                step = at["_p"].to_numpy() * np.minimum(gain, float(c.MAX_LEVEL_VALUE) - now)
                np.add.at(level, (row, col), step)
                np.add.at(measured, (row, col), step)
        gap_after = np.clip(required - level, 0, None).sum(axis=1)
        return closure_frame(nips, gap_before, gap_after, completions)


def closure_summary(per_employee: pd.DataFrame, hours: Mapping[str, float]) -> dict[str, float]:
    """Mean gap closed per employee and per JP from `gap_closure`'s frame and JP per NIP."""
    closed = per_employee[GAP_CLOSED].to_numpy(dtype=float)
    total_jp = float(sum(hours.values()))
    gap = float(per_employee[GAP_BEFORE].sum())
    return {
        "gap_closed_per_employee": float(closed.mean()) if len(closed) else float("nan"),
        "closure_per_jp": float(closed.sum()) / total_jp if total_jp else float("nan"),
        "share_of_gap_closed": float(closed.sum()) / gap if gap else float("nan"),
    }
