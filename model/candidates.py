"""Candidate courses per employee: the short list the ranker scores.

Two sources, merged into at most `n_candidates` per employee:

- content: active courses with a band that can close a gap: on some competency with
  gap > 0 and `target_level > level` (never-assessed levels count from `MIN_LEVEL_VALUE`).
  Ordered by the gap the bands could close (`min(gap, target - max(level, min_level))`) times
  their fit (1 when `min_level <= level + level_tolerance`, `underprepared_factor` below: the
  content rule's own candidates, `model.baselines.ContentRuleRecommender`), summed over the
  course's bands, times the course weight: among equally fitting courses, those whose
  participants learn more (post-test value added, `course_score_effects`) come first.
- collaborative: item-item cosine similarity of the employee x course completion matrix,
  learnt at fit time (shrunk toward 0 for courses rarely taken together). An employee's score
  for a course is the similarity mass from the courses they completed, times the course's
  effect weight ("what people who took what you took went on to complete, and it worked").
  Only courses touching one of the employee's gaps qualify, whatever their band.

Both lists are interleaved in proportion `1 - collaborative_share : collaborative_share`;
when one runs out, the other fills the remaining slots. Then, if slots remain (`growth`),
growth candidates: courses whose band fits a competency the position requires and the employee
already meets, ordered by how far they lift it (times the effect weight). Every ASN owes
20 JP a year (PP 11/2017 Pasal 203(4)) whether or not a gap is open, so an employee without
gaps still gets a list. Courses the employee completed or is taking, and inactive courses, are never
candidates.

Item-item (rather than user factors) keeps prediction a function of the employee's own
completed courses only: a new employee, or one scored alone, gets exactly what they would get
in a batch.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from features import columns as c
from features.pair_features import (
    UNDERPREPARED_FACTOR,
    CourseKnowledge,
    EmployeeArrays,
    band_fit,
)
from features.plan_input import EmployeeView

CONTENT_SCORE = "content_score"
GROWTH_SCORE = "growth_score"
COLLABORATIVE_SCORE = "collaborative_score"
CANDIDATE_RANK = "candidate_rank"
#: Course weight floor: a course whose post-test value added is far below the others' is
#: still proposed when nothing else fits.
MIN_COURSE_WEIGHT = 0.1
#: Added to growth candidates' rank keys: larger than any gap-closing candidate's key.
_GROWTH_TIER = 1e9


def course_pairs_matrix(pairs: pd.DataFrame, nips: pd.Index, course_ids: pd.Index) -> sp.csr_matrix:
    """Boolean employees x courses matrix (1.0 entries) of (nip, course_id) pairs.

    Pairs naming an employee or course outside `nips` / `course_ids` are ignored; duplicates
    count once.
    """
    ri = nips.get_indexer(pairs[c.NIP])
    ci = course_ids.get_indexer(pairs[c.COURSE_ID])
    ok = (ri >= 0) & (ci >= 0)
    n_courses = len(course_ids)
    key = np.unique(ri[ok].astype(np.int64) * n_courses + ci[ok])
    rows = key // max(n_courses, 1)
    indptr = np.zeros(len(nips) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(nips)), out=indptr[1:])
    return sp.csr_matrix(
        (np.ones(len(key), dtype=np.float32), key % max(n_courses, 1), indptr),
        shape=(len(nips), n_courses),
    )


def history_matrices(
    view: EmployeeView, nips: pd.Index, course_ids: pd.Index
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(taken, completed) matrices of a view: completed-or-ongoing courses, completed ones."""
    completed = course_pairs_matrix(view.completed, nips, course_ids)
    if view.ongoing.empty:
        return completed, completed
    ongoing = course_pairs_matrix(view.ongoing, nips, course_ids)
    taken = (completed + ongoing).sign().tocsr()
    return taken, completed


def course_weight(courses: CourseKnowledge, score_effect_weight: float) -> np.ndarray:
    """Per course: 1 + w x its post-test value added (0 when unknown), floored.

    The same course factor as the ranker's gain prior (`model.ranker.CourseRanker`): the
    course-level evidence available for every course with scored completions, where observed
    level changes are rare and mostly noise.
    """
    z = np.nan_to_num(courses.score_effect, nan=0.0)
    return np.maximum(1.0 + score_effect_weight * z, MIN_COURSE_WEIGHT)


