"""Rebuilds after new data are coalesced: a burst of requests costs at most two rebuilds."""

from __future__ import annotations

import asyncio
import threading
import time

from serving.data_refresh import Refresher
from serving.state_holder import ReloadOutcome


class SlowHolder:
    """A holder whose reload takes a while and counts how often it ran."""

    def __init__(self) -> None:
        self.state = None
        self.calls = 0
        self._lock = threading.Lock()

    def reload(self, force: bool = False, timeout: float | None = None) -> ReloadOutcome:
        with self._lock:
            self.calls += 1
        time.sleep(0.2)
        return ReloadOutcome("loaded", "1", "1")


def test_a_burst_of_requests_costs_at_most_two_rebuilds():
    holder = SlowHolder()
    refresher = Refresher(holder)  # type: ignore[arg-type]

    async def burst() -> list[str | None]:
        first = await refresher.request(wait=False)
        await asyncio.sleep(0.05)  # the first rebuild is running now
        waited = await asyncio.gather(*(refresher.request(wait=True) for _ in range(20)))
        return [first, *waited]

    outcomes = asyncio.run(burst())
    assert outcomes[0] is None and set(outcomes[1:]) == {"loaded"}
    assert holder.calls == 2  # the running one, and one after it for all twenty


def test_a_request_waits_for_a_rebuild_that_started_after_it():
    holder = SlowHolder()
    refresher = Refresher(holder)  # type: ignore[arg-type]

    async def sequence() -> tuple[int, int]:
        await refresher.request(wait=True)
        after_first = holder.calls
        await refresher.request(wait=True)
        return after_first, holder.calls

    assert asyncio.run(sequence()) == (1, 2)
