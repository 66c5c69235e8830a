"""Baseline recommenders, computed in the same run as the learned ranker so it has to beat them.

- `PopularityRecommender`: the courses completed most often in the training window.
- `ContentRuleRecommender`: the expert rule: courses whose competency band covers the
  employee's gaps, largest weighted gap first, ignoring what worked historically.
- `ALSRecommender`: collaborative filtering ("peers like you completed ..."): implicit ALS
  (`implicit` library) on the employee x course completion matrix.

One interface, in the style of `implicit`: `fit(tables, as_of)` learns from the typed tables
cut at `as_of`; `recommend(view, n)` returns ``(nips, course_ids[n_users, n], scores)``;
`score(view, n)` returns the long frame `model.path_inputs.candidates_from_frame` reads (one
row per nip, course, competency band; p_complete = 1 and expected_gain = NaN, i.e. the band
default, because a baseline has no estimate of its own). A completed, ongoing or inactive course
is never recommended. Scoring works on blocks of employees with dense numpy arrays and a
vectorised top-k, so 100k employees x 1,000 courses need no per-employee Python.

Ties are broken by catalog order (the courses table's row order), so results are deterministic
and one employee scored alone gets exactly what they get in a batch.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from features import columns as c
from features.as_of import AsOfLike, AsOfTables, day_number, days_since_epoch, tables_as_of
from features.competency import CURRENT_LEVEL, GAP, WEIGHTED_GAP
from features.plan_input import EmployeeView
from model.path_inputs import EXPECTED_GAIN, P_COMPLETE, RANK_SCORE, band_gain

# Set before `implicit` loads (lazily, in ALSRecommender.fit): its ALS runs its own threads and
# warns when OpenBLAS multithreads underneath it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

RANK = "rank"
SCORE_COLUMNS = (c.NIP, c.COURSE_ID, c.COMPETENCY_ID, P_COMPLETE, EXPECTED_GAIN, RANK_SCORE, RANK)
#: Employees scored together in one dense block (block x courses float64 arrays).
DEFAULT_BLOCK = 4096


class PeerUnavailable(ImportError):
    """The `implicit` library is missing: the pipeline reports the peer baseline unavailable."""


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's k largest scores, best first.

    Ties are broken by the lower column index, so the result depends on the row alone.
    `-inf` marks an excluded column: it comes last and only when a row has fewer than k
    finite scores. O(rows x columns) with `argpartition`, no full sort.
    """
    rows, cols = scores.shape
    k = min(k, cols)
    if k <= 0 or rows == 0:
        return np.zeros((rows, 0), dtype=np.int64), np.zeros((rows, 0))
    part = np.argpartition(scores, cols - k, axis=1)[:, cols - k :]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1)[:, None]
    above = scores > kth
    tie = scores == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tie & (np.cumsum(tie, axis=1) <= need))
    idx = np.nonzero(chosen)[1].reshape(rows, k)  # ascending column index per row
    val = np.take_along_axis(scores, idx, axis=1)
    order = np.lexsort((idx, -val), axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(val, order, axis=1)


class _Prepared:
    """What a recommender needs about the employees of a view, as arrays built once."""

    def __init__(self, nips: np.ndarray, completed: sp.csr_matrix, ongoing: sp.csr_matrix) -> None:
        self.nips = nips
        self.completed = completed
        self.excluded = (completed + ongoing).astype(bool).tocsr()
        self.extra: dict[str, object] = {}


class BaselineRecommender(BaseEstimator, ABC):
    """Shared catalog handling, filtering and top-k; subclasses define the scores.

    Learned state common to all: `course_ids_` (every course, catalog order), `active_`,
    the competency bands as CSR arrays (`band_ptr_`, `band_competency_`, `band_min_`,
    `band_target_`), `competency_ids_` and `as_of_`.
    """

    def fit(self, tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> BaselineRecommender:
        """Learn from the tables as known at `as_of` (training data only)."""
        self._validate_params()
        t = tables_as_of(tables, as_of)
        courses = t[c.COURSES]
        self.course_ids_ = courses[c.COURSE_ID].to_numpy(dtype=object)
        if len(pd.unique(self.course_ids_)) != len(self.course_ids_):
            raise ValueError("course ids are not unique")
        self.active_ = courses[c.ACTIVE].to_numpy(dtype=bool)
        bands = t[c.COURSE_COMPETENCIES]
        course = pd.Index(self.course_ids_).get_indexer(bands[c.COURSE_ID])
        known = course >= 0
        comp_codes, comp_ids = pd.factorize(bands[c.COMPETENCY_ID].to_numpy(dtype=object)[known])
        order = np.lexsort((comp_codes, course[known]))
        self.competency_ids_ = np.asarray(comp_ids, dtype=object)
        self.band_competency_ = comp_codes[order].astype(np.int64)
        self.band_min_ = bands[c.MIN_LEVEL].to_numpy(dtype=np.float64)[known][order]
        self.band_target_ = bands[c.TARGET_LEVEL].to_numpy(dtype=np.float64)[known][order]
        band_course = course[known][order]
        self.band_ptr_ = np.zeros(len(self.course_ids_) + 1, dtype=np.int64)
        np.cumsum(np.bincount(band_course, minlength=len(self.course_ids_)), out=self.band_ptr_[1:])
        self.as_of_ = t.as_of
        self._fit_history(t)
        return self

    # --- subclass hooks -------------------------------------------------------------------

    @abstractmethod
    def _fit_history(self, t: AsOfTables) -> None:
        """Learn the recommender's own state from the cut tables (catalog already set)."""

    def _prepare(self, view: EmployeeView, prepared: _Prepared) -> None:
        """Per-view arrays the block scorer needs (stored in `prepared.extra`)."""

    @abstractmethod
    def _block_scores(self, prepared: _Prepared, lo: int, hi: int) -> np.ndarray:
        """Scores of employees lo..hi-1 for every course (rows x courses; NaN = excluded)."""

    # --- shared ---------------------------------------------------------------------------

    def _prepare_view(self, view: EmployeeView) -> _Prepared:
        check_is_fitted(self)
        nips = view.employees[c.NIP].to_numpy(dtype=object)
        users = pd.Index(nips)
        if not users.is_unique:
            raise ValueError("the view lists an employee twice")
        courses = pd.Index(self.course_ids_)
        prepared = _Prepared(
            nips,
            _pair_matrix(view.completed, users, courses),
            _pair_matrix(view.ongoing, users, courses),
        )
        self._prepare(view, prepared)
        return prepared

    def _iter_blocks(
        self, view: EmployeeView, n: int, block: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        prepared = self._prepare_view(view)
        inactive = ~self.active_
        for lo in range(0, len(prepared.nips), block):
            hi = min(lo + block, len(prepared.nips))
            scores = np.asarray(self._block_scores(prepared, lo, hi), dtype=np.float64)
            scores = np.where(np.isnan(scores), -np.inf, scores)
            scores[:, inactive] = -np.inf
            scores[prepared.excluded[lo:hi].toarray()] = -np.inf
            idx, val = top_k(scores, int(n))
            yield prepared.nips[lo:hi], idx, val

    def recommend(
        self, view: EmployeeView, n: int = 10, *, block: int = DEFAULT_BLOCK
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-n courses per employee of `view` (its employees' order).

        Returns (nips [n_users], course ids [n_users, n] (object), scores [n_users, n]). When
        fewer than n courses are eligible the row is padded with None ids and NaN scores.
        """
        nips, ids, scores = [], [], []
        for block_nips, idx, val in self._iter_blocks(view, n, block):
            valid = np.isfinite(val)
            width = idx.shape[1]  # < n when the catalog is smaller than n
            block_ids = np.full((len(block_nips), n), None, dtype=object)
            block_ids[:, :width] = np.where(valid, self.course_ids_[idx], None)
            block_scores = np.full((len(block_nips), n), np.nan)
            block_scores[:, :width] = np.where(valid, val, np.nan)
            nips.append(block_nips)
            ids.append(block_ids)
            scores.append(block_scores)
        if not nips:
            return np.zeros(0, dtype=object), np.empty((0, n), dtype=object), np.empty((0, n))
        return np.concatenate(nips), np.concatenate(ids), np.concatenate(scores)

    def score(self, view: EmployeeView, n: int = 30, *, block: int = DEFAULT_BLOCK) -> pd.DataFrame:
        """The top-n candidates per employee as the long frame the path builder reads.

        One row per (nip, course, competency band of the course), `SCORE_COLUMNS`;
        `rank_score` is the recommender's score and `rank` the 1-based position. A course
        without bands gets one row with competency_id NaN.
        """
        check_is_fitted(self)
        parts = []
        course_text = pd.array(self.course_ids_, dtype="str")
        competency_text = pd.array(self.competency_ids_, dtype="str")
        for block_nips, idx, val in self._iter_blocks(view, n, block):
            valid = np.isfinite(val)
            user = np.broadcast_to(np.arange(len(block_nips))[:, None], idx.shape)[valid]
            rank = np.broadcast_to(np.arange(1, idx.shape[1] + 1)[None, :], idx.shape)[valid]
            course, value = idx[valid], val[valid]
            counts = self.band_ptr_[course + 1] - self.band_ptr_[course]
            reps = np.maximum(counts, 1)
            row = np.repeat(np.arange(len(course)), reps)
            offset = np.arange(len(row)) - np.repeat(np.cumsum(reps) - reps, reps)
            has_band = np.repeat(counts > 0, reps)
            band = self.band_ptr_[course][row] + offset
            comp = np.full(len(row), -1, dtype=np.int64)
            comp[has_band] = self.band_competency_[band[has_band]]
            parts.append(
                pd.DataFrame(
                    {
                        c.NIP: pd.array(block_nips, dtype="str").take(user[row]),
                        c.COURSE_ID: course_text.take(course[row]),
                        c.COMPETENCY_ID: competency_text.take(comp, allow_fill=True),
                        P_COMPLETE: np.ones(len(row)),
                        EXPECTED_GAIN: np.full(len(row), np.nan),
                        RANK_SCORE: value[row],
                        RANK: rank[row].astype(np.int64),
                    },
                    columns=list(SCORE_COLUMNS),
                )
            )
        if not parts:
            return _empty_scores()
        return pd.concat(parts, ignore_index=True)


def _empty_scores() -> pd.DataFrame:
    frame = pd.DataFrame({col: [] for col in SCORE_COLUMNS}, columns=list(SCORE_COLUMNS))
    for col in (c.NIP, c.COURSE_ID, c.COMPETENCY_ID):
        frame[col] = frame[col].astype("str")
    for col in (P_COMPLETE, EXPECTED_GAIN, RANK_SCORE):
        frame[col] = frame[col].astype(np.float64)
    frame[RANK] = frame[RANK].astype(np.int64)
    return frame


def _pair_matrix(pairs: pd.DataFrame, users: pd.Index, courses: pd.Index) -> sp.csr_matrix:
    """Boolean users x courses matrix of (nip, course_id) pairs; unknown ids are ignored."""
    u = users.get_indexer(pairs[c.NIP].to_numpy(dtype=object))
    i = courses.get_indexer(pairs[c.COURSE_ID].to_numpy(dtype=object))
    ok = (u >= 0) & (i >= 0)
    m = sp.csr_matrix(
        (np.ones(int(ok.sum()), dtype=bool), (u[ok], i[ok])), shape=(len(users), len(courses))
    )
    m.sum_duplicates()
    return m


def _completions(t: AsOfTables, window_days: int | None) -> pd.DataFrame:
    """Completed enrollments known at `t.as_of`, ended within the last `window_days`."""
    enr = t[c.ENROLLMENTS]
    done = (enr[c.STATUS] == "completed").to_numpy(dtype=bool)
    if window_days is not None:
        end = days_since_epoch(enr[c.END_DATE])
        today = day_number(t.as_of)
        done = done & (end > today - window_days) & (end <= today)
    return enr.loc[done, [c.NIP, c.COURSE_ID]]


# --- popularity -----------------------------------------------------------------------------


class PopularityRecommender(BaselineRecommender):
    """The most completed courses in the last `window_days` before `as_of`, for everyone.

    Score = number of completions in the window (`counts_`, catalog order).
    """

    _parameter_constraints: dict = {
        "window_days": [Interval(Integral, 1, None, closed="left"), None]
    }

    def __init__(self, window_days: int | None = 365) -> None:
        self.window_days = window_days

    def _fit_history(self, t: AsOfTables) -> None:
        done = _completions(t, self.window_days)
        i = pd.Index(self.course_ids_).get_indexer(done[c.COURSE_ID].to_numpy(dtype=object))
        self.counts_ = np.bincount(i[i >= 0], minlength=len(self.course_ids_)).astype(np.float64)

    def _block_scores(self, prepared: _Prepared, lo: int, hi: int) -> np.ndarray:
        return np.broadcast_to(self.counts_, (hi - lo, len(self.counts_))).copy()


# --- content rule ---------------------------------------------------------------------------


class ContentRuleRecommender(BaselineRecommender):
    """Courses whose competency bands cover the employee's gaps; no use of history.

    Score of a course = sum over its bands on competency k of
    ``(weighted_gap_k / gap_k) * min(band_gain, gap_k) * fit``: the gap the band default would
    close (`model.path_inputs.band_gain`), weighted like the gap itself, so the largest
    weighted gap comes first. `fit` is 1 when the employee is inside the band (current level
    at least `min_level - band_slack` and below the target) and `underprepared_factor` when
    below it. A never-assessed competency counts from level 1, as the gaps do.
    """

    _parameter_constraints: dict = {
        "band_slack": [Interval(Real, 0, None, closed="left")],
        "underprepared_factor": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, band_slack: float = 0.5, underprepared_factor: float = 0.5) -> None:
        self.band_slack = band_slack
        self.underprepared_factor = underprepared_factor

    def _fit_history(self, t: AsOfTables) -> None:
        # Bands grouped by competency, so each open gap meets only the bands that can close it.
        order = np.argsort(self.band_competency_, kind="stable")
        self.band_by_competency_ = order
        self.competency_ptr_ = np.zeros(len(self.competency_ids_) + 1, dtype=np.int64)
        np.cumsum(
            np.bincount(self.band_competency_, minlength=len(self.competency_ids_)),
            out=self.competency_ptr_[1:],
        )
        self.band_course_ = np.repeat(np.arange(len(self.course_ids_)), np.diff(self.band_ptr_))

    def _prepare(self, view: EmployeeView, prepared: _Prepared) -> None:
        """The open gaps of the view, one entry per (employee, competency), sorted by employee."""
        comp = view.competency
        u = pd.Index(prepared.nips).get_indexer(comp[c.NIP].to_numpy(dtype=object))
        k = pd.Index(self.competency_ids_).get_indexer(comp[c.COMPETENCY_ID].to_numpy(dtype=object))
        gap = comp[GAP].to_numpy(dtype=np.float64, na_value=0.0)
        keep = (u >= 0) & (k >= 0) & (gap > 0)
        keep &= ~pd.Series(u * len(self.competency_ids_) + k).duplicated().to_numpy()
        order = np.argsort(u[keep], kind="stable")
        cur = comp[CURRENT_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)[keep][order]
        g = gap[keep][order]
        wg = comp[WEIGHTED_GAP].to_numpy(dtype=np.float64, na_value=0.0)[keep][order]
        user = u[keep][order]
        ptr = np.zeros(len(prepared.nips) + 1, dtype=np.int64)
        np.cumsum(np.bincount(user, minlength=len(prepared.nips)), out=ptr[1:])
        prepared.extra.update(
            user=user,
            competency=k[keep][order],
            level=np.where(np.isnan(cur), float(c.MIN_LEVEL_VALUE), cur),
            gap=g,
            weight=wg / g,
            ptr=ptr,
        )

    def _block_scores(self, prepared: _Prepared, lo: int, hi: int) -> np.ndarray:
        x = prepared.extra
        a, b = int(x["ptr"][lo]), int(x["ptr"][hi])  # type: ignore[index]
        comp = x["competency"][a:b]  # type: ignore[index]
        start = self.competency_ptr_[comp]
        counts = self.competency_ptr_[comp + 1] - start
        entry = np.repeat(np.arange(b - a), counts)
        offset = np.arange(len(entry)) - np.repeat(np.cumsum(counts) - counts, counts)
        band = self.band_by_competency_[start[entry] + offset]
        cur = x["level"][a:b][entry]  # type: ignore[index]
        band_min = self.band_min_[band]
        closure = np.minimum(
            band_gain(cur, band_min, self.band_target_[band]),
            x["gap"][a:b][entry],  # type: ignore[index]
        )
        fit = np.where(cur >= band_min - self.band_slack, 1.0, self.underprepared_factor)
        contrib = x["weight"][a:b][entry] * closure * fit  # type: ignore[index]
        n_courses = len(self.course_ids_)
        cell = (x["user"][a:b][entry] - lo) * n_courses + self.band_course_[band]  # type: ignore[index]
        return np.bincount(cell, weights=contrib, minlength=(hi - lo) * n_courses).reshape(
            hi - lo, n_courses
        )


# --- ALS --------------------------------------------------------------------------------------


class ALSRecommender(BaselineRecommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) on who completed which course.

    Item factors come from `implicit`'s ALS (exact least squares, `use_cg=False`). At scoring
    time every employee's factors are solved afresh from the view's completed courses with the
    same least-squares step (`fold_in`), in numpy: new employees are served, the result for one
    employee does not depend on the batch, and scoring needs neither `implicit` nor the
    training users. An employee with no completion gets zero scores (catalog order).

    Parameters follow `implicit.cpu.als.AlternatingLeastSquares`; `alpha` is the confidence
    of a completion (the library's convention: c = alpha, unobserved pairs weigh 1).
    """

    _parameter_constraints: dict = {
        "factors": [Interval(Integral, 1, None, closed="left")],
        "regularization": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "window_days": [Interval(Integral, 1, None, closed="left"), None],
        "num_threads": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        factors: int = 8,
        regularization: float = 10.0,
        alpha: float = 5.0,
        iterations: int = 15,
        window_days: int | None = None,
        num_threads: int = 1,
        random_state: int | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.window_days = window_days
        self.num_threads = num_threads
        self.random_state = random_state

    def _fit_history(self, t: AsOfTables) -> None:
        try:
            from implicit.cpu.als import AlternatingLeastSquares
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise PeerUnavailable(
                "the ALS peer baseline needs the `implicit` package (pip install implicit)"
            ) from err
        from threadpoolctl import threadpool_limits

        done = _completions(t, self.window_days)
        users = pd.Index(pd.unique(done[c.NIP].to_numpy(dtype=object)))
        user_items = _pair_matrix(done, users, pd.Index(self.course_ids_)).astype(np.float32)
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                use_cg=False,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            model.fit(user_items, show_progress=False)
        y = np.asarray(model.item_factors, dtype=np.float64)
        self.item_factors_ = y
        self.n_train_users_ = len(users)
        f = y.shape[1]
        self._yty_ = y.T @ y + self.regularization * np.eye(f)
        self._outer_ = np.einsum("if,ig->ifg", y, y).reshape(len(y), f * f)

    def fold_in(self, items: sp.csr_matrix) -> np.ndarray:
        """User factors from a users x courses 0/1 matrix of completions, by least squares:
        ``(Y'Y + reg I + (alpha - 1) sum y_i y_i') x = alpha sum y_i`` (as `implicit`)."""
        check_is_fitted(self)
        items = sp.csr_matrix(items, dtype=np.float64)
        f = self.item_factors_.shape[1]
        a = (items @ self._outer_).reshape(-1, f, f) * (self.alpha - 1.0) + self._yty_
        b = self.alpha * (items @ self.item_factors_)
        return np.linalg.solve(a, b[:, :, None])[:, :, 0]

    def _block_scores(self, prepared: _Prepared, lo: int, hi: int) -> np.ndarray:
        x = self.fold_in(prepared.completed[lo:hi])
        return x @ self.item_factors_.T
