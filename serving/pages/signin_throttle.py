"""A limit on failed sign-ins per client address, so the pages are no oracle for guessing keys.

Per worker process and in memory: keys carry 256 bits, so this does not protect the keys
themselves; it keeps a client from hammering the key check (and the database behind it) and
makes a scan visible in the log. With N workers a client gets at most N times the limit.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

logger = logging.getLogger("kompeten.serving")


class SignInThrottle:
    """At most `max_failures` failed sign-ins per client within `window_s` seconds."""

    def __init__(
        self,
        max_failures: int = 10,
        window_s: float = 300.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        with self._lock:
            now = self._clock()
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            if len(times) == self.max_failures:
                logger.warning(
                    "sign-in: %d failed attempts from one client within %.0f s; refusing it for "
                    "a while",
                    len(times),
                    self.window_s,
                )

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
