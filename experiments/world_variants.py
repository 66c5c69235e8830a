"""Variant demo worlds: the same generator with other hidden rules, for the variant studies
(`experiments.mentor_world_variants`, `experiments.path_world_variants`).

The demo generator and its truth read their constants at call time, so a variant is a set of
(module, {constant: value}) patches applied for the duration of one study run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from types import ModuleType

#: One variant: the constants to set, per module.
Patches = Sequence[tuple[ModuleType, Mapping[str, object]]]


@contextmanager
def variant_world(patches: Patches) -> Iterator[None]:
    """The generator with `patches` applied, every constant restored after (also on an error)."""
    with ExitStack() as stack:
        for module, changes in patches:
            saved = {key: getattr(module, key) for key in changes}
            stack.callback(_restore, module, saved)
            for key, value in changes.items():
                setattr(module, key, value)
        yield


def _restore(module: ModuleType, saved: Mapping[str, object]) -> None:
    for key, value in saved.items():
        setattr(module, key, value)
