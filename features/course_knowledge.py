"""The catalogue and its observed history at one `as_of`, as arrays (`CourseKnowledge`).

The course block of the ranker's pair features (`features.pair_features`): length, mode,
provider kind (recognised by keywords in the provider name), and what history says about the
course (completion rate, post-test score and its value added, `SCORE_EFFECT`, shrunk observed
effect, popularity), with the course's competency bands in CSR layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features import columns as c
from features import course_vectors as cv

#: Column of a courses frame holding `course_score_effects` (absent: unknown).
SCORE_EFFECT = "score_effect"

#: Provider kinds, recognised by keywords in the provider name (first match wins).
PROVIDER_KINDS = ("kementerian", "lan", "bpsdm_provinsi", "bkpsdm_daerah", "perguruan_tinggi",
                  "lainnya")  # fmt: skip
_PROVIDER_PATTERNS = (
    ("kementerian", r"\bkemen|\bkementerian\b|\bpusdiklat\b|\bditjen\b|direktorat jenderal"),
    ("lan", r"\blan\b|lembaga administrasi negara"),
    ("bpsdm_provinsi", r"\bbpsdm\b"),
    ("bkpsdm_daerah", r"\bbkpsdm\b|\bbkpp\b|\bbkd\b|badan kepegawaian"),
    ("perguruan_tinggi", r"\buniversitas\b|\bpoliteknik\b|\buin\b|\binstitut\b|sekolah tinggi"),
)

COURSE_FEATURES = (
    ("course_hours_jp",)
    + tuple(f"course_mode_{m}" for m in c.COURSE_MODES)
    + tuple(f"course_provider_{k}" for k in PROVIDER_KINDS)
    + (
        "course_completion_rate",
        "course_mean_score",
        "course_score_effect",
        "course_effect",
        "course_n_enrolled",
        "course_n_effect",
        "course_n_competencies",
    )
)


def provider_kind(providers: pd.Series | Sequence[str]) -> np.ndarray:
    """Kind of each provider name (`PROVIDER_KINDS`), by keywords; unknown -> "lainnya"."""
    names = pd.Series(providers, dtype=object).fillna("").astype(str).str.lower()
    out = np.full(len(names), PROVIDER_KINDS[-1], dtype=object)
    decided = np.zeros(len(names), dtype=bool)
    for kind, pattern in _PROVIDER_PATTERNS:
        hit = names.str.contains(pattern, regex=True).to_numpy(dtype=bool) & ~decided
        out[hit] = kind
        decided |= hit
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64, or NaN when the frame lacks it."""
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _columns(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Numeric columns as one float64 matrix (NaN for absent ones), in a single conversion."""
    block = frame.reindex(columns=list(names))
    try:
        return block.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return np.column_stack([_column(frame, name) for name in names]).reshape(len(frame), -1)


def _one_hot(values: pd.Series | np.ndarray, levels: Sequence[str]) -> np.ndarray:
    lookup = {level: i for i, level in enumerate(levels)}
    codes = np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=len(values))
    out = np.zeros((len(codes), len(levels)), dtype=np.float64)
    ok = codes >= 0
    out[np.flatnonzero(ok), codes[ok]] = 1.0
    return out


# --- courses ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CourseKnowledge:
    """The catalogue and its observed history at one `as_of`, as arrays.

    Bands are CSR: course i's are entries `entry_ptr[i]:entry_ptr[i + 1]`, sorted by
    competency code. `features` rows follow `course_ids`, columns `COURSE_FEATURES`.
    `competency_ids` are the codes of `entry_comp` and of `EmployeeArrays` built for it.
    """

    as_of: pd.Timestamp | None
    course_ids: pd.Index
    competency_ids: pd.Index
    active: np.ndarray
    mode_code: np.ndarray
    features: np.ndarray
    entry_ptr: np.ndarray
    entry_comp: np.ndarray
    entry_min: np.ndarray
    entry_target: np.ndarray
    entry_effect: np.ndarray
    entry_effect_mean: np.ndarray
    entry_n_effect: np.ndarray

    @classmethod
    def from_frames(
        cls,
        courses: pd.DataFrame,
        course_competencies: pd.DataFrame,
        competency_ids: Sequence[str] | pd.Index = (),
        as_of: pd.Timestamp | None = None,
    ) -> CourseKnowledge:
        """From `features.course_vectors.course_vectors` / `course_effects` frames.

        The typed `courses` / `course_competencies` tables work too: history columns they
        lack become NaN. Competencies of the bands missing from `competency_ids` are appended.
        """
        course_ids = pd.Index(courses[c.COURSE_ID].astype(str).to_numpy(dtype=object))
        if course_ids.has_duplicates:
            raise ValueError("course ids are not unique")
        comp_ids = list(pd.Index(competency_ids).astype(str))
        seen = set(comp_ids)
        for k in course_competencies[c.COMPETENCY_ID].astype(str).tolist():
            if k not in seen:
                seen.add(k)
                comp_ids.append(k)
        comp_index = pd.Index(comp_ids, dtype=object)

        ci = course_ids.get_indexer(course_competencies[c.COURSE_ID].astype(str))
        ok = ci >= 0
        ki = comp_index.get_indexer(course_competencies[c.COMPETENCY_ID].astype(str))
        order = np.lexsort((ki[ok], ci[ok]))
        rows = np.flatnonzero(ok)[order]
        n = len(course_ids)
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(ci[rows], minlength=n), out=ptr[1:])

        def band(name: str) -> np.ndarray:
            return _column(course_competencies, name)[rows]

        completion = _column(courses, cv.COMPLETION_RATE_SMOOTHED)
        completion = np.where(
            np.isnan(completion), _column(courses, cv.COMPLETION_RATE), completion
        )
        mode = courses[c.MODE].to_numpy(dtype=object)
        block = np.column_stack(
            [
                _column(courses, c.HOURS_JP),
                _one_hot(mode, c.COURSE_MODES),
                _one_hot(provider_kind(courses[c.PROVIDER]), PROVIDER_KINDS),
                completion,
                _column(courses, cv.MEAN_SCORE),
                _column(courses, SCORE_EFFECT),
                _column(courses, cv.MEAN_EFFECT_SHRUNK),
                _column(courses, cv.N_ENROLLED),
                _column(courses, cv.N_EFFECT),
                np.diff(ptr).astype(np.float64),
            ]
        )
        return cls(
            as_of=as_of,
            course_ids=course_ids,
            competency_ids=comp_index,
            active=courses[c.ACTIVE].to_numpy(dtype=bool),
            mode_code=pd.Index(c.COURSE_MODES).get_indexer(pd.Index(mode)).astype(np.int64),
            features=block,
            entry_ptr=ptr,
            entry_comp=ki[rows].astype(np.int64),
            entry_min=band(c.MIN_LEVEL),
            entry_target=band(c.TARGET_LEVEL),
            entry_effect=band(cv.EFFECT_SHRUNK),
            entry_effect_mean=band(cv.EFFECT_MEAN),
            entry_n_effect=band(cv.N_EFFECT),
        )

    @property
    def n_courses(self) -> int:
        return len(self.course_ids)

    @cached_property
    def entry_course(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_courses, dtype=np.int64), np.diff(self.entry_ptr))

    @cached_property
    def entry_to_course(self) -> sp.csr_matrix:
        """Sparse entries x courses indicator: `values @ entry_to_course` sums bands per course."""
        n = len(self.entry_comp)
        return sp.csr_matrix(
            (np.ones(n), (np.arange(n), self.entry_course)), shape=(n, self.n_courses)
        )

    @cached_property
    def hours(self) -> np.ndarray:
        """JP of each course."""
        return self.features[:, COURSE_FEATURES.index("course_hours_jp")]

    @cached_property
    def effect(self) -> np.ndarray:
        """Mean shrunk observed effect per course (NaN when unknown)."""
        return self.features[:, COURSE_FEATURES.index("course_effect")]

    @cached_property
    def score_effect(self) -> np.ndarray:
        """Post-test value added per course, `course_score_effects` (NaN when unknown)."""
        return self.features[:, COURSE_FEATURES.index("course_score_effect")]
