"""The dataset contract (version 1) as data: tables, typed columns, keys and references.

Loading (`features.io`) and validation (`features.validation`) both read this one description,
so the rules live in one place. Cross-column rules that are not simple column properties
(NIP consistency, the SKP matrix, cycles, min < target) are implemented in validation and
listed in `CROSS_RULES` so the documentation can name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features import columns as c

CONTRACT_VERSION = 1


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its type, whether it may be empty, and its value rule."""

    name: str
    dtype: str  # "str" | "int" | "float" | "date" | "bool" | "enum"
    optional: bool = False
    values: tuple[str, ...] = ()  # allowed values for dtype "enum"
    min: float | None = None
    max: float | None = None
    references: tuple[str, str] | None = None  # (table, column) that must hold the value

    @property
    def rule(self) -> str:
        """Human-readable rule, used in reports and docs."""
        parts = [self.dtype if self.dtype != "enum" else "one of " + ", ".join(self.values)]
        if self.min is not None or self.max is not None:
            parts.append(f"in {self.min:g}..{self.max:g}")
        if self.references:
            parts.append(f"an existing {self.references[0]}.{self.references[1]}")
        parts.append("optional" if self.optional else "required")
        return "; ".join(parts)


@dataclass(frozen=True)
class TableSpec:
    """One file of the dataset folder."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...] = ()  # columns whose combination is unique
    optional: bool = False
    description: str = ""
    extra_rules: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)


def _s(name: str, **kw) -> ColumnSpec:
    return ColumnSpec(name, "str", **kw)


def _e(name: str, values: tuple[str, ...], **kw) -> ColumnSpec:
    return ColumnSpec(name, "enum", values=values, **kw)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            c.UNITS,
            (
                _s(c.UNIT_ID),
                _s(c.NAME),
                _s(c.PARENT_UNIT_ID, optional=True, references=(c.UNITS, c.UNIT_ID)),
            ),
            key=(c.UNIT_ID,),
            description="Organisation units (kecamatan office, kelurahan, sections).",
            extra_rules=("unit_hierarchy_acyclic",),
        ),
        TableSpec(
            c.COMPETENCIES,
            (_s(c.COMPETENCY_ID), _s(c.NAME), _e(c.KIND, c.COMPETENCY_KINDS)),
            key=(c.COMPETENCY_ID,),
            description="Managerial, socio-cultural and technical competencies.",
        ),
        TableSpec(
            c.POSITIONS,
            (
                _s(c.POSITION_ID),
                _s(c.TITLE),
                _e(c.CATEGORY, c.POSITION_CATEGORIES),
                ColumnSpec(c.GRADE, "int", min=1, max=17),
            ),
            key=(c.POSITION_ID,),
            description="Positions (jabatan) with their kelas jabatan.",
        ),
        TableSpec(
            c.POSITION_REQUIREMENTS,
            (
                _s(c.POSITION_ID, references=(c.POSITIONS, c.POSITION_ID)),
                _s(c.COMPETENCY_ID, references=(c.COMPETENCIES, c.COMPETENCY_ID)),
                ColumnSpec(c.REQUIRED_LEVEL, "int", min=1, max=5),
            ),
            key=(c.POSITION_ID, c.COMPETENCY_ID),
            description="Required level of each competency for a position.",
        ),
        TableSpec(
            c.EMPLOYEES,
            (
                _s(c.NIP),
                _s(c.NAME),
                _e(c.GENDER, c.GENDERS),
                ColumnSpec(c.BIRTH_DATE, "date"),
                ColumnSpec(c.TMT_CPNS, "date"),
                _e(c.GOLONGAN, c.GOLONGAN_VALUES),
                _e(c.EDUCATION, c.EDUCATION_VALUES),
                _s(c.UNIT_ID, references=(c.UNITS, c.UNIT_ID)),
                _s(c.POSITION_ID, references=(c.POSITIONS, c.POSITION_ID)),
                _s(c.SUPERVISOR_NIP, optional=True, references=(c.EMPLOYEES, c.NIP)),
                ColumnSpec(c.ACTIVE, "bool"),
            ),
            key=(c.NIP,),
            description="Civil servants (ASN).",
            extra_rules=(
                "nip_format",
                "nip_birth_date",
                "nip_tmt_cpns",
                "nip_gender",
                "supervisor_not_self",
            ),
        ),
        TableSpec(
            c.ASSESSMENTS,
            (
                _s(c.NIP, references=(c.EMPLOYEES, c.NIP)),
                _s(c.COMPETENCY_ID, references=(c.COMPETENCIES, c.COMPETENCY_ID)),
                ColumnSpec(c.LEVEL, "float", min=1.0, max=5.0),
                ColumnSpec(c.ASSESSED_ON, "date"),
                _e(c.METHOD, c.ASSESSMENT_METHODS),
            ),
            description="Competency assessments (levels 1.0..5.0).",
        ),
        TableSpec(
            c.PERFORMANCE_REVIEWS,
            (
                _s(c.NIP, references=(c.EMPLOYEES, c.NIP)),
                ColumnSpec(c.YEAR, "int", min=1900, max=2200),
                _e(c.WORK_RESULT, c.EXPECTATION_VALUES),
                _e(c.WORK_BEHAVIOR, c.EXPECTATION_VALUES),
                _e(c.RATING, c.RATING_VALUES),
            ),
            key=(c.NIP, c.YEAR),
            optional=True,
            description="Yearly SKP reviews (Permenpan RB 6/2022).",
            extra_rules=("skp_rating_matrix",),
        ),
        TableSpec(
            c.COURSES,
            (
                _s(c.COURSE_ID),
                _s(c.TITLE),
                _s(c.PROVIDER),
                _e(c.MODE, c.COURSE_MODES),
                ColumnSpec(c.HOURS_JP, "int", min=1, max=10_000),
                ColumnSpec(c.ACTIVE, "bool"),
            ),
            key=(c.COURSE_ID,),
            description="Training catalog; hours in JP (jam pelajaran).",
        ),
        TableSpec(
            c.COURSE_COMPETENCIES,
            (
                _s(c.COURSE_ID, references=(c.COURSES, c.COURSE_ID)),
                _s(c.COMPETENCY_ID, references=(c.COMPETENCIES, c.COMPETENCY_ID)),
                ColumnSpec(c.MIN_LEVEL, "int", min=1, max=5),
                ColumnSpec(c.TARGET_LEVEL, "int", min=1, max=5),
            ),
            key=(c.COURSE_ID, c.COMPETENCY_ID),
            description="Competency band a course develops (min_level -> target_level).",
            extra_rules=("min_below_target",),
        ),
        TableSpec(
            c.COURSE_PREREQUISITES,
            (
                _s(c.COURSE_ID, references=(c.COURSES, c.COURSE_ID)),
                _s(c.PREREQUISITE_ID, references=(c.COURSES, c.COURSE_ID)),
            ),
            key=(c.COURSE_ID, c.PREREQUISITE_ID),
            optional=True,
            description="Course prerequisites; the graph has no cycles.",
            extra_rules=("prerequisites_acyclic",),
        ),
        TableSpec(
            c.ENROLLMENTS,
            (
                _s(c.NIP, references=(c.EMPLOYEES, c.NIP)),
                _s(c.COURSE_ID, references=(c.COURSES, c.COURSE_ID)),
                ColumnSpec(c.START_DATE, "date"),
                ColumnSpec(c.END_DATE, "date", optional=True),
                _e(c.STATUS, c.ENROLLMENT_STATUSES),
                ColumnSpec(c.SCORE, "float", optional=True, min=0.0, max=100.0),
            ),
            description="Training history: enrollments and their outcomes.",
        ),
        TableSpec(
            c.MENTORSHIPS,
            (
                _s(c.MENTOR_NIP, references=(c.EMPLOYEES, c.NIP)),
                _s(c.MENTEE_NIP, references=(c.EMPLOYEES, c.NIP)),
                _s(c.COMPETENCY_ID, references=(c.COMPETENCIES, c.COMPETENCY_ID)),
                ColumnSpec(c.START_DATE, "date"),
                ColumnSpec(c.END_DATE, "date", optional=True),
                ColumnSpec(c.OUTCOME, "int", optional=True, min=1, max=5),
            ),
            optional=True,
            description="Mentoring history (senior to junior).",
            extra_rules=("mentee_not_mentor",),
        ),
    )
}

#: Rules beyond single-column types, by id, with the text used in reports.
CROSS_RULES: dict[str, str] = {
    "nip_format": "NIP is 18 digits: birth date YYYYMMDD, TMT CPNS YYYYMM, gender 1|2, sequence",
    "nip_birth_date": "birth_date agrees with NIP digits 1-8",
    "nip_tmt_cpns": "tmt_cpns year and month agree with NIP digits 9-14",
    "nip_gender": "gender agrees with NIP digit 15 (1 = L, 2 = P)",
    "supervisor_not_self": "supervisor_nip is not the employee's own NIP",
    "unit_hierarchy_acyclic": "parent_unit_id chain has no cycles",
    "skp_rating_matrix": "rating follows from work_result x work_behavior (Permenpan RB 6/2022)",
    "min_below_target": "min_level < target_level",
    "prerequisites_acyclic": "prerequisite graph has no cycles (and no self-prerequisite)",
    "mentee_not_mentor": "mentee_nip differs from mentor_nip",
    "end_after_start": "end_date is not before start_date",
}


#: Pandas dtype by contract type: (required column, optional column, column with gaps).
_DTYPES = {
    "str": ("str", "str", "str"),
    "enum": ("str", "str", "str"),
    "int": ("int64", "Int64", "Int64"),
    "float": ("float64", "float64", "float64"),
    "date": ("datetime64[ns]", "datetime64[ns]", "datetime64[ns]"),
    "bool": ("bool", "boolean", "boolean"),
}


def typed_dtype(col: ColumnSpec, nullable: bool = False) -> str:
    """Pandas dtype of a column in the typed form; `nullable` for a required column that has
    gaps because some cells broke the contract."""
    return _DTYPES[col.dtype][2 if nullable else int(col.optional)]


def null_column(col: ColumnSpec, n_rows: int) -> pd.Series:
    """A column of missing values: stands in for a missing or unusable column."""
    return pd.Series([None] * n_rows, dtype=typed_dtype(col, nullable=True))