def item_similarity(completions: sp.csr_matrix, shrinkage: float) -> np.ndarray:
    """Cosine similarity of course columns, times n_common / (n_common + shrinkage); diag 0."""
    x = completions.astype(np.float64)
    co = (x.T @ x).toarray()
    counts = np.diag(co).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.sqrt(np.outer(counts, counts))
        sim = np.where(norm > 0, co / norm, 0.0) * (co / (co + shrinkage))
    np.fill_diagonal(sim, 0.0)
    return np.nan_to_num(sim, nan=0.0)


class CandidateScores(NamedTuple):
    """Dense employees x courses scores of each source; 0 = not a candidate of that source."""

    content: np.ndarray
    growth: np.ndarray
    collaborative: np.ndarray


class CandidateGenerator(BaseEstimator):
    """Content + item-item collaborative candidate generation (see the module docstring).

    Parameters
    ----------
    n_candidates : int
        Candidates per employee at most.
    use_collaborative : bool
        Add collaborative candidates; without, content candidates only.
    collaborative_share : float
        Share of the slots offered to collaborative candidates when both sources have enough.
    level_tolerance : float
        How far below a band's min_level an employee may be and still fit it.
    underprepared_factor : float
        Weight of a gap-closing band the employee is below (0: such courses are not content
        candidates).
    score_effect_weight : float
        Weight of the post-test value added in the course weight (`course_weight`).
    growth : bool
        Fill remaining slots with growth candidates (required competencies already met).
    shrinkage : float
        Pseudo-count shrinking the similarity of rarely co-completed courses.

    Examples
    --------
    >>> gen = CandidateGenerator(n_candidates=20).fit(completed_pairs, knowledge)  # doctest: +SKIP
    >>> gen.generate(employees, knowledge, taken)  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "use_collaborative": ["boolean"],
        "collaborative_share": [Interval(Real, 0, 1, closed="neither")],
        "level_tolerance": [Interval(Real, 0, None, closed="left")],
        "underprepared_factor": [Interval(Real, 0, 1, closed="both")],
        "score_effect_weight": [Interval(Real, 0, None, closed="left")],
        "growth": ["boolean"],
        "shrinkage": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_candidates: int = 50,
        use_collaborative: bool = True,
        collaborative_share: float = 0.3,
        level_tolerance: float = 0.5,
        underprepared_factor: float = UNDERPREPARED_FACTOR,
        score_effect_weight: float = 0.75,
        growth: bool = True,
        shrinkage: float = 10.0,
    ) -> None:
        self.n_candidates = n_candidates
        self.use_collaborative = use_collaborative
        self.collaborative_share = collaborative_share
        self.level_tolerance = level_tolerance
        self.underprepared_factor = underprepared_factor
        self.score_effect_weight = score_effect_weight
        self.growth = growth
        self.shrinkage = shrinkage

    def fit(self, completed: pd.DataFrame, courses: CourseKnowledge) -> CandidateGenerator:
        """Learn course-course similarity from completed (nip, course_id) pairs."""
        self._validate_params()
        missing = {c.NIP, c.COURSE_ID} - set(completed.columns)
        if missing:
            raise ValueError(f"completed lacks columns {sorted(missing)}")
        nips = pd.Index(pd.unique(completed[c.NIP].astype(str).to_numpy(dtype=object)))
        matrix = course_pairs_matrix(completed, nips, courses.course_ids)
        self.course_ids_ = courses.course_ids
        self.similarity_ = item_similarity(matrix, float(self.shrinkage)).astype(np.float32)
        self.n_completions_ = int(matrix.nnz)
        return self

    def _similarity_for(self, course_ids: pd.Index) -> np.ndarray:
        """The fitted similarity re-indexed to another course list (unknown courses: 0)."""
        if course_ids.equals(self.course_ids_):
            return self.similarity_
        idx = self.course_ids_.get_indexer(course_ids)
        sim = np.zeros((len(course_ids), len(course_ids)), dtype=np.float32)
        ok = np.flatnonzero(idx >= 0)
        sim[np.ix_(ok, ok)] = self.similarity_[np.ix_(idx[ok], idx[ok])]
        return sim

    def scores(
        self,
        employees: EmployeeArrays,
        courses: CourseKnowledge,
        taken: sp.csr_matrix,
        completed: sp.csr_matrix,
        rows: np.ndarray | slice = slice(None),
    ) -> CandidateScores:
        """Scores of `rows` x all courses by source (see the module docstring)."""
        check_is_fitted(self)
        level = employees.level[rows]
        comp = courses.entry_comp
        lo, hi = courses.entry_min, courses.entry_target
        lvl = level[:, comp]
        gp = employees.gap[rows][:, comp]
        open_gap = gp > 0
        fit = band_fit(lvl, lo, hi, self.underprepared_factor, self.level_tolerance)
        fits = (lo <= lvl + self.level_tolerance) & (hi > lvl)
        lift = np.maximum(hi - np.fmax(lvl, lo), 0.0)
        to_course = courses.entry_to_course
        allowed = courses.active[None, :] & (taken[rows].toarray() == 0)
        weight = course_weight(courses, self.score_effect_weight) * allowed

        def per_course(values: np.ndarray) -> np.ndarray:
            return np.asarray(values @ to_course) * weight

        content = per_course(np.where(open_gap, np.minimum(gp, lift) * fit, 0.0))
        growth = np.zeros_like(content)
        if self.growth:
            met = ~np.isnan(employees.required[rows][:, comp]) & ~open_gap
            growth = per_course(np.where(fits & met, lift, 0.0))
        collab = np.zeros_like(content)
        if self.use_collaborative:
            touches = np.asarray(open_gap.astype(np.float64) @ to_course) > 0
            sim = self._similarity_for(courses.course_ids)
            collab = np.asarray(completed[rows] @ sim, dtype=np.float64) * weight * touches
        return CandidateScores(content, growth, collab)

    def generate(
        self,
        employees: EmployeeArrays,
        courses: CourseKnowledge,
        taken: sp.csr_matrix,
        completed: sp.csr_matrix | None = None,
        rows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs as (employee row, course row) arrays, best first per employee.

        `taken` / `completed` are employees x courses matrices (`course_pairs_matrix`) of
        completed-or-ongoing and completed courses; `rows` restricts to some employees.
        """
        check_is_fitted(self)
        rows = np.arange(employees.n_employees) if rows is None else np.asarray(rows)
        if completed is None:
            completed = taken
        scores = self.scores(employees, courses, taken, completed, rows)
        key = _rank_key(scores.content)
        if self.use_collaborative:
            share = float(self.collaborative_share)
            key = np.minimum(key / (1.0 - share), _rank_key(scores.collaborative) / share)
        if self.growth:
            # After every gap-closing candidate of either source.
            key = np.where(np.isfinite(key), key, _GROWTH_TIER + _rank_key(scores.growth))
        n = min(int(self.n_candidates), courses.n_courses)
        if n == 0 or len(rows) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # n smallest keys per row, in key order (ties: lower course index first).
        if n < key.shape[1]:
            top = np.argpartition(key, n - 1, axis=1)[:, :n]
        else:
            top = np.broadcast_to(np.arange(key.shape[1]), key.shape)
        top_key = np.take_along_axis(key, top, axis=1)
        order = np.lexsort((top, top_key), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_key = np.take_along_axis(top_key, order, axis=1)
        keep = np.isfinite(top_key)
        emp = np.broadcast_to(rows[:, None], top.shape)[keep]
        return emp.astype(np.int64), top[keep].astype(np.int64)

    def candidates_frame(self, view: EmployeeView, courses: CourseKnowledge) -> pd.DataFrame:
        """Candidates of every employee in `view` as a frame (nip, course_id, scores, rank)."""
        employees = EmployeeArrays.from_view(view, courses.competency_ids)
        taken, completed = history_matrices(view, employees.nips, courses.course_ids)
        scores = self.scores(employees, courses, taken, completed)
        emp, course = self.generate(employees, courses, taken, completed)
        rank = np.zeros(len(emp), dtype=np.int64)
        if len(emp):
            new = np.r_[True, emp[1:] != emp[:-1]]
            starts = np.flatnonzero(new)
            rank = np.arange(len(emp)) - np.repeat(starts, np.diff(np.r_[starts, len(emp)]))
        return pd.DataFrame(
            {
                c.NIP: employees.nips.to_numpy(dtype=object)[emp],
                c.COURSE_ID: courses.course_ids.to_numpy(dtype=object)[course],
                CONTENT_SCORE: scores.content[emp, course],
                GROWTH_SCORE: scores.growth[emp, course],
                COLLABORATIVE_SCORE: scores.collaborative[emp, course],
                CANDIDATE_RANK: rank + 1,
            }
        )


def _rank_key(score: np.ndarray) -> np.ndarray:
    """0-based rank of each positive score within its row (best = 0); inf where score <= 0."""
    order = np.argsort(-score, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(score.shape[1])[None, :], axis=1)
    return np.where(score > 0, rank.astype(np.float64), np.inf)
