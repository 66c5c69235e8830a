"""One place limits native thread pools: at most n inside the context, as before after it."""

from __future__ import annotations

import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime the boosting models use
from threadpoolctl import threadpool_info

from model.threads import limit_threads


def _threads(user_api: str) -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == user_api]


def test_limit_applies_inside_and_is_undone_after() -> None:
    before = _threads("openmp")
    assert before, "no OpenMP runtime loaded"
    with limit_threads(1, "openmp"):
        assert _threads("openmp") == [1] * len(before)
    assert _threads("openmp") == before


def test_none_means_no_limit() -> None:
    before = _threads("openmp") + _threads("blas")
    with limit_threads(None):
        assert _threads("openmp") + _threads("blas") == before


def test_a_library_imported_later_is_limited_too() -> None:
    with limit_threads(1):  # the controller is found before the import below
        pass
    import implicit.cpu.als  # noqa: F401 - brings the system's OpenMP runtime along

    with limit_threads(1, "openmp"):
        assert set(_threads("openmp")) == {1}
