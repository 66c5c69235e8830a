"""A plan as its manager left it: the model's plan with every recorded change applied, and the
plan's status, both read from the review history the API writes (`serving.db.PlanReviewRecord`).

Rules (the API stores decisions; these say what they mean for the plan shown and exported):
- status: the latest decision (`approved`, `rejected`, `changed`), `new` without any;
- each `changed` decision edits the plan as it stood at that moment: its removed courses go,
  its added courses join at the end (in the order given), and, when the schema carries a
  course order, the listed courses move to the front in that order;
- the latest `jp_budget` / `mentor_nip` set in a change replaces the model's budget / mentor.
Changes survive later decisions: "change, then approve" approves the changed plan.

Each decision also stores the digest of the model's plan it was made on (`plan_digest`): when
the data or the model changed the plan since, the plan is marked as changed since the review.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from features import columns as c
from serving.db import PlanReviewRecord, as_utc
from serving.schemas import Decision, PlanChanges

STATUS_NEW = "new"
STATUSES = (STATUS_NEW, Decision.APPROVED.value, Decision.CHANGED.value, Decision.REJECTED.value)
#: The PlanChanges field that carries a manager's course order; reordering is offered when the
#: API schema has it.
REORDER_FIELD = "course_order"
SUPPORTS_REORDER = REORDER_FIELD in PlanChanges.model_fields
ADDED_REASON_ID = "Ditambahkan oleh atasan."
ADDED_REASON_EN = "Added by the manager."
#: NIPs per IN (...) query: well under every database's bound-parameter limit.
_QUERY_CHUNK = 900


@dataclass(frozen=True)
class ReviewEntry:
    """One stored decision, detached from the database session."""

    id: int
    request_id: str
    key_id: str
    role: str
    nip: str
    decision: str
    comment: str
    changes: Mapping[str, Any] | None
    model_version: str | None
    created_at: datetime
    plan_digest: str | None = None

    @classmethod
    def of(cls, record: PlanReviewRecord) -> ReviewEntry:
        return cls(
            id=int(record.id),
            request_id=record.request_id,
            key_id=record.key_id,
            role=record.role,
            nip=record.nip,
            decision=record.decision,
            comment=record.comment or "",
            changes=dict(record.changes) if record.changes else None,
            model_version=record.model_version,
            created_at=as_utc(record.created_at),
            plan_digest=record.plan_digest,
        )


def plan_digest(plan: Mapping[str, Any], jp_budget: int) -> str:
    """SHA-256 (hex) of what a manager decides on in a model's plan: the ordered course ids of
    the training path, the mentor's NIP (if any) and the JP budget the path was built for.

    Scores, reasons and texts are left out: a new model that words a reason differently has not
    changed the plan. Stable across processes and Python versions (canonical JSON).
    """
    mentor = plan.get("mentor") or {}
    content = {
        "course_ids": [str(s[c.COURSE_ID]) for s in plan.get("training_path") or ()],
        "mentor_nip": None if not mentor.get("mentor_nip") else str(mentor["mentor_nip"]),
        "jp_budget": int(jp_budget),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def data_changed(digest: str | None, current: str | None) -> bool | None:
    """Whether the plan now differs from the one reviewed; None without a reviewed digest
    (no review, or one stored before digests were recorded)."""
    if digest is None or current is None:
        return None
    return digest != current


def fetch_reviews(session: Session, nips: Sequence[str]) -> dict[str, list[ReviewEntry]]:
    """Every stored decision on these employees' plans, oldest first, per NIP."""
    out: dict[str, list[ReviewEntry]] = {}
    unique = list(dict.fromkeys(nips))
    for lo in range(0, len(unique), _QUERY_CHUNK):
        chunk = unique[lo : lo + _QUERY_CHUNK]
        records = session.scalars(
            select(PlanReviewRecord)
            .where(PlanReviewRecord.nip.in_(chunk))
            .order_by(PlanReviewRecord.created_at, PlanReviewRecord.id)
        )
        for record in records:
            out.setdefault(record.nip, []).append(ReviewEntry.of(record))
    for entries in out.values():
        entries.sort(key=lambda e: (e.created_at, e.id))
    return out


def plan_status(reviews: Sequence[ReviewEntry]) -> str:
    return reviews[-1].decision if reviews else STATUS_NEW


def _changes(reviews: Sequence[ReviewEntry]) -> list[Mapping[str, Any]]:
    return [r.changes for r in reviews if r.decision == Decision.CHANGED.value and r.changes]


