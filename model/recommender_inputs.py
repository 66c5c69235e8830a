"""What `TrainingPathRecommender.fit` is fitted on, built from the tables in one place.

Three components, each holding only what was known at its dates:
- `TrainingExamples`: per feature snapshot d, the completion examples (pair features at d,
  completed?), the gain examples (band features, observed level change) and the untrained
  level changes of (d, d + horizon]; the view and course knowledge at the last snapshot, and
  the outcomes observed by its window's end (`BenefitEvidence`), on which the recommender
  chooses its gain model by estimated benefit;
- `ScoringKnowledge`: the course knowledge used to score (observed completion rates and
  effects, post-test value added, popularity), the completions the collaborative candidates
  learn from, and the catalog;
- the candidate generator is a parameter of the recommender (`model.candidates`).

`training_examples` and `scoring_knowledge` build them from the tables; a caller may build
them once and fit several recommenders on them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, tables_as_of, to_as_of
from features.build import build_features
from features.course_knowledge import SCORE_EFFECT
from features.course_outcomes import (
    course_post_tests,
    observed_level_changes,
    resolved_enrollments,
    untrained_level_changes,
)
from features.course_score_effects import course_score_effects, score_readiness
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
    CourseKnowledge,
    EmployeeArrays,
    level_matrix,
    pair_matrix,
)
from features.plan_input import EmployeeView, employee_view

Block = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class BenefitEvidence:
    """Outcomes observed by `as_of`, in `model.benefit.ObservedBenefit.fit`'s layout."""

    as_of: pd.Timestamp
    level_changes: pd.DataFrame
    enrollments: pd.DataFrame
    untrained: pd.DataFrame
    post_tests: pd.DataFrame
    bands: pd.DataFrame

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> BenefitEvidence:
        t = to_as_of(as_of)
        return cls(
            as_of=t,
            level_changes=observed_level_changes(tables, t),
            enrollments=resolved_enrollments(tables, t),
            untrained=untrained_level_changes(tables, t),
            post_tests=course_post_tests(tables, t),
            bands=tables[c.COURSE_COMPETENCIES],
        )


@dataclass(frozen=True)
class TrainingExamples:
    """Example blocks per snapshot (`pair`, `gain`, `level`: (X, target) each), in date order.

    `last_view` / `last_knowledge` are the view and course knowledge at the last snapshot,
    `last_completed` the completions known then, `evidence` the outcomes observed by the end
    of its window (None when not built).
    """

    snapshot_dates: tuple[pd.Timestamp, ...]
    horizon_days: int
    competency_ids: tuple[str, ...]
    pair: list[Block]
    gain: list[Block]
    level: list[Block]
    last_view: EmployeeView
    last_knowledge: CourseKnowledge
    last_completed: pd.DataFrame
    last_features: object
    evidence: BenefitEvidence | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringKnowledge:
    """What scoring reads: course knowledge at `as_of`, its post-test value added by course,
    the completions known then (for collaborative candidates) and the catalog frames."""

    as_of: pd.Timestamp
    courses: CourseKnowledge
    score_effects: pd.Series
    completed: pd.DataFrame
    catalog_frames: tuple


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


def completed_pairs(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> pd.DataFrame:
    """nip, course_id of the enrollments completed by `as_of`."""
    known = tables_as_of(tables, as_of)[c.ENROLLMENTS]
    done = known.loc[(known[c.STATUS] == "completed").to_numpy(dtype=bool)]
    return done[[c.NIP, c.COURSE_ID]]


def knowledge_from(
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


def training_examples(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    horizon_days: int = 365,
    *,
    evidence: bool = True,
) -> TrainingExamples:
    """(features at d, outcomes in (d, d + horizon_days]) for every snapshot d.

    With `evidence`, also the outcomes observed by the last window's end (for choosing the
    gain model by estimated benefit). Snapshots whose window runs past the data see fewer
    outcomes: choose them so that d + horizon_days is within the history.
    """
    dates = sorted({to_as_of(d) for d in snapshot_dates})
    if not dates:
        raise ValueError("snapshot_dates is empty")
    if int(horizon_days) < 1:
        raise ValueError("horizon_days must be at least 1")
    timings: dict[str, float] = {"features": 0.0, "labels": 0.0, "pairs": 0.0}
    competency_ids = tuple(tables[c.COMPETENCIES][c.COMPETENCY_ID].astype(str))
    blocks: dict[str, list[Block]] = {"pair": [], "gain": [], "level": []}
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
        Xp, y, Xg, g = examples_of(employees, knowledge, outcomes)
        blocks["pair"].append((Xp, y))
        blocks["gain"].append((Xg, g))
        blocks["level"].append(baseline_examples(employees, changes))
        timings["features"] += t1 - t0
        timings["labels"] += t2 - t1
        timings["pairs"] += time.perf_counter() - t2
    end = dates[-1] + pd.Timedelta(days=int(horizon_days))
    return TrainingExamples(
        snapshot_dates=tuple(dates),
        horizon_days=int(horizon_days),
        competency_ids=competency_ids,
        pair=blocks["pair"],
        gain=blocks["gain"],
        level=blocks["level"],
        last_view=view,
        last_knowledge=knowledge,
        last_completed=completed_pairs(tables, dates[-1]),
        last_features=fs,
        evidence=BenefitEvidence.from_tables(tables, end) if evidence else None,
        timings=timings,
    )


def scoring_knowledge(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    competency_ids: Sequence[str],
    course_features: object | None = None,
) -> ScoringKnowledge:
    """The course knowledge to score with at `as_of` (from `course_features`, a FeatureSet or
    (courses, course_competencies), when given; else the features at `as_of`)."""
    given = getattr(course_features, "as_of", None)
    t = to_as_of(as_of if given is None else given)
    course_ids = pd.Index(tables[c.COURSES][c.COURSE_ID].astype(str), dtype=object)
    effects = pd.Series(score_effects_at(tables, t, course_ids), index=course_ids)
    frames = build_features(tables, t) if course_features is None else course_features
    return ScoringKnowledge(
        as_of=t,
        courses=knowledge_from(frames, competency_ids, effects),
        score_effects=effects,
        completed=completed_pairs(tables, t),
        catalog_frames=(
            tables[c.COURSES],
            tables[c.COURSE_COMPETENCIES],
            tables.get(c.COURSE_PREREQUISITES),
            tables[c.COMPETENCIES],
        ),
    )


def examples_of(
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


def baseline_examples(employees: EmployeeArrays, changes: pd.DataFrame) -> Block:
    """Level rows of untrained (employee, competency) pairs with their observed change."""
    untrained = changes.loc[~changes[TRAINED].to_numpy(dtype=bool)]
    ei = employees.nips.get_indexer(untrained[c.NIP].astype(str))
    ki = employees.competency_ids.get_indexer(untrained[c.COMPETENCY_ID].astype(str))
    ok = (ei >= 0) & (ki >= 0)
    X = level_matrix(employees, ei[ok], ki[ok])
    return X.reshape(int(ok.sum()), len(LEVEL_FEATURES)), untrained[CHANGE].to_numpy()[ok]
