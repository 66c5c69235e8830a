"""`TrainingPathRecommender`: candidates + learned ranker, trained on point-in-time snapshots.

Training. `fit` takes its components (`model.recommender_inputs`): the examples of every
feature snapshot d (features from what was known at d, labels from what followed in
(d, d + horizon]: every enrollment started there is a (features at d, completed?) example,
every completed one whose level change was observed gives (features at d, gain) examples per
course competency) and the course knowledge used to score (observed completion rates and
effects, post-test value added, popularity, the completions the collaborative candidates
learn from, the catalog); the candidate generator is a parameter. `fit(tables, dates, ...)`
builds both components from the tables (by default the course knowledge at the last
snapshot, or at the date of `course_features` when given, e.g. today's features when training
for serving). The ranker is fitted on all snapshots together.

Gain model. The ranker fits every gain prior of `model.ranker.GAIN_PRIORS` (the band prior
and the heterogeneous course effects of `model.course_effects`); with
``gain_prior="select"`` the one whose paths close the most gap, estimated from observed
outcomes on a time split inside the training data (`model.gain_selection`), serves, and
`gain_selection_` records every candidate's estimate.

Scoring. `scored_candidates(view)` returns the long frame
`model.path_inputs.candidates_from_frame` reads: one row per (nip, candidate course, course
competency) with p_complete, expected_gain (the level gain if completed; the path builder
multiplies by p_complete itself) and rank_score (the expected gap closure per JP,
`model.ranker.expected_utility` / hours: the path builder's own criterion, which also orders
its fill to the yearly minimum), best course first per employee. On the demo data, ordering
by closure per JP rather than closure raised both the paths' true gap closure per JP and the
holdout NDCG@10 (`experiments/gap_closure_study.py`). Every number of an employee depends only
on that employee's rows of the view and on the fitted state, so scoring one employee alone
gives what they get in a batch. `score(view)` is scikit-learn's scalar: the mean expected gap
closure of the paths the path builder makes from these candidates, by the recommender's own
estimates (a diagnostic; the gate judges plans with `model.benefit`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from features import columns as c
from features.as_of import AsOfLike
from features.pair_features import CourseKnowledge, EmployeeArrays, concat_ranges, pair_matrix
from features.plan_input import EmployeeView
from model.candidates import CandidateGenerator, history_matrices
from model.gain_selection import select_gain_prior
from model.path_catalog import Catalog
from model.path_inputs import EXPECTED_GAIN, P_COMPLETE, RANK_SCORE, Candidates
from model.ranker import GAIN_PRIORS, CourseRanker, expected_utility
from model.recommender_inputs import (
    ScoringKnowledge,
    TrainingExamples,
    knowledge_from,
    scoring_knowledge,
    training_examples,
)

SCORE_COLUMNS = (c.NIP, c.COURSE_ID, c.COMPETENCY_ID, P_COMPLETE, EXPECTED_GAIN, RANK_SCORE)


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
    candidate_generator : CandidateGenerator or None
        Unfitted candidate generator to clone; None builds one from `n_candidates`,
        `use_collaborative`, `collaborative_share`, `level_tolerance` and `growth_weight`.
    gain_prior : {"select", "band", "heterogeneous"}
        The ranker's gain prior; "select" chooses by estimated benefit (`model.gain_selection`).
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
    >>> scored = rec.scored_candidates(view)  # doctest: +SKIP
    >>> nips, ids, scores = rec.recommend(view, n=5)  # doctest: +SKIP
    >>> rec.score(view)  # mean expected gap closure of its paths  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "use_collaborative": ["boolean"],
        "collaborative_share": [Interval(Real, 0, 1, closed="neither")],
        "level_tolerance": [Interval(Real, 0, None, closed="left")],
        "growth_weight": [Interval(Real, 0, 1, closed="both")],
        "ranker": [HasMethods(["fit", "predict_complete", "predict_gain"]), None],
        "candidate_generator": [HasMethods(["fit", "generate"]), None],
        "gain_prior": [StrOptions({"select", *GAIN_PRIORS})],
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
        candidate_generator: CandidateGenerator | None = None,
        gain_prior: str = "select",
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
        self.candidate_generator = candidate_generator
        self.gain_prior = gain_prior
        self.max_train_pairs = max_train_pairs
        self.chunk_size = chunk_size
        self.random_state = random_state

    # --- training ------------------------------------------------------------------------------

    def fit(
        self,
        X: TrainingExamples | Mapping[str, pd.DataFrame],
        snapshot_dates: Iterable[AsOfLike] | None = None,
        horizon_days: int = 365,
        course_features: object | None = None,
        *,
        knowledge: ScoringKnowledge | None = None,
    ) -> TrainingPathRecommender:
        """Fit on `TrainingExamples` and the `ScoringKnowledge` to score with.

        Convenience: `fit(tables, snapshot_dates, horizon_days, course_features)` builds
        both from the tables (`model.recommender_inputs.training_examples` and
        `scoring_knowledge`; `course_features`, a `FeatureSet` or `(courses,
        course_competencies)` frames, sets the course knowledge, by default the features at
        the last snapshot).
        """
        self._validate_params()
        if isinstance(X, TrainingExamples):
            examples = X
            if knowledge is None:
                raise ValueError("fit on TrainingExamples needs the ScoringKnowledge")
        else:
            if snapshot_dates is None:
                raise ValueError("fit on tables needs snapshot_dates")
            examples = training_examples(
                X, snapshot_dates, horizon_days, evidence=self.gain_prior == "select"
            )
            if knowledge is None:
                frames = examples.last_features if course_features is None else course_features
                knowledge = scoring_knowledge(
                    X, examples.snapshot_dates[-1], examples.competency_ids, frames
                )
        return self._fit(examples, knowledge)

    def _fit(
        self, examples: TrainingExamples, knowledge: ScoringKnowledge
    ) -> TrainingPathRecommender:
        timings = dict(examples.timings)
        rng = check_random_state(self.random_state)
        X_pair, y = self._stack(examples.pair, rng)
        X_gain, g = self._stack(examples.gain, rng)
        X_level, dl = self._stack(examples.level, rng)
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
        self.score_effects_ = knowledge.score_effects
        self.courses_ = knowledge.courses
        generator = (
            CandidateGenerator(
                n_candidates=self.n_candidates,
                use_collaborative=self.use_collaborative,
                collaborative_share=self.collaborative_share,
                level_tolerance=self.level_tolerance,
                score_effect_weight=getattr(self.ranker_, "score_effect_weight", 0.0),
                growth=self.growth_weight > 0,
            )
            if self.candidate_generator is None
            else clone(self.candidate_generator)
        )
        self.candidates_ = generator.fit(knowledge.completed, self.courses_)
        self.catalog_frames_ = knowledge.catalog_frames
        self.catalog_ = Catalog.from_frames(*self.catalog_frames_)
        timings["knowledge"] = time.perf_counter() - t0

        self.competency_ids_ = examples.competency_ids
        self.snapshot_dates_ = examples.snapshot_dates
        self.horizon_days_ = examples.horizon_days
        self.n_train_pairs_ = int(len(y))
        self.n_train_gains_ = int(np.isfinite(g).sum())
        self.n_train_levels_ = int(len(dl))

        t0 = time.perf_counter()
        priors = GAIN_PRIORS
        self.gain_selection_: dict[str, Any]
        if self.gain_prior != "select":
            self.gain_selection_ = {"chosen": self.gain_prior, "reason": "fixed"}
        elif not hasattr(self.ranker_, "heterogeneous_"):
            self.gain_selection_ = {"chosen": None, "reason": "ranker has one gain model"}
        else:
            self.gain_selection_ = select_gain_prior(
                self, examples, priors, lambda blocks: self._stack(blocks, rng)
            )
        self.gain_prior_ = self.gain_selection_["chosen"]
        timings["gain_selection"] = time.perf_counter() - t0
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

    def score(
        self,
        view: EmployeeView,
        y: None = None,
        jp_budget: int = 40,
        min_jp: int = c.MIN_JP_PER_YEAR,
    ) -> float:
        """Mean expected gap closure (levels per employee of the view) of the paths the path
        builder makes from this recommender's candidates, by its own estimates (sum over a
        path's steps of `PathStep.score`, P(complete) x min(gain, gap)); aimed from the
        measured levels. scikit-learn's `score` contract: higher is better; `y` is unused.
        """
        from model.path_builder import build_paths
        from model.planner import employee_states_from_view

        check_is_fitted(self)
        states = employee_states_from_view(view)
        if not states:
            return float("nan")
        paths = build_paths(
            states,
            self.score_candidates(view, self.catalog_),
            self.catalog_,
            jp_budget=int(jp_budget),
            min_jp=min(int(min_jp), int(jp_budget)),
        )
        return float(np.mean([sum(step.score for step in path) for path in paths]))

    def scored_candidates(
        self, view: EmployeeView, course_frames: object | None = None
    ) -> pd.DataFrame:
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
        """`candidates_from_frame(self.scored_candidates(view), catalog)` without the frame.

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
            else knowledge_from(course_frames, self.competency_ids_, self.score_effects_)
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
        prior = getattr(self, "gain_prior_", None)
        gain = (
            self.ranker_.predict_gain(pm.gain_input())
            if prior is None
            else self.ranker_.predict_gain(pm.gain_input(), prior=prior)
        )
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
        scored = self.scored_candidates(view, course_frames)
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
