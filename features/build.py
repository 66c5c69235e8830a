"""The one entry point to the features: `build_features(tables, as_of) -> FeatureSet`.

It cuts the tables at `as_of` once and builds the assessment history once, then hands both to
every stage, so the stages agree on what was known and nothing is computed twice.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, tables_as_of, to_as_of
from features.competency import (
    CompetencyMatrices,
    assessment_history,
    competency_gaps,
    competency_matrices,
)
from features.course_vectors import course_effects, course_vectors
from features.evaluation import evaluation_vectors
from features.mentor_vectors import mentor_stats, mentor_vectors


@dataclass(frozen=True)
class FeatureSet:
    """All features at one `as_of`. Frames are described in their modules.

    - competency: `features.competency.competency_gaps` (long, per employee x competency)
    - evaluation: `features.evaluation.evaluation_vectors` (per active employee)
    - courses / course_competencies: `features.course_vectors` (per course / per band)
    - mentors / mentor_stats: `features.mentor_vectors` (per mentor x competency / per mentor)
    - competency_ids: every competency, in competencies-table order (the matrices' columns)
    - timings: seconds per stage, for benchmarks and logs
    """

    as_of: pd.Timestamp
    competency: pd.DataFrame
    evaluation: pd.DataFrame
    courses: pd.DataFrame
    course_competencies: pd.DataFrame
    mentors: pd.DataFrame
    mentor_stats: pd.DataFrame
    competency_ids: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @cached_property
    def matrices(self) -> CompetencyMatrices:
        """Dense active employees x competencies view of `competency`.

        Rows follow `evaluation`, columns the competencies table (stable across `as_of`).
        """
        return competency_matrices(
            self.competency, nips=self.evaluation[c.NIP], competency_ids=self.competency_ids
        )


class _FeatureCache:
    """Feature sets of ONE tables object by date, kept while a `feature_cache()` block runs.

    A training run asks for the same snapshot dates many times (recommender, risk model,
    mentor scorer, evaluation). FeatureSets are immutable, so sharing them is safe; holding
    the tables object itself (not its id) means a stale hit is impossible.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.tables: object | None = None
        self.entries: OrderedDict[pd.Timestamp, FeatureSet] = OrderedDict()

    def get(self, tables: object, as_of: pd.Timestamp) -> FeatureSet | None:
        if tables is not self.tables:
            return None
        hit = self.entries.get(as_of)
        if hit is not None:
            self.entries.move_to_end(as_of)
        return hit

    def put(self, tables: object, as_of: pd.Timestamp, fs: FeatureSet) -> None:
        if tables is not self.tables:
            self.tables = tables
            self.entries.clear()
        self.entries[as_of] = fs
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


_CACHE: _FeatureCache | None = None


@contextmanager
def feature_cache(max_entries: int = 8) -> Iterator[None]:
    """Reuse feature sets built for the same tables and date inside this block."""
    global _CACHE
    previous, _CACHE = _CACHE, _FeatureCache(max_entries)
    try:
        yield
    finally:
        _CACHE = previous


def build_features(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> FeatureSet:
    """Every feature frame at `as_of`, computed only from what was known then."""
    cache = _CACHE
    if cache is not None:
        key = to_as_of(as_of)
        hit = cache.get(tables, key)
        if hit is not None:
            return hit
        fs = _build_features(tables, as_of)
        cache.put(tables, key, fs)
        return fs
    return _build_features(tables, as_of)


def _build_features(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> FeatureSet:
    timings: dict[str, float] = {}

    def timed(stage: str, fn: Callable[[], object]):
        start = time.perf_counter()
        result = fn()
        timings[stage] = time.perf_counter() - start
        return result

    t = timed("as_of", lambda: tables_as_of(tables, as_of))
    history = timed("history", lambda: assessment_history(t, t.as_of))
    gaps = timed("competency", lambda: competency_gaps(t, t.as_of, history=history))
    evaluation = timed("evaluation", lambda: evaluation_vectors(t, t.as_of))
    effects = timed("course_effects", lambda: course_effects(t, t.as_of, history=history))
    courses = timed("courses", lambda: course_vectors(t, t.as_of, effects=effects))
    stats = timed("mentor_stats", lambda: mentor_stats(t, t.as_of, history=history))
    mentors = timed(
        "mentors", lambda: mentor_vectors(t, t.as_of, history=history, gaps=gaps, stats=stats)
    )
    return FeatureSet(
        as_of=t.as_of,
        competency=gaps,
        evaluation=evaluation,
        courses=courses,
        course_competencies=effects,
        mentors=mentors,
        mentor_stats=stats,
        competency_ids=tuple(history.competency_ids),
        timings=timings,
    )
