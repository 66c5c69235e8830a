"""Every employee's path inputs (`model.planner.PathInput`) packed into a few flat arrays.

A service computes candidate scores, P(complete) and expected gains once per model and data
version; a request then only builds the path for its own budget and options. Keeping one small
numpy array per employee and field would cost ~100 bytes of header each; here the candidates of
all employees share four arrays (CSR: employee i owns rows ``ptr[i]:ptr[i + 1]`` and gain
entries ``gain_ptr[i]:gain_ptr[i + 1]``), and `entry(nip)` hands out views, not copies, so the
path built from an entry is the one the planner builds from the unpacked input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from model.path_inputs import Candidates, EmployeeState
from model.planner import PathInput


class PathTable:
    """Path inputs by NIP, packed; read-only after construction (shared by request threads)."""

    __slots__ = (
        "_row",
        "_states",
        "_risk",
        "_participation",
        "_ptr",
        "_gain_ptr",
        "_course",
        "_p",
        "_gain",
        "_score",
    )

    def __init__(self, inputs: Mapping[str, PathInput] | Iterable[tuple[str, PathInput]]) -> None:
        items = list(inputs.items() if isinstance(inputs, Mapping) else inputs)
        self._row = {nip: i for i, (nip, _) in enumerate(items)}
        if len(self._row) != len(items):
            raise ValueError("an NIP appears twice")
        self._states: list[EmployeeState] = [entry.state for _, entry in items]
        self._risk = np.array(
            [np.nan if entry.risk is None else float(entry.risk) for _, entry in items],
            dtype=np.float64,
        )
        self._participation = np.array(
            [float(entry.participation_risk) for _, entry in items], dtype=np.float64
        )
        cands = [entry.candidates for _, entry in items]
        self._ptr = _offsets(len(cd.course_idx) for cd in cands)
        self._gain_ptr = _offsets(len(cd.gain) for cd in cands)
        self._course = _concat([cd.course_idx for cd in cands], np.int64)
        self._p = _concat([cd.p_complete for cd in cands], np.float64)
        self._gain = _concat([cd.gain for cd in cands], np.float64)
        self._score = _concat([cd.score for cd in cands], np.float64)

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, nip: object) -> bool:
        return nip in self._row

    def entry(self, nip: str) -> PathInput | None:
        """The path input of `nip` (arrays are views into the table), or None."""
        i = self._row.get(nip)
        if i is None:
            return None
        a, b = int(self._ptr[i]), int(self._ptr[i + 1])
        ga, gb = int(self._gain_ptr[i]), int(self._gain_ptr[i + 1])
        cand = Candidates(self._course[a:b], self._p[a:b], self._gain[ga:gb], self._score[a:b])
        risk = float(self._risk[i])
        adapting = None if np.isnan(risk) else risk
        return PathInput(self._states[i], cand, adapting, float(self._participation[i]))

    @property
    def nbytes(self) -> int:
        """Bytes held by the packed arrays (the states are Python objects on top)."""
        arrays = (
            self._risk,
            self._participation,
            self._ptr,
            self._gain_ptr,
            self._course,
            self._p,
            self._gain,
        )
        return int(sum(a.nbytes for a in arrays) + self._score.nbytes)


def _offsets(lengths: Iterable[int]) -> np.ndarray:
    counts = np.fromiter(lengths, dtype=np.int64)
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.asarray(p, dtype=dtype) for p in parts])
