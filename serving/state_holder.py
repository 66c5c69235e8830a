"""The one reference to the serving state, and reloads that replace it atomically.

A reload builds a whole new `serving.state.ServingState` off the request path (through a
`StateSource`: the MLflow registry and the dataset store in production, fixtures in tests) and
swaps the reference in a single assignment, so a request sees either the old state or the new
one, never a mix. A failed reload leaves the old state serving.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NamedTuple, Protocol

from serving.state import ServingState

logger = logging.getLogger("kompeten.serving")

_NIP_RUN = re.compile(r"(?<!\d)\d{18}(?!\d)")


def redact(text: str, limit: int = 300) -> str:
    """An error message safe to return and log: NIP-shaped runs masked, length capped."""
    text = _NIP_RUN.sub("<nip>", " ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Signature(NamedTuple):
    """What identifies a state: the champion's version and the dataset's fingerprint."""

    model_version: str
    data_signature: str


class StateSource(Protocol):
    """Where states come from (MLflow + the dataset store in production, fixtures in tests)."""

    def signature(self) -> Signature:
        """The current champion version and data fingerprint (cheap; may raise)."""
        ...

    def load(self, signature: Signature, previous: ServingState | None) -> ServingState:
        """A complete new state for `signature` (may reuse the previous model object)."""
        ...


ReloadStatus = Literal["loaded", "unchanged", "failed", "busy"]


@dataclass(frozen=True)
class ReloadOutcome:
    status: ReloadStatus
    model_version: str | None
    previous_model_version: str | None
    reason: str | None = None
    seconds: float = 0.0


class StateHolder:
    """The one reference to the serving state, and the serialised way to replace it."""

    def __init__(self, source: StateSource) -> None:
        self.source = source
        self._state: ServingState | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.last_checked: datetime | None = None
        self.on_swap: list[Callable[[ServingState], None]] = []

    @property
    def state(self) -> ServingState | None:
        return self._state

    def reload(self, force: bool = False, timeout: float | None = None) -> ReloadOutcome:
        """Load a new state when the champion or the data changed (or `force`), then swap.

        Runs in a worker thread (never on the event loop). A reload already in progress is
        waited for up to `timeout` seconds (None: as long as it takes; 0: not at all), then
        this returns `busy`.
        """
        acquired = (
            self._lock.acquire()
            if timeout is None
            else self._lock.acquire(timeout=timeout)
            if timeout > 0
            else self._lock.acquire(blocking=False)
        )
        if not acquired:
            current = self._state
            return ReloadOutcome(
                "busy",
                current.model_version if current else None,
                current.model_version if current else None,
                "another reload is in progress",
            )
        start = time.perf_counter()
        previous = self._state
        before = previous.model_version if previous else None
        try:
            self.last_checked = datetime.now(UTC)
            signature = self.source.signature()
            if (
                not force
                and previous is not None
                and (previous.model_version, previous.data_signature) == tuple(signature)
            ):
                return ReloadOutcome("unchanged", before, before)
            new = self.source.load(signature, previous)
            self._state = new  # the swap: one reference assignment
            self.last_error = None
            previous = None  # the old state may now be freed, before the heap is settled
            for callback in self.on_swap:
                try:
                    callback(new)
                except Exception:  # a listener must not undo a good reload
                    logger.exception("state swap listener failed")
            settle_heap()
            seconds = time.perf_counter() - start
            logger.info(
                "serving model %s version %s (data %s, as_of %s) loaded in %.1f s",
                new.model_name,
                new.model_version,
                new.data_signature,
                new.as_of.date(),
                seconds,
            )
            return ReloadOutcome("loaded", new.model_version, before, None, seconds)
        except Exception as exc:
            reason = describe_failure(exc)
            # The poll retries every few seconds while MLflow is down: say it once, not each time.
            log = logger.debug if reason == self.last_error else logger.warning
            log("reload failed, still serving version %s: %s", before, reason)
            self.last_error = reason
            return ReloadOutcome("failed", before, before, reason, time.perf_counter() - start)
        finally:
            self._lock.release()


def settle_heap() -> None:
    """Take the serving state out of the cyclic garbage collector's way, after each swap.

    A state is hundreds of thousands of long-lived objects (frames, plans, bodies, the model)
    and each full collection walked them all: a pause of ~0.4 s under load on the demo, the
    worst tail latency of the service. Frozen objects are skipped by later collections and
    still freed by reference counting when a newer state replaces them (a dropped state, model
    included, leaves no reference cycles behind: measured). The collection first frees the
    load's own garbage; it only walks what was created since the previous freeze.
    """
    gc.collect()
    gc.freeze()


def describe_failure(exc: BaseException) -> str:
    """A short reason for a failed load: what failed, without data values or tracebacks."""
    violations = getattr(exc, "violations", None)
    if violations is not None:
        return (
            f"the dataset breaks the data contract ({len(violations)} violation(s)); "
            "run `kompeten validate` on the data folder"
        )
    return redact(f"{type(exc).__name__}: {exc}")