def changed_budget(reviews: Sequence[ReviewEntry]) -> int | None:
    """The JP budget the latest change set, if any."""
    budget = None
    for change in _changes(reviews):
        if change.get("jp_budget") is not None:
            budget = int(change["jp_budget"])
    return budget


def changed_mentor(reviews: Sequence[ReviewEntry]) -> str | None:
    mentor = None
    for change in _changes(reviews):
        if change.get("mentor_nip"):
            mentor = str(change["mentor_nip"])
    return mentor


def added_step(info: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog course a manager added, in the shape of a planner step."""
    return {
        "order": 0,
        c.COURSE_ID: str(info[c.COURSE_ID]),
        "title": str(info.get(c.TITLE, "")),
        c.HOURS_JP: int(info.get(c.HOURS_JP) or 0),
        "competency_ids": list(info.get("competency_ids") or ()),
        "score": None,
        "p_complete": None,
        "reason_id": ADDED_REASON_ID,
        "reason_en": ADDED_REASON_EN,
        "prerequisite_for": [],
        "adapted_for_risk": False,
        "added_by_manager": True,
    }


def apply_changes(
    steps: Sequence[Mapping[str, Any]],
    reviews: Sequence[ReviewEntry],
    course_info: Callable[[str], Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """The model's steps with every `changed` decision applied in order (copies; renumbered).

    A course id the catalog no longer knows is kept with its id as title, so an old review
    never silently loses what the manager decided.
    """
    path = [dict(s) for s in steps]
    for change in _changes(reviews):
        path = apply_change(path, change, course_info)
    for i, step in enumerate(path, start=1):
        step["order"] = i
    return path


def apply_change(
    path: Sequence[dict[str, Any]],
    change: Mapping[str, Any],
    course_info: Callable[[str], Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """One change on a path: removed courses go, added ones join at the end, then the order.

    Steps are not renumbered (`apply_changes` does that once at the end).
    """
    removed = set(change.get("remove_course_ids") or ())
    out = [s for s in path if s[c.COURSE_ID] not in removed]
    present = {s[c.COURSE_ID] for s in out}
    for course_id in change.get("add_course_ids") or ():
        if course_id in present:
            continue
        info = course_info(course_id) or {c.COURSE_ID: course_id, c.TITLE: course_id}
        out.append(added_step(info))
        present.add(course_id)
    order = change.get(REORDER_FIELD) or ()
    if order:
        rank = {cid: i for i, cid in enumerate(order)}
        out.sort(key=lambda s: rank.get(s[c.COURSE_ID], len(rank)))
    return out


@dataclass(frozen=True)
class EffectivePlan:
    """The plan a manager sees and the training unit receives."""

    nip: str
    status: str
    reviews: tuple[ReviewEntry, ...]
    plan: Mapping[str, Any]  # the model's plan (read-only, shared with the state's cache)
    steps: list[dict[str, Any]]
    jp_budget: int
    mentor_nip: str | None
    mentor_changed: bool

    @property
    def total_jp(self) -> int:
        return int(sum(int(s[c.HOURS_JP]) for s in self.steps))

    @property
    def decided_at(self) -> datetime | None:
        return self.reviews[-1].created_at if self.reviews else None

    @property
    def data_changed_since_review(self) -> bool | None:
        """The latest review was made on another plan than the model's plan now (None: no
        review, or a review stored before plan digests were recorded)."""
        if not self.reviews:
            return None
        return data_changed(self.reviews[-1].plan_digest, plan_digest(self.plan, self.jp_budget))

    @property
    def changed(self) -> bool:
        return any(r.decision == Decision.CHANGED.value for r in self.reviews)


def effective_plan(
    state: Any,
    nip: str,
    reviews: Sequence[ReviewEntry],
    course_info: Callable[[str], Mapping[str, Any] | None],
) -> EffectivePlan:
    """The model's plan for `nip` (at the budget a manager set, if any) with the changes applied.

    Blocking when the plan is not cached (another budget): call from a worker thread.
    """
    budget = changed_budget(reviews)
    plan = state.cached_plan(nip, budget) or state.plan(nip, budget)
    mentor = changed_mentor(reviews)
    model_mentor = (plan.get("mentor") or {}).get("mentor_nip")
    return EffectivePlan(
        nip=nip,
        status=plan_status(reviews),
        reviews=tuple(reviews),
        plan=plan,
        steps=apply_changes(plan["training_path"], reviews, course_info),
        jp_budget=state.default_jp_budget if budget is None else budget,
        mentor_nip=mentor or model_mentor,
        mentor_changed=mentor is not None and mentor != model_mentor,
    )
