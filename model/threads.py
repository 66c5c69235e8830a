"""Limits on the native thread pools (OpenMP, BLAS) that scikit-learn and numpy use.

On two cores, a library's own threads compete with our worker processes and with each other:
most fits and predictions here run faster on one thread. Finding the loaded libraries costs
milliseconds, too much per prediction, so one controller is found once and reused.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def limit_threads(n: int | None, user_api: str | None = None) -> AbstractContextManager:
    """At most `n` threads in the native pools (`user_api` "openmp" or "blas": only those)
    from now until the returned context exits; None: no limit."""
    if n is None:
        return nullcontext()
    return _controller().limit(limits=int(n), user_api=user_api)
