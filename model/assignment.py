"""Exact capacity-constrained mentor assignment: a maximum-weight bipartite b-matching.

Each mentee gets at most one mentor, each mentor at most ``capacity`` mentees, only candidate
pairs with a positive predicted benefit are used, and the total benefit is maximised exactly.
Greedy (best pair first) is kept only as a baseline: it can lose a lot when a mentor is the best
choice of several mentees and the second-best choices differ in quality.

Method: mentor ``j`` becomes ``min(capacity_j, degree_j)`` identical slots, which turns the
b-matching into a rectangular assignment problem. The candidate graph is split into connected
components; a component where no mentor can be over-subscribed is solved by each mentee taking
its best mentor, small components by dense ``scipy.optimize.linear_sum_assignment`` (non-edges
are worth 0, i.e. "stay unmatched"), large ones by sparse LAPJVsp
(``scipy.sparse.csgraph.min_weight_full_bipartite_matching``) with a zero-benefit dummy partner
per vertex of the smaller side so that a full matching always exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from features import columns as c

#: Predicted benefit of a (mentee, mentor) pair, the quantity the assignment maximises.
BENEFIT = "benefit"
DEFAULT_CAPACITY = 3
#: Components up to this many cells (mentees x slots) are solved densely.
DENSE_MAX_CELLS = 250_000

Method = Literal["auto", "dense", "sparse"]


def assign(
    candidates: pd.DataFrame,
    capacity: int | Mapping[str, int] = DEFAULT_CAPACITY,
    *,
    default_capacity: int = DEFAULT_CAPACITY,
    col_mentee: str = c.MENTEE_NIP,
    col_mentor: str = c.MENTOR_NIP,
    col_benefit: str = BENEFIT,
    method: Method = "auto",
) -> pd.DataFrame:
    """Choose the pairs that maximise total benefit under the capacity constraints, exactly.

    Parameters
    ----------
    candidates
        One row per eligible (mentee, mentor) pair with its predicted benefit; other columns
        are carried through. A pair may appear once; benefits must not be NaN.
    capacity
        Mentees per mentor: one number for all, or a mapping mentor -> capacity (mentors it
        does not name get ``default_capacity``). Subtract ongoing mentorships before calling.
    method
        ``"auto"`` picks per component; ``"dense"``/``"sparse"`` force one solver (tests).

    Returns
    -------
    DataFrame
        The chosen rows of ``candidates``, sorted by mentee then mentor. Pairs with a
        non-positive benefit are never chosen. For the same set of candidate rows the result
        is the same whatever their order (ties resolve the same way).

    Examples
    --------
    >>> cand = pd.DataFrame({"mentee_nip": ["a", "a", "b"], "mentor_nip": ["x", "y", "x"],
    ...                      "benefit": [3.0, 2.0, 2.5]})
    >>> assign(cand, capacity=1)[["mentee_nip", "mentor_nip"]].to_numpy().tolist()
    [['a', 'y'], ['b', 'x']]
    """
    graph = _Graph.build(
        candidates, capacity, default_capacity, col_mentee, col_mentor, col_benefit
    )
    chosen = graph.solve(method)
    return _chosen_rows(candidates, graph.source_rows[chosen], col_mentee, col_mentor)


def greedy_assign(
    candidates: pd.DataFrame,
    capacity: int | Mapping[str, int] = DEFAULT_CAPACITY,
    *,
    default_capacity: int = DEFAULT_CAPACITY,
    col_mentee: str = c.MENTEE_NIP,
    col_mentor: str = c.MENTOR_NIP,
    col_benefit: str = BENEFIT,
) -> pd.DataFrame:
    """Best pair first while capacity lasts: a baseline for benchmarks, not for production."""
    graph = _Graph.build(
        candidates, capacity, default_capacity, col_mentee, col_mentor, col_benefit
    )
    order = np.lexsort((graph.mentor, graph.mentee, -graph.benefit))
    used = [False] * graph.n_mentees
    load = [0] * graph.n_mentors
    cap = graph.capacity.tolist()
    most = min(graph.n_mentees, sum(cap))
    chosen: list[int] = []
    edges = zip(
        order.tolist(), graph.mentee[order].tolist(), graph.mentor[order].tolist(), strict=True
    )
    for edge, e, m in edges:
        if len(chosen) == most:
            break
        if not used[e] and load[m] < cap[m]:
            used[e] = True
            load[m] += 1
            chosen.append(edge)
    rows = graph.source_rows[np.asarray(chosen, dtype=np.int64)]
    return _chosen_rows(candidates, rows, col_mentee, col_mentor)


def assignment_value(assignment: pd.DataFrame, *, col_benefit: str = BENEFIT) -> float:
    """Total benefit of an assignment (the objective)."""
    return float(assignment[col_benefit].to_numpy(dtype="float64").sum())


# --- internals ----------------------------------------------------------------------------


class _Graph:
    """The positive-benefit candidate edges as integer arrays, in a canonical order."""

    def __init__(
        self,
        mentee: np.ndarray,
        mentor: np.ndarray,
        benefit: np.ndarray,
        capacity: np.ndarray,
        source_rows: np.ndarray,
    ) -> None:
        self.mentee, self.mentor, self.benefit = mentee, mentor, benefit
        self.capacity, self.source_rows = capacity, source_rows
        self.n_mentees = int(mentee.max()) + 1 if len(mentee) else 0
        self.n_mentors = len(capacity)

    @classmethod
    def build(
        cls,
        candidates: pd.DataFrame,
        capacity: int | Mapping[str, int],
        default_capacity: int,
        col_mentee: str,
        col_mentor: str,
        col_benefit: str,
    ) -> _Graph:
        missing = [k for k in (col_mentee, col_mentor, col_benefit) if k not in candidates]
        if missing:
            raise ValueError(f"candidates: missing columns {missing}")
        benefit = candidates[col_benefit].to_numpy(dtype="float64", na_value=np.nan)
        if np.isnan(benefit).any():
            raise ValueError(f"candidates: {col_benefit} has missing values")
        if candidates[[col_mentee, col_mentor]].isna().any().any():
            raise ValueError("candidates: missing mentee or mentor")
        if candidates.duplicated([col_mentee, col_mentor]).any():
            raise ValueError("candidates: a (mentee, mentor) pair appears more than once")

        positive = np.flatnonzero(benefit > 0)
        mentee, _ = pd.factorize(candidates[col_mentee].to_numpy()[positive], sort=True)
        mentor, mentor_ids = pd.factorize(candidates[col_mentor].to_numpy()[positive], sort=True)
        cap = _capacities(capacity, default_capacity, mentor_ids)
        served = cap[mentor] > 0
        positive, mentee, mentor = positive[served], mentee[served], mentor[served]
        # Canonical edge order (by mentee, then mentor) makes ties independent of row order.
        order = np.lexsort((mentor, mentee))
        return cls(
            mentee[order].astype(np.int64),
            mentor[order].astype(np.int64),
            benefit[positive[order]],
            cap,
            positive[order],
        )

    def solve(self, method: Method) -> np.ndarray:
        """Indices of the chosen edges."""
        if len(self.mentee) == 0:
            return np.array([], dtype=np.int64)
        n_nodes = self.n_mentees + self.n_mentors
        adjacency = coo_array(
            (np.ones(len(self.mentee)), (self.mentee, self.n_mentees + self.mentor)),
            shape=(n_nodes, n_nodes),
        )
        _, label = connected_components(adjacency, directed=False)
        edge_label = label[self.mentee]
        degree = np.bincount(self.mentor, minlength=self.n_mentors)

        chosen = []
        todo = np.ones(len(self.mentee), dtype=bool)
        if method == "auto":
            # A component where every mentor can take all its candidates has no conflict:
            # each mentee simply takes its best mentor.
            tight = degree > self.capacity
            tight_label = np.unique(label[self.n_mentees :][tight])
            free = ~np.isin(edge_label, tight_label)
            chosen.append(_best_per_mentee(np.flatnonzero(free), self.mentee, self.benefit))
            todo &= ~free

        edges = np.flatnonzero(todo)
        edges = edges[np.argsort(edge_label[edges], kind="stable")]
        bounds = np.flatnonzero(np.diff(edge_label[edges])) + 1
        for group in np.split(edges, bounds):
            if len(group):
                chosen.append(self._solve_component(group, degree, method))
        return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)

    def _solve_component(self, edges: np.ndarray, degree: np.ndarray, method: Method) -> np.ndarray:
        rows, row_of = np.unique(self.mentee[edges], return_inverse=True)
        mentors, col_of = np.unique(self.mentor[edges], return_inverse=True)
        slots = np.minimum(self.capacity[mentors], degree[mentors])
        first_slot = np.r_[0, np.cumsum(slots)[:-1]]
        n_slots = int(slots.sum())
        # Every edge is repeated over its mentor's slots.
        reps = slots[col_of]
        edge_rep = np.repeat(np.arange(len(edges)), reps)
        within = np.arange(len(edge_rep)) - np.repeat(np.cumsum(reps) - reps, reps)
        slot = first_slot[col_of][edge_rep] + within
        row = row_of[edge_rep]
        weight = self.benefit[edges][edge_rep]
        slot_owner = np.repeat(np.arange(len(mentors)), slots)

        dense = method == "dense" or (method == "auto" and len(rows) * n_slots <= DENSE_MAX_CELLS)
        if dense:
            matrix = np.zeros((len(rows), n_slots))
            matrix[row, slot] = weight
            r, s = linear_sum_assignment(matrix, maximize=True)
            matched = matrix[r, s] > 0
            r, s = r[matched], s[matched]
        else:
            r, s = _sparse_matching(row, slot, weight, len(rows), n_slots)
        # Map (row, slot) back to the edge joining that mentee and the slot's mentor.
        key = row_of * len(mentors) + col_of
        lookup = pd.Index(key).get_indexer(r * len(mentors) + slot_owner[s])
        return edges[lookup]


def _sparse_matching(
    row: np.ndarray, slot: np.ndarray, weight: np.ndarray, n_rows: int, n_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-weight matching of mentees (rows) to slots via LAPJVsp; returns matched pairs.

    The smaller side is put on the solver's rows, each given a private dummy partner that means
    "stay unmatched" (benefit 0): a full matching then always exists, and LAPJVsp, which
    augments once per row, does the fewest augmentations (5x faster when slots are scarce).
    Every row is matched exactly once, so shifting all weights by ``-shift`` keeps the optimum
    and keeps every weight non-zero, as LAPJVsp requires.
    """
    shift = float(weight.max())
    by_slot = n_slots < n_rows
    left, right = (slot, row) if by_slot else (row, slot)
    n_left, n_right = (n_slots, n_rows) if by_slot else (n_rows, n_slots)
    dummy = np.arange(n_left)
    graph = csr_array(
        (
            np.r_[-(weight + shift), np.full(n_left, -shift)],
            (np.r_[left, dummy], np.r_[right, n_right + dummy]),
        ),
        shape=(n_left, n_right + n_left),
    )
    a, b = min_weight_full_bipartite_matching(graph)
    real = b < n_right
    a, b = a[real], b[real]
    return (b, a) if by_slot else (a, b)


