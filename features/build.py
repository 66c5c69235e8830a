"""The one entry point to the features: `build_features(tables, as_of) -> FeatureSet`.

It cuts the tables at `as_of` once and builds the assessment history once, then hands both to
every stage, so the stages agree on what was known and nothing is computed twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, tables_as_of
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


def build_features(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> FeatureSet:
    """Every feature frame at `as_of`, computed only from what was known then."""
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
