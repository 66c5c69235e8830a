"""Request and response bodies of the API, named by role (`...Request`, `...Create`, `...Public`).

Every float that leaves the service passes `_finite`: NaN and infinities become null, so a
response is always valid JSON. The NIP type explains what a valid NIP looks like when it
rejects one.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from features.columns import COURSE_MODES

NIP_FORMAT = (
    "an NIP is 18 digits: birth date YYYYMMDD, TMT CPNS (start of service) YYYYMM, "
    "gender 1 (L) or 2 (P), then a 3-digit sequence number, e.g. 198503122010011001"
)
JP_BUDGET_MAX = 200
TOP_K_MAX = 50
CAPACITY_MAX = 20
#: Courses one request may exclude, and NIPs one bulk request may hold.
EXCLUDE_MAX = 500
BULK_MAX = 1_000


def nip_problem(value: str) -> str | None:
    """What is wrong with an NIP, or None if it is well formed."""
    if not re.fullmatch(r"\d{18}", value):
        return f"must be exactly 18 digits (got {len(value)} characters)"
    try:
        birth = date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return "digits 1-8 are not a real birth date YYYYMMDD"
    year, month = int(value[8:12]), int(value[12:14])
    if not 1 <= month <= 12:
        return "digits 9-14 are not a year-month YYYYMM (TMT CPNS)"
    if year < birth.year:
        return "TMT CPNS (digits 9-14) is before the birth date"
    if value[14] not in "12":
        return "digit 15 must be 1 (L) or 2 (P)"
    return None


def check_nip(value: str) -> str:
    problem = nip_problem(value)
    if problem is not None:
        raise ValueError(f"invalid NIP: {problem}; {NIP_FORMAT}")
    return value


def check_mode(value: str) -> str:
    if value not in COURSE_MODES:
        raise ValueError(f"unknown course format; one of {', '.join(COURSE_MODES)}")
    return value


def strip_spaces(value: Any) -> Any:
    # NIPs are often written grouped ("19850312 201001 1 001"); the grouping is not data.
    return value.replace(" ", "") if isinstance(value, str) else value


def _finite(value: Any) -> Any:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return number if math.isfinite(number) else None


Nip = Annotated[
    str,
    BeforeValidator(strip_spaces),
    AfterValidator(check_nip),
    Field(description=NIP_FORMAT, examples=["198503122010011001"]),
]
Score = Annotated[float | None, BeforeValidator(_finite)]
CourseId = Annotated[str, Field(min_length=1, max_length=64)]
CourseMode = Annotated[
    str, AfterValidator(check_mode), Field(json_schema_extra={"enum": list(COURSE_MODES)})
]
UnitId = Annotated[str, Field(min_length=1, max_length=64, examples=["KTP-SEK"])]
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Client-chosen id that makes a retried request safe (letters, digits, ._:-).",
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -------------------------------------------------------------------------------------


class TrainingPathRequest(_Request):
    nip: Nip
    jp_budget: int | None = Field(
        None,
        ge=1,
        le=JP_BUDGET_MAX,
        description="JP (jam pelajaran) the path may use; default the model's budget (40).",
    )
    top_k: int | None = Field(
        None, ge=1, le=TOP_K_MAX, description="Return at most this many steps of the path."
    )
    exclude_course_ids: list[CourseId] = Field(
        default_factory=list,
        max_length=EXCLUDE_MAX,
        description="Courses the path must not use (full, or planned elsewhere); a course that "
        "needs one of them as an uncompleted prerequisite is left out too.",
    )
    modes: list[CourseMode] | None = Field(
        None,
        min_length=1,
        max_length=len(COURSE_MODES),
        description="Allowed course formats (default: all); a course whose uncompleted "
        "prerequisite is in another format is left out too.",
    )


class BulkTrainingPathRequest(_Request):
    """Many employees' training paths in one call (an HR system passing each one's budget)."""

    items: list[dict[str, Any]] = Field(
        ...,
        min_length=1,
        max_length=BULK_MAX,
        description="Each item is a TrainingPathRequest object (nip, jp_budget?, top_k?, "
        "exclude_course_ids?, modes?), checked on its own: a bad item gets an error line, the "
        "others their paths.",
    )


class MentorRequest(_Request):
    nip: Nip
    top_k: int = Field(5, ge=1, le=TOP_K_MAX, description="Mentors to list, best first.")


class MentorAssignmentRequest(_Request):
    unit_id: UnitId
    capacity: int | None = Field(
        None,
        ge=1,
        le=CAPACITY_MAX,
        description="Mentees per mentor, ongoing mentorships included; default the model's (3).",
    )


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGED = "changed"


class PlanChanges(_Request):
    """What a manager changed in a plan (only with decision `changed`)."""

    add_course_ids: list[CourseId] = Field(default_factory=list, max_length=50)
    remove_course_ids: list[CourseId] = Field(default_factory=list, max_length=50)
    course_order: list[CourseId] = Field(
        default_factory=list,
        max_length=50,
        description="The path's courses in the order the manager wants them (reorder).",
    )
    mentor_nip: Nip | None = None
    jp_budget: int | None = Field(None, ge=1, le=JP_BUDGET_MAX)

    def is_empty(self) -> bool:
        return not (
            self.add_course_ids
            or self.remove_course_ids
            or self.course_order
            or self.mentor_nip is not None
            or self.jp_budget is not None
        )


class PlanReviewCreate(_Request):
    decision: Decision
    comment: str = Field(..., max_length=2000, description="Why (free text, may be empty).")
    changes: PlanChanges | None = None
    request_id: RequestId | None = Field(
        None, description="Alternative to the Idempotency-Key header."
    )

    @model_validator(mode="after")
    def _changes_match_decision(self) -> PlanReviewCreate:
        has_changes = self.changes is not None and not self.changes.is_empty()
        if self.decision is Decision.CHANGED and not has_changes:
            raise ValueError("decision 'changed' needs a non-empty 'changes' object")
        if self.decision is not Decision.CHANGED and self.changes is not None:
            raise ValueError("'changes' is only allowed with decision 'changed'")
        return self


# --- responses ------------------------------------------------------------------------------------


class GapPublic(BaseModel):
    competency_id: str
    current_level: Score = Field(description="Latest assessed level; null if never assessed.")
    required_level: int
    gap: Score
    assessed: bool


class PathStepPublic(BaseModel):
    order: int
    course_id: str
    title: str
    hours_jp: int
    competency_ids: list[str]
    score: Score
    p_complete: Score = Field(description="Predicted chance this employee completes the course.")
    reason_id: str = Field(description="Why this course (Bahasa Indonesia).")
    reason_en: str = Field(description="Why this course (English).")
    prerequisite_for: list[str]
    adapted_for_risk: bool


class AssignedMentorPublic(BaseModel):
    mentor_nip: str
    competency_id: str
    score: Score
    reason_id: str | None = None
    reason_en: str | None = None


class RiskReasonPublic(BaseModel):
    code: str
    detail: str | None = None
    risk_delta: Score = Field(description="How much this behaviour adds to the risk.")
    text_id: str
    text_en: str


class _Recommendation(BaseModel):
    nip: str
    model_version: str = Field(description="Registered version of kompeten-planner that answered.")
    as_of: date = Field(description="The data date the recommendation is based on.")


DATA_CHANGED_DESCRIPTION = (
    "Whether the plan now differs (courses, their order, mentor or JP budget) from the plan the "
    "latest review was made on, e.g. because new data arrived; null without a review or when "
    "that review predates plan digests."
)


class PlanPublic(_Recommendation):
    """A full development plan, as HR systems receive it."""

    jp_budget: int
    gaps: list[GapPublic]
    training_path: list[PathStepPublic]
    total_jp: int = Field(description="JP of the steps listed.")
    mentor: AssignedMentorPublic | None
    participation_risk: Score = Field(description="Chance of dropping or skipping training.")
    risk_note_id: str
    risk_note_en: str

    @classmethod
    def from_plan(cls, plan: dict[str, Any], as_of: date, jp_budget: int, **extra: Any) -> Self:
        """From a `model.planner.DevelopmentPlanner.plan` dict."""
        return cls.model_validate(
            {
                **plan,
                "risk_note_id": plan.get("risk_note_id") or "",
                "risk_note_en": plan.get("risk_note_en") or "",
                "as_of": as_of,
                "jp_budget": jp_budget,
                **extra,
            }
        )


class EmployeePlanPublic(PlanPublic):
    """An employee's plan with what the latest review says about it."""

    data_changed_since_review: bool | None = Field(None, description=DATA_CHANGED_DESCRIPTION)


