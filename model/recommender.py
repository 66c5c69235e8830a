"""`TrainingPathRecommender`: candidates + learned ranker, trained on point-in-time snapshots.

Training. For each snapshot date d the features are built from what was known at d
(`features.build.build_features`, `features.plan_input.employee_view`) and the labels from what
followed in (d, d + horizon] (`features.labels.enrollment_outcomes`): every enrollment started
there is a (features at d, completed?) example, and every completed one whose level change was
observed gives (features at d, gain) examples per course competency. The ranker is fitted on
all snapshots together. The course knowledge used to score (observed completion rates and
effects, post-test value added, popularity) and the collaborative similarity are taken at the
last snapshot, or at the date of `course_features` when given (e.g. today's features when
training for serving). The post-test value added (`features.pair_features.course_score_effects`)
is computed here, at every snapshot from the enrollments known then, because `FeatureSet`s do
not carry it; course frames passed to `score` without it reuse the one learnt at fit.

Scoring. `score(view)` returns the long frame `model.path_builder.candidates_from_frame` reads:
one row per (nip, candidate course, course competency) with p_complete, expected_gain (the level
gain if completed; the path builder multiplies by p_complete itself) and rank_score (the
expected gap closure per JP, `model.ranker.expected_utility` / hours: the path builder's own
criterion, which also orders its fill to the yearly minimum), best course first per employee.
On the demo data, ordering by closure per JP rather than closure raised both the paths' true
gap closure per JP and the holdout NDCG@10 (`experiments/gap_closure_study.py`). Every
number of an employee depends only on that employee's rows of the view and on the fitted
state, so scoring one employee alone gives what they get in a batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, check_random_state

from features import columns as c
from features.as_of import AsOfLike, tables_as_of, to_as_of
from features.build import build_features
from features.labels import (
    CHANGE,
    COMPLETED,
    ENROLLMENT,
    GAIN,
    TRAINED,
    enrollment_outcomes,
    level_changes,
)
from features.pair_features import (
    GAIN_FEATURES,
    LEVEL_FEATURES,
    SCORE_EFFECT,
    CourseKnowledge,
    EmployeeArrays,
    concat_ranges,
    course_score_effects,
    level_matrix,
    pair_matrix,
    score_readiness,
)
from features.plan_input import EmployeeView, employee_view
from model.candidates import CandidateGenerator, history_matrices
from model.path_builder import EXPECTED_GAIN, P_COMPLETE, RANK_SCORE, Candidates, Catalog
from model.ranker import CourseRanker, expected_utility

SCORE_COLUMNS = (c.NIP, c.COURSE_ID, c.COMPETENCY_ID, P_COMPLETE, EXPECTED_GAIN, RANK_SCORE)


def with_score_effects(
    courses: pd.DataFrame, tables: Mapping[str, pd.DataFrame], as_of: AsOfLike
) -> pd.DataFrame:
    """`courses` plus the `SCORE_EFFECT` column, from the enrollments known at `as_of`."""
    return courses.assign(
        **{SCORE_EFFECT: score_effects_at(tables, as_of, courses[c.COURSE_ID].astype(str))}
    )


def score_effects_at(
    tables: Mapping[str, pd.DataFrame], as_of: AsOfLike, course_ids: Iterable[str]
) -> np.ndarray:
    """`course_score_effects` of `course_ids` from what was known at `as_of`."""
    t = tables_as_of(tables, as_of)
    enrollments = t[c.ENROLLMENTS]
    ready = score_readiness(t, enrollments, t.as_of)
    return course_score_effects(enrollments, pd.Index(list(course_ids), dtype=object), ready)


def _knowledge_from(
    frames: object,
    competency_ids: Sequence[str],
    score_effects: pd.Series | None = None,
) -> CourseKnowledge:
    """CourseKnowledge from a FeatureSet-like object or a (courses, course_competencies) pair.

    Course frames without a `SCORE_EFFECT` column take it from `score_effects` (by course id):
    FeatureSets do not carry it, and the effect learned at fit is the best one known.
    """
    if isinstance(frames, CourseKnowledge):
        return frames
    if hasattr(frames, "courses") and hasattr(frames, "course_competencies"):
        courses, bands = frames.courses, frames.course_competencies
        as_of = getattr(frames, "as_of", None)
    elif isinstance(frames, tuple) and len(frames) == 2:
        courses, bands, as_of = frames[0], frames[1], None
    else:
        raise TypeError(
            "course frames must be a FeatureSet, a CourseKnowledge or "
            "(courses, course_competencies)"
        )
    if SCORE_EFFECT not in courses and score_effects is not None:
        ids = courses[c.COURSE_ID].astype(str).to_numpy(dtype=object)
        courses = courses.assign(**{SCORE_EFFECT: score_effects.reindex(ids).to_numpy()})
    return CourseKnowledge.from_frames(courses, bands, competency_ids, as_of=as_of)


class TrainingPathRecommender(BaseEstimator):
    """Recommend training courses: candidate generation, then P(complete) x expected gain.

    Parameters
    ----------
    n_candidates : int
        Candidates scored per employee (`model.candidates.CandidateGenerator`).
    use_collaborative : bool
        Add item-item collaborative candidates to the content ones.
    collaborative_share : float
        Share of candidate slots offered to collaborative candidates.
    level_tolerance : float
        How far below a band's min_level an employee may be for a content candidate.
    growth_weight : float
        Weight of growth beyond a met requirement in rank_score
        (`model.ranker.expected_utility`); 0 turns growth candidates off.
    ranker : CourseRanker or None
        Unfitted ranker to clone; None means `CourseRanker(random_state=random_state)`.
    max_train_pairs : int
        Training pairs (and, separately, gain examples) are subsampled to at most this many.
    chunk_size : int
        Employees scored per chunk (bounds memory; does not change results).
    random_state : int or None
        Seeds subsampling and the default ranker.

    Examples
    --------
    >>> rec = TrainingPathRecommender(n_candidates=30, random_state=0)
    >>> rec.fit(tables, ["2023-09-30", "2024-09-30"])  # doctest: +SKIP
    >>> scored = rec.score(view)  # doctest: +SKIP
    >>> nips, ids, scores = rec.recommend(view, n=5)  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "use_collaborative": ["boolean"],
        "collaborative_share": [Interval(Real, 0, 1, closed="neither")],
        "level_tolerance": [Interval(Real, 0, None, closed="left")],
        "growth_weight": [Interval(Real, 0, 1, closed="both")],
        "ranker": [HasMethods(["fit", "predict_complete", "predict_gain"]), None],
        "max_train_pairs": [Interval(Integral, 1, None, closed="left")],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_candidates: int = 50,
        use_collaborative: bool = True,
        collaborative_share: float = 0.3,
        level_tolerance: float = 0.5,
        growth_weight: float = 0.1,
        ranker: CourseRanker | None = None,
        max_train_pairs: int = 400_000,
        chunk_size: int = 10_000,
        random_state: int | None = None,
    ) -> None:
        self.n_candidates = n_candidates
        self.use_collaborative = use_collaborative
        self.collaborative_share = collaborative_share
        self.level_tolerance = level_tolerance
        self.growth_weight = growth_weight
        self.ranker = ranker
        self.max_train_pairs = max_train_pairs
        self.chunk_size = chunk_size
        self.random_state = random_state

    # --- training ------------------------------------------------------------------------------

    def fit(
        self,
        tables: Mapping[str, pd.DataFrame],
        snapshot_dates: Iterable[AsOfLike],
        horizon_days: int = 365,
        course_features: object | None = None,
    ) -> TrainingPathRecommender:
        """Fit on (features at d, outcomes in (d, d + horizon_days]) for every snapshot d.

        `course_features` (a `FeatureSet`, or `(courses, course_competencies)` frames) sets
        the course knowledge used to score; by default the features at the last snapshot.
        Snapshots whose window runs past the data see fewer outcomes: choose them so that
        d + horizon_days is within the history.
        """
        self._validate_params()
        dates = sorted({to_as_of(d) for d in snapshot_dates})
        if not dates:
            raise ValueError("snapshot_dates is empty")
        if int(horizon_days) < 1:
            raise ValueError("horizon_days must be at least 1")
        timings: dict[str, float] = {"features": 0.0, "labels": 0.0, "pairs": 0.0}
        competency_ids = tuple(tables[c.COMPETENCIES][c.COMPETENCY_ID].astype(str))
        # (X, target) blocks per snapshot of the completion, gain and baseline examples.
        blocks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
            "pair": [],
            "gain": [],
            "level": [],
        }
        last_features = None
        for d in dates:
            t0 = time.perf_counter()
            fs = build_features(tables, d)
            view = employee_view(tables, fs)
            t1 = time.perf_counter()
            end = d + pd.Timedelta(days=int(horizon_days))
            outcomes = enrollment_outcomes(tables, d, end)
            changes = level_changes(tables, d, end)
            t2 = time.perf_counter()
            knowledge = CourseKnowledge.from_frames(
                with_score_effects(fs.courses, tables, d),
                fs.course_competencies,
                competency_ids,
                as_of=fs.as_of,
            )
            employees = EmployeeArrays.from_view(view, knowledge.competency_ids)
            Xp, y, Xg, g = _training_examples(employees, knowledge, outcomes)
            blocks["pair"].append((Xp, y))
            blocks["gain"].append((Xg, g))
            blocks["level"].append(_baseline_examples(employees, changes))
            last_features = fs
            timings["features"] += t1 - t0
            timings["labels"] += t2 - t1
            timings["pairs"] += time.perf_counter() - t2

        rng = check_random_state(self.random_state)
        X_pair, y = self._stack(blocks["pair"], rng)
        X_gain, g = self._stack(blocks["gain"], rng)
        X_level, dl = self._stack(blocks["level"], rng)
        if len(y) == 0:
            raise ValueError("no resolved enrollment follows any snapshot date")

        t0 = time.perf_counter()
        ranker = (
            CourseRanker(random_state=self.random_state)
            if self.ranker is None
            else clone(self.ranker)
        )
        self.ranker_ = ranker.fit(X_pair, y, X_gain, g, X_level, dl)
        timings["ranker"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        knowledge_frames = last_features if course_features is None else course_features
        as_of = getattr(knowledge_frames, "as_of", None)
        as_of = dates[-1] if as_of is None else to_as_of(as_of)
        known = tables_as_of(tables, as_of)[c.ENROLLMENTS]
        course_ids = pd.Index(tables[c.COURSES][c.COURSE_ID].astype(str), dtype=object)
        self.score_effects_ = pd.Series(
            score_effects_at(tables, as_of, course_ids), index=course_ids
        )
        self.courses_ = _knowledge_from(knowledge_frames, competency_ids, self.score_effects_)
        completed = known.loc[(known[c.STATUS] == "completed").to_numpy(dtype=bool)]
        self.candidates_ = CandidateGenerator(
            n_candidates=self.n_candidates,
            use_collaborative=self.use_collaborative,
            collaborative_share=self.collaborative_share,
            level_tolerance=self.level_tolerance,
            score_effect_weight=getattr(self.ranker_, "score_effect_weight", 0.0),
            growth=self.growth_weight > 0,
        ).fit(completed[[c.NIP, c.COURSE_ID]], self.courses_)
        self.catalog_frames_ = (
            tables[c.COURSES],
            tables[c.COURSE_COMPETENCIES],
            tables.get(c.COURSE_PREREQUISITES),
            tables[c.COMPETENCIES],
        )
        self.catalog_ = Catalog.from_frames(*self.catalog_frames_)
        timings["knowledge"] = time.perf_counter() - t0

        self.competency_ids_ = competency_ids
        self.snapshot_dates_ = tuple(dates)
        self.horizon_days_ = int(horizon_days)
        self.n_train_pairs_ = int(len(y))
        self.n_train_gains_ = int(np.isfinite(g).sum())
        self.n_train_levels_ = int(len(dl))
        self.fit_timings_ = timings
        return self

    def _stack(
        self, blocks: list[tuple[np.ndarray, np.ndarray]], rng: np.random.RandomState
    ) -> tuple[np.ndarray, np.ndarray]:
        """Concatenate per-snapshot examples, subsampled to `max_train_pairs` rows."""
        X = np.vstack([b[0] for b in blocks])
        y = np.concatenate([b[1] for b in blocks])
        if len(y) <= self.max_train_pairs:
            return X, y
        keep = np.sort(rng.choice(len(y), size=self.max_train_pairs, replace=False))
        return X[keep], y[keep]

    # The path builder's Catalog holds mapping proxies, which do not pickle: keep its frames and
    # rebuild it on load.
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("catalog_", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "catalog_frames_" in state:
            self.catalog_ = Catalog.from_frames(*state["catalog_frames_"])

    # --- scoring -------------------------------------------------------------------------------

    def score(self, view: EmployeeView, course_frames: object | None = None) -> pd.DataFrame:
        """Scored candidates, one row per (nip, course, course competency); `SCORE_COLUMNS`.

        Employees in view order, their courses by rank_score (best first), bands by
        competency. `course_frames` (a FeatureSet at the view's date, or (courses,
        course_competencies)) replaces the course knowledge stored at fit.
        """
        parts = [block.frame() for block in self._scored_blocks(view, course_frames)]
        if not parts:
            return _empty_scores()
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def score_candidates(
        self, view: EmployeeView, catalog: Catalog, course_frames: object | None = None
    ) -> dict[str, Candidates]:
        """`candidates_from_frame(self.score(view), catalog)` without the frame in between.

        The batch planner's path: the same arrays, without writing every band's NIP, course
        and competency as strings only to look them up again.
        """
        out: dict[str, Candidates] = {}
        for block in self._scored_blocks(view, course_frames):
            out.update(block.candidates(catalog))
        return out

    def _scored_blocks(self, view: EmployeeView, course_frames: object | None) -> list[_Scored]:
        check_is_fitted(self)
        knowledge = (
            self.courses_
            if course_frames is None
            else _knowledge_from(course_frames, self.competency_ids_, self.score_effects_)
        )
        employees = EmployeeArrays.from_view(view, knowledge.competency_ids)
        taken, completed = history_matrices(view, employees.nips, knowledge.course_ids)
        blocks = []
        size = int(self.chunk_size)
        for start in range(0, employees.n_employees, size):
            rows = np.arange(start, min(start + size, employees.n_employees))
            block = self._score_rows(employees, knowledge, taken, completed, rows)
            if block is not None:
                blocks.append(block)
        return blocks

    def _score_rows(self, employees, knowledge, taken, completed, rows) -> _Scored | None:
        emp, course = self.candidates_.generate(employees, knowledge, taken, completed, rows)
        if len(emp) == 0:
            return None
        pm = pair_matrix(employees, knowledge, emp, course)
        p = self.ranker_.predict_complete(pm.X)
        gain = self.ranker_.predict_gain(pm.gain_input())
        gain = np.maximum(np.where(np.isnan(gain), pm.default_gain, gain), 0.0)
        # Per JP, as the path builder chooses: a course twice as long must close twice as much.
        utility = expected_utility(
            p, gain, pm.gap, pm.entry_pair, len(emp), pm.required, self.growth_weight
        ) / np.maximum(knowledge.hours[course], 1.0)
        return _Scored(
            employees, knowledge, emp, course, p, gain, utility, pm.entry_pos, pm.entry_pair
        )

    def recommend(
        self,
        view: EmployeeView,
        n: int = 10,
        filter_items: Iterable[str] | None = None,
        course_frames: object | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-n courses per employee of the view: (nips, ids[n_users, n], scores[n_users, n]).

        Rows follow `view.employees`; an employee with fewer than n candidates has the rest
        padded with None ids and NaN scores. Completed, ongoing and inactive courses, and those
        in `filter_items`, are never returned.
        """
        check_is_fitted(self)
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        nips = view.employees[c.NIP].astype(str).to_numpy(dtype=object)
        scored = self.score(view, course_frames)
        pairs = scored.drop_duplicates([c.NIP, c.COURSE_ID])
        if filter_items is not None:
            banned = pd.Index(list(filter_items), dtype=object)
            pairs = pairs.loc[~pairs[c.COURSE_ID].isin(banned)]
        row = pd.Index(nips).get_indexer(pairs[c.NIP])
        rank = pairs.groupby(c.NIP, sort=False).cumcount().to_numpy()
        keep = rank < n
        ids = np.full((len(nips), n), None, dtype=object)
        scores = np.full((len(nips), n), np.nan)
        ids[row[keep], rank[keep]] = pairs[c.COURSE_ID].to_numpy(dtype=object)[keep]
        scores[row[keep], rank[keep]] = pairs[RANK_SCORE].to_numpy(dtype=np.float64)[keep]
        return nips, ids, scores


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.NIP: pd.Series([], dtype=object),
            c.COURSE_ID: pd.Series([], dtype=object),
            c.COMPETENCY_ID: pd.Series([], dtype=object),
            P_COMPLETE: pd.Series([], dtype=np.float64),
            EXPECTED_GAIN: pd.Series([], dtype=np.float64),
            RANK_SCORE: pd.Series([], dtype=np.float64),
        }
    )


@dataclass(frozen=True)
class _Scored:
    """Scored candidate pairs of a block of employees, and their bands (`PairMatrix` order).

    Pair k is (employee row `emp[k]`, knowledge course `course[k]`); its bands are
    consecutive, with `gain`, `entry_pos` (knowledge entry) and `entry_pair` (= k) per band.
    """

    employees: EmployeeArrays
    knowledge: CourseKnowledge
    emp: np.ndarray
    course: np.ndarray
    p: np.ndarray
    gain: np.ndarray
    utility: np.ndarray
    entry_pos: np.ndarray
    entry_pair: np.ndarray

    @property
    def band_counts(self) -> np.ndarray:
        return np.bincount(self.entry_pair, minlength=len(self.emp))

    def frame(self) -> pd.DataFrame:
        """Rows per (nip, course, competency); employees in order, best course first."""
        emp, course, knowledge = self.emp, self.course, self.knowledge
        # Best course first within each employee (candidate order breaks ties).
        order = np.lexsort((np.arange(len(emp)), -self.utility, emp))
        counts = self.band_counts
        offsets = np.cumsum(counts) - counts
        bands = concat_ranges(offsets[order], offsets[order] + counts[order])
        pair_of_band = np.repeat(order, counts[order])
        comp_codes = knowledge.entry_comp[self.entry_pos[bands]]
        return pd.DataFrame(
            {
                c.NIP: self.employees.nips.to_numpy(dtype=object)[emp[pair_of_band]],
                c.COURSE_ID: knowledge.course_ids.to_numpy(dtype=object)[course[pair_of_band]],
                c.COMPETENCY_ID: knowledge.competency_ids.to_numpy(dtype=object)[comp_codes],
                P_COMPLETE: self.p[pair_of_band],
                EXPECTED_GAIN: self.gain[bands],
                RANK_SCORE: self.utility[pair_of_band],
            },
            columns=list(SCORE_COLUMNS),
        )

    def candidates(self, catalog: Catalog) -> dict[str, Candidates]:
        """What `candidates_from_frame(self.frame(), catalog)` returns, computed directly.

        Courses without bands have no rows in the frame, so they are no candidates here
        either; an employee's candidates are in catalog order.
        """
        knowledge = self.knowledge
        counts = self.band_counts
        keep = np.flatnonzero(counts > 0)
        to_catalog = pd.Index(catalog.course_ids).get_indexer(knowledge.course_ids)
        cc = to_catalog[self.course[keep]].astype(np.int64)
        if (cc < 0).any():
            bad = knowledge.course_ids[self.course[keep][cc < 0][0]]
            raise ValueError(f"unknown course id {bad!r}")
        emp = self.emp[keep]
        order = np.lexsort((cc, emp))
        pair, emp, cc = keep[order], emp[order], cc[order]
        p = np.clip(self.p[pair], 0.0, 1.0)
        if np.isnan(p).any():
            raise ValueError(f"{P_COMPLETE} is missing for some candidates")
        score = self.utility[pair]
        ptr = catalog.entry_ptr
        goff = np.zeros(len(cc) + 1, dtype=np.int64)
        np.cumsum(ptr[cc + 1] - ptr[cc], out=goff[1:])
        gain = np.full(int(goff[-1]), np.nan)
        # This block's bands of each kept pair, and where they go in the catalog's bands.
        starts = (np.cumsum(counts) - counts)[pair]
        bands = concat_ranges(starts, starts + counts[pair])
        cand_of_band = np.repeat(np.arange(len(pair)), counts[pair])
        comp_to_catalog = pd.Index(catalog.competency_ids).get_indexer(knowledge.competency_ids)
        comp = comp_to_catalog[knowledge.entry_comp[self.entry_pos[bands]]]
        rows_c = cc[cand_of_band]
        pos, bad = catalog.entry_positions(rows_c, comp)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            k = knowledge.competency_ids[knowledge.entry_comp[self.entry_pos[bands[i]]]]
            raise ValueError(
                f"course {catalog.course_ids[rows_c[i]]!r} does not develop competency {k!r}"
            )
        g = self.gain[bands]
        gain[goff[cand_of_band] + (pos - ptr[rows_c])] = np.maximum(
            g, 0.0, where=~np.isnan(g), out=g.copy()
        )
        nips = self.employees.nips.to_numpy(dtype=object)
        first = np.flatnonzero(np.r_[True, emp[1:] != emp[:-1]]) if len(emp) else emp
        bounds = np.r_[first, len(emp)]
        return {
            str(nips[emp[a]]): Candidates(cc[a:b], p[a:b], gain[goff[a] : goff[b]], score[a:b])
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        }


def _training_examples(
    employees: EmployeeArrays, knowledge: CourseKnowledge, outcomes: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pair rows with 0/1 completion, and band rows of completed pairs with observed gain."""
    first = ~outcomes[ENROLLMENT].duplicated().to_numpy()
    enr = outcomes.loc[first]
    ei = employees.nips.get_indexer(enr[c.NIP].astype(str))
    ci = knowledge.course_ids.get_indexer(enr[c.COURSE_ID].astype(str))
    ok = (ei >= 0) & (ci >= 0)
    pm = pair_matrix(employees, knowledge, ei[ok], ci[ok])
    y = enr[COMPLETED].to_numpy(dtype=np.float64)[ok]

    # Match observed (enrollment, competency) gains to the pairs' band rows.
    pair_of_enrollment = np.full(int(outcomes[ENROLLMENT].max()) + 1 if len(enr) else 0, -1)
    pair_of_enrollment[enr[ENROLLMENT].to_numpy()[ok]] = np.arange(int(ok.sum()))
    n_comp = max(len(knowledge.competency_ids), 1)
    band_key = pm.entry_pair * n_comp + knowledge.entry_comp[pm.entry_pos]
    seen = outcomes.loc[outcomes[GAIN].notna().to_numpy() & (outcomes[COMPLETED] == 1).to_numpy()]
    pair = pair_of_enrollment[seen[ENROLLMENT].to_numpy()] if len(seen) else np.zeros(0, int)
    comp = knowledge.competency_ids.get_indexer(seen[c.COMPETENCY_ID].astype(str))
    valid = (pair >= 0) & (comp >= 0)
    key = pair[valid] * n_comp + comp[valid]
    pos = np.searchsorted(band_key, key)
    pos_ok = np.minimum(pos, max(len(band_key) - 1, 0))
    hit = (pos < len(band_key)) & (band_key[pos_ok] == key) if len(band_key) else pos < 0
    gain = np.full(len(band_key), np.nan)
    gain[pos[hit]] = seen[GAIN].to_numpy(dtype=np.float64)[valid][hit]
    rows = np.flatnonzero(~np.isnan(gain))
    X_gain = np.hstack([pm.X[pm.entry_pair[rows]], pm.band_X[rows]])
    return pm.X, y, X_gain.reshape(len(rows), len(GAIN_FEATURES)), gain[rows]


def _baseline_examples(
    employees: EmployeeArrays, changes: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Level rows of untrained (employee, competency) pairs with their observed change."""
    untrained = changes.loc[~changes[TRAINED].to_numpy(dtype=bool)]
    ei = employees.nips.get_indexer(untrained[c.NIP].astype(str))
    ki = employees.competency_ids.get_indexer(untrained[c.COMPETENCY_ID].astype(str))
    ok = (ei >= 0) & (ki >= 0)
    X = level_matrix(employees, ei[ok], ki[ok])
    return X.reshape(int(ok.sum()), len(LEVEL_FEATURES)), untrained[CHANGE].to_numpy()[ok]
