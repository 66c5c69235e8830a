"""The unit tree: sub-units of a unit (manager scope) and planning partitions (exact mentoring)."""

from __future__ import annotations

import pandas as pd

from features import columns as c


def _parents(units: pd.DataFrame) -> dict[str, str | None]:
    return {
        str(u): (None if pd.isna(p) else str(p))
        for u, p in zip(units[c.UNIT_ID], units[c.PARENT_UNIT_ID], strict=True)
    }


def unit_depths(units: pd.DataFrame) -> dict[str, int]:
    """Depth of every unit (roots 0). The contract guarantees the tree has no cycles."""
    parents = _parents(units)
    depth: dict[str, int] = {}
    for unit in parents:
        chain = []
        u: str | None = unit
        while u is not None and u not in depth:
            chain.append(u)
            u = parents.get(u)
        base = -1 if u is None else depth[u]
        for k, v in enumerate(reversed(chain)):
            depth[v] = base + 1 + k
    return depth


def partition_of_units(units: pd.DataFrame, depth: int = 1) -> dict[str, str]:
    """Each unit's ancestor at `depth` (itself when shallower): the planning partition.

    With the city at the root, depth 1 is the kecamatan (or dinas) with all its kelurahan and
    sections: mentoring is assigned exactly within it, and batch jobs split work along it.
    """
    parents = _parents(units)
    depths = unit_depths(units)
    out: dict[str, str] = {}
    for unit in parents:
        u = unit
        while depths[u] > depth:
            u = parents[u]  # type: ignore[assignment]
        out[unit] = u
    return out


def subunits(units: pd.DataFrame, unit_id: str) -> frozenset[str]:
    """The unit and every unit below it (what a manager of `unit_id` may see)."""
    children: dict[str, list[str]] = {}
    for u, p in _parents(units).items():
        if p is not None:
            children.setdefault(p, []).append(u)
    seen = {unit_id}
    stack = [unit_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return frozenset(seen)