class TrainingPathPublic(PlanPublic):
    """A plan's training path (possibly cut to `top_k` steps) with the risk's reasons."""

    risk_reasons: list[RiskReasonPublic]
    truncated: bool = Field(description="True when top_k cut the path short.")


class MentorCandidatePublic(BaseModel):
    rank: int
    mentor_nip: str
    competency_id: str
    score: Score = Field(description="Predicted benefit of this mentor for the focus competency.")
    reason_id: str
    reason_en: str


class MentorRankingPublic(_Recommendation):
    competency_id: str | None = Field(description="Focus: the largest weighted gap.")
    mentors: list[MentorCandidatePublic]


class MentorPairPublic(BaseModel):
    mentee_nip: str
    mentor_nip: str
    competency_id: str
    score: Score
    reason_id: str
    reason_en: str


class MentorAssignmentPublic(BaseModel):
    unit_id: str
    unit_name: str
    units: list[str] = Field(description="The unit and its sub-units covered.")
    capacity: int
    model_version: str
    as_of: date
    n_employees: int
    n_assigned: int
    total_score: Score
    pairs: list[MentorPairPublic]


class PlanReviewPublic(BaseModel):
    id: int
    request_id: str
    nip: str
    decision: Decision
    comment: str
    changes: PlanChanges | None
    model_version: str | None
    plan_digest: str | None = Field(
        None,
        description="SHA-256 of the plan decided on (course order, mentor, JP budget); null "
        "for reviews stored before digests were recorded.",
    )
    reviewer_key_id: str
    reviewer_role: str
    created_at: datetime


