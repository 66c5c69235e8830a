"""Plans that follow the data without piling up rebuilds: one rebuild at a time, coalesced.

Each ingest (and each new store revision the poll sees) asks for the serving state to be
rebuilt from the store. A rebuild takes about a second on the demo; an HR system sending a
batch per employee would otherwise queue one rebuild per batch. Here a request made while a
rebuild runs is served by one more rebuild after it, however many requests came meanwhile.
Runs on the event loop (the counters need no lock); the rebuild itself runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging

from serving.state_holder import ReloadStatus, StateHolder

logger = logging.getLogger("kompeten.serving")


class Refresher:
    """Asks `holder` to reload after data changed; `request()` can wait for its rebuild."""

    def __init__(self, holder: StateHolder) -> None:
        self.holder = holder
        self._requested = 0
        self._completed = 0
        self._last: ReloadStatus = "unchanged"
        self._task: asyncio.Task[None] | None = None
        self._changed: asyncio.Condition | None = None
        self.rebuilds = 0

    async def request(self, wait: bool = False) -> ReloadStatus | None:
        """Ask for a rebuild that starts after now; with `wait`, its outcome (else None)."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        self._requested += 1
        target = self._requested
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        if not wait:
            return None
        async with self._changed:
            await self._changed.wait_for(lambda: self._completed >= target)
        return self._last

    async def _run(self) -> None:
        assert self._changed is not None
        while self._completed < self._requested:
            target = self._requested
            try:
                outcome = await asyncio.to_thread(self.holder.reload, False, None)
                self._last = outcome.status
            except Exception:  # reload() reports its own failures; this is a last guard
                logger.exception("rebuild after new data failed")
                self._last = "failed"
            self.rebuilds += 1
            self._completed = target
            async with self._changed:
                self._changed.notify_all()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
