"""The latest review of every employee, in memory, for the plan GET's `data_changed_since_review`.

The plan GET is answered from a body serialised at load (`serving.state.DefaultAnswer`); a
database query per request would cost more than the whole answer. So each worker keeps, per
NIP, the digest of the latest review and the JP budget the reviews set, and refreshes it with
one incremental query (rows with an id above what it has seen, minus an overlap for inserts
that commit out of id order on PostgreSQL) when it is older than `REFRESH_SECONDS`, or at once
after this worker stored a review (`expire`). A review stored by another worker shows within
`REFRESH_SECONDS`. Refreshing is blocking: the handlers run it in a worker thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.db import PlanReviewRecord, as_utc
from serving.schemas import Decision
from serving.services.plans import data_changed, plan_digest

#: How stale a worker's copy may get before the next plan GET refreshes it.
REFRESH_SECONDS = 2.0
#: Ids below the highest seen that are read again (reviews committed out of id order).
ID_OVERLAP = 1_000


@dataclass(frozen=True)
class Latest:
    """What the plan GET needs of an employee's reviews."""

    digest: str | None
    #: The JP budget the latest `changed` review that set one set (None: the default).
    jp_budget: int | None


class LatestReviews:
    """Per-NIP latest review digest and changed budget, refreshed incrementally."""

    def __init__(self, sessions: sessionmaker[Session], refresh_seconds: float = REFRESH_SECONDS):
        self.sessions = sessions
        self.refresh_seconds = float(refresh_seconds)
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[tuple[datetime, int], str | None]] = {}
        self._budget: dict[str, tuple[tuple[datetime, int], int]] = {}
        self._max_id = 0
        self._refreshed = float("-inf")

    def fresh(self) -> bool:
        return time.monotonic() - self._refreshed < self.refresh_seconds

    def expire(self) -> None:
        """This worker stored a review: the next plan GET refreshes first."""
        self._refreshed = float("-inf")

    def get(self, nip: str) -> Latest | None:
        """The employee's latest review (None: never reviewed). Cheap: a dict lookup."""
        found = self._latest.get(nip)
        if found is None:
            return None
        budget = self._budget.get(nip)
        return Latest(found[1], None if budget is None else budget[1])

    def refresh(self) -> None:
        """Read the reviews stored since the last refresh (all of them the first time)."""
        with self._lock:
            started = time.monotonic()
            since = max(0, self._max_id - ID_OVERLAP)
            with self.sessions() as session:
                rows = session.execute(
                    select(
                        PlanReviewRecord.id,
                        PlanReviewRecord.nip,
                        PlanReviewRecord.created_at,
                        PlanReviewRecord.plan_digest,
                        PlanReviewRecord.decision,
                        PlanReviewRecord.changes,
                    ).where(PlanReviewRecord.id > since)
                ).all()
            for row_id, nip, created_at, digest, decision, changes in rows:
                order = (as_utc(created_at), int(row_id))
                seen = self._latest.get(nip)
                if seen is None or order >= seen[0]:
                    self._latest[nip] = (order, digest)
                budget = (changes or {}).get("jp_budget")
                if decision == Decision.CHANGED.value and budget is not None:
                    had = self._budget.get(nip)
                    if had is None or order >= had[0]:
                        self._budget[nip] = (order, int(budget))
                self._max_id = max(self._max_id, int(row_id))
            self._refreshed = started


def of_app(app: Any) -> LatestReviews:
    """The app's index (made on first use from the app's session factory)."""
    index = getattr(app.state, "latest_reviews", None)
    if index is None or index.sessions is not app.state.sessions:
        index = LatestReviews(app.state.sessions)
        app.state.latest_reviews = index
    return index


FLAG_JSON = {None: b"null", True: b"true", False: b"false"}


def cached_flag(state: Any, nip: str, latest: Latest | None) -> bytes | None:
    """`data_changed_since_review` as JSON, from memory only; None when the plan at the
    reviews' budget is not cached (the caller then takes the general path)."""
    if latest is None or latest.digest is None:
        return FLAG_JSON[None]
    plan = state.cached_plan(nip, latest.jp_budget)
    if plan is None:
        return None
    budget = state.default_jp_budget if latest.jp_budget is None else latest.jp_budget
    return FLAG_JSON[data_changed(latest.digest, plan_digest(plan, budget))]


def with_flag(plan_body: bytes, flag: bytes) -> bytes:
    """A serialised `PlanPublic` body as `EmployeePlanPublic` (the flag as its last field)."""
    return plan_body[:-1] + b',"data_changed_since_review":' + flag + b"}"
