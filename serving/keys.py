"""API keys: issuing, verifying, revoking, and what each role may do.

A key looks like `kmp_<key id>_<secret>`. The key id is public (it names the key in logs and
review records); the database keeps only the SHA-256 of the whole key, compared in constant
time. Verified keys are trusted for a short TTL in memory so the hot path does not touch the
database; a revoked key stops working within that TTL.

Roles:
- `hr_system`: the HR system; reads every recommendation, plan and review history, and
  sends data (POST /v1/data).
- `manager`: reads recommendations and reviews plans, only for employees of its units and
  their sub-units (403 elsewhere).
- `analyst`: reads everything like `hr_system` and may reload the model.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.db import ApiKeyRecord, utcnow

KEY_PREFIX = "kmp"
_KEY_RE = re.compile(r"^kmp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
# A fixed hash compared against when the key id is unknown, so both paths do the same work.
_DUMMY_HASH = hashlib.sha256(b"kompeten-no-such-key").hexdigest()


class Role(StrEnum):
    HR_SYSTEM = "hr_system"
    ANALYST = "analyst"
    MANAGER = "manager"


#: Roles that read recommendations of any employee (managers: their units only).
READ_ALL = frozenset({Role.HR_SYSTEM, Role.ANALYST})
#: Roles that record plan reviews (a manager decides on the plans of their staff).
REVIEWERS = frozenset({Role.MANAGER})
#: Roles that may reload the model.
RELOADERS = frozenset({Role.ANALYST})
#: Roles that send data (POST /v1/data): the HR system.
INGESTERS = frozenset({Role.HR_SYSTEM})


@dataclass(frozen=True)
class ApiKey:
    """A verified caller."""

    key_id: str
    role: Role
    units: frozenset[str] = frozenset()
    label: str = ""

    @property
    def reads_all(self) -> bool:
        return self.role in READ_ALL


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def generate_key() -> tuple[str, str]:
    """(key id, full key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def parse_key_id(raw: str) -> str | None:
    match = _KEY_RE.match(raw)
    return match.group(1) if match else None


def _record_to_key(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(record.key_id, Role(record.role), frozenset(record.units or ()), record.label)


def create_key(
    session: Session, role: Role | str, units: Iterable[str] = (), label: str = ""
) -> tuple[ApiKey, str]:
    """Store a new key's hash and return (key, full key). The full key is never stored."""
    role = Role(role)
    unit_list = sorted({u.strip() for u in units if u and u.strip()})
    if role is Role.MANAGER and not unit_list:
        raise ValueError("a manager key needs at least one unit (--unit)")
    if role is not Role.MANAGER and unit_list:
        raise ValueError(f"units only apply to manager keys, not {role.value}")
    key_id, raw = generate_key()
    record = ApiKeyRecord(
        key_id=key_id, key_hash=hash_key(raw), role=role.value, units=unit_list, label=label
    )
    session.add(record)
    session.commit()
    return _record_to_key(record), raw


def revoke_key(session: Session, key_id: str) -> bool:
    """Mark a key revoked; False if there is no such active key."""
    record = session.get(ApiKeyRecord, key_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    session.commit()
    return True


def list_keys(session: Session) -> list[ApiKeyRecord]:
    return list(session.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.created_at)))


def verify_key(session: Session, raw: str) -> ApiKey | None:
    """The key's owner if `raw` is a valid, unrevoked key; None otherwise."""
    key_id = parse_key_id(raw)
    record = session.get(ApiKeyRecord, key_id) if key_id else None
    stored = record.key_hash if record is not None else _DUMMY_HASH
    ok = hmac.compare_digest(hash_key(raw), stored)
    if record is None or not ok or record.revoked_at is not None:
        return None
    return _record_to_key(record)


class KeyStore:
    """Verifies keys against the database, remembering good ones for `ttl` seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def cached(self, raw: str) -> ApiKey | None:
        """The key if verified less than `ttl` ago (no database access)."""
        entry = self._cache.get(hash_key(raw))
        if entry is None or entry[1] < self.clock():
            return None
        return entry[0]

    def verify(self, raw: str) -> ApiKey | None:
        """Verify against the database (blocking: call from a worker thread)."""
        with self.sessions() as session:
            key = verify_key(session, raw)
        if key is None:
            with self._lock:
                self._cache.pop(hash_key(raw), None)
        elif self.ttl > 0:
            with self._lock:
                if len(self._cache) >= self.max_entries:
                    now = self.clock()
                    self._cache = {k: v for k, v in self._cache.items() if v[1] >= now}
                    if len(self._cache) >= self.max_entries:
                        self._cache.clear()
                self._cache[hash_key(raw)] = (key, self.clock() + self.ttl)
        return key

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