class PlanReviewsPublic(BaseModel):
    nip: str
    count: int
    reviews: list[PlanReviewPublic]
    data_changed_since_review: bool | None = Field(None, description=DATA_CHANGED_DESCRIPTION)


class ReloadPublic(BaseModel):
    status: Literal["loaded", "unchanged", "failed", "busy"]
    model_version: str | None = Field(description="The version serving after this call.")
    previous_model_version: str | None
    reason: str | None = None
    seconds: float


class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessPublic(BaseModel):
    status: Literal["ready", "not_ready"]
    model_name: str | None = None
    model_version: str | None = None
    as_of: date | None = None
    n_employees: int | None = None
    loaded_at: datetime | None = None
    model_source: Literal["registry", "local_copy"] | None = Field(
        None,
        description="local_copy: the registry was unreachable at start-up and the service "
        "serves the copy of the champion it kept (see model_source_note).",
    )
    model_source_note: str | None = None
    last_error: str | None = None


class PingPublic(BaseModel):
    pong: bool = True


class ErrorPublic(BaseModel):
    detail: str


class RowErrorPublic(BaseModel):
    """One broken rule of an ingested batch: where (file, row, column), what and which rule.

    `row` is the 1-based item of a JSON array, or the CSV line (header = line 1); empty for a
    problem of the whole file or of a row already stored."""

    file: str
    row: int | None
    column: str | None
    value: str | None = Field(description="At most the first 80 characters of the cell.")
    rule: str
    message: str


class TableChangePublic(BaseModel):
    received: int
    inserted: int
    updated: int
    unchanged: int


class IngestPublic(BaseModel):
    """An accepted batch: what it changed, the store's new revision, the plans' refresh."""

    revision: int
    stored: int = Field(description="Rows inserted or updated (0 for a retried batch).")
    tables: dict[str, TableChangePublic]
    employees_affected: int
    warnings: list[RowErrorPublic]
    plans: Literal["recomputed", "scheduled", "unchanged", "failed"] = Field(
        description="recomputed: this worker's plans follow the data already; scheduled: "
        "they are being recomputed now (every worker within KOMPETEN_DATA_POLL_SECONDS)."
    )


class IngestRefusedPublic(BaseModel):
    """A refused batch: nothing of it was stored. (A malformed request, e.g. `wait=maybe`,
    gets the usual request-validation body instead: `detail` as a list, no `errors`.)"""

    detail: str | list[dict[str, Any]]
    error_count: int = 0
    errors: list[RowErrorPublic] = Field(default_factory=list, description="The first 200.")