def _capacities(
    capacity: int | Mapping[str, int], default: int, mentor_ids: pd.Index | np.ndarray
) -> np.ndarray:
    if isinstance(capacity, Mapping | pd.Series):
        get = capacity.get
        cap = np.array([get(m, default) for m in mentor_ids], dtype=np.int64)
    else:
        cap = np.full(len(mentor_ids), int(capacity), dtype=np.int64)
    if (cap < 0).any():
        raise ValueError("capacity must not be negative")
    return cap


def _best_per_mentee(edges: np.ndarray, mentee: np.ndarray, benefit: np.ndarray) -> np.ndarray:
    """Per mentee the highest-benefit edge (ties: the earlier edge, i.e. the lower mentor)."""
    if len(edges) == 0:
        return edges
    order = np.lexsort((edges, -benefit[edges], mentee[edges]))
    ranked = edges[order]
    first = np.r_[True, mentee[ranked][1:] != mentee[ranked][:-1]]
    return ranked[first]


def _chosen_rows(
    candidates: pd.DataFrame, rows: np.ndarray, col_mentee: str, col_mentor: str
) -> pd.DataFrame:
    out = candidates.iloc[np.sort(rows)]
    return out.sort_values([col_mentee, col_mentor], kind="stable").reset_index(drop=True)
