"""Limits on the native thread pools (OpenMP, BLAS) that scikit-learn and numpy use.

On two cores, a library's own threads compete with our worker processes and with each other:
most fits and predictions here run faster on one thread. Finding the loaded libraries costs
milliseconds, too much per prediction, so the controller is reused until the process imports
another module (a new native library, e.g. `implicit`'s OpenMP, arrives with an import).
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext

from threadpoolctl import ThreadpoolController

_cached: tuple[int, ThreadpoolController] | None = None


def _controller() -> ThreadpoolController:
    global _cached
    if _cached is None or _cached[0] != len(sys.modules):
        _cached = (len(sys.modules), ThreadpoolController())
    return _cached[1]


def limit_threads(n: int | None, user_api: str | None = None) -> AbstractContextManager:
    """At most `n` threads in the native pools (`user_api` "openmp" or "blas": only those)
    from now until the returned context exits; None: no limit."""
    if n is None:
        return nullcontext()
    return _controller().limit(limits=int(n), user_api=user_api)
