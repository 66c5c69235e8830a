"""Vectorised helpers over day numbers and index arrays the generator draws with (no loops over
people: 100,000 employees generate in seconds).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

NAT = np.iinfo(np.int64).min


def allocate_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` in proportion to `weights` (largest remainder), as integers."""
    share = total * weights / weights.sum()
    counts = np.floor(share).astype(np.int64)
    rest = total - counts.sum()
    if rest:
        counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts


def cumulative_weights(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution (last column exactly 1) for `choose_rows`."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1:]
    cum = np.divide(cum, total, out=np.zeros_like(cum), where=total > 0)
    cum[:, -1] = 1.0
    return cum


def choose_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element, drawn from the distribution of row `rows[i]` of `cum`."""
    n_rows, k = cum.shape
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    draw = rows + rng.random(len(rows))
    return np.searchsorted(flat, draw, side="right") - rows * k


def first_occurrence(values: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each value (sort based: faster than np.unique here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(len(values), dtype=bool)
    first[order[1:]] = ordered[1:] != ordered[:-1]
    return first


def sorted_contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Membership of `values` in an already sorted array."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def day_number(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def month_start(days: np.ndarray) -> np.ndarray:
    return (
        days.astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def month_after(first_month: np.datetime64, months: int) -> np.int64:
    return (first_month + months).astype("datetime64[D]").astype(np.int64)


def uniform_days(rng: np.random.Generator, lo: int, hi: int, size: int) -> np.ndarray:
    return lo + np.floor(rng.random(size) * (hi - lo + 1)).astype(np.int64)


def as_dates(days: np.ndarray) -> pd.Series:
    """Day numbers (or `NAT`) as a datetime64[ns] Series."""
    days = np.asarray(days, dtype=np.int64)
    values = days.astype("datetime64[D]").astype("datetime64[ns]")
    values[days == NAT] = np.datetime64("NaT")
    return pd.Series(values)


def take_values(values: pa.Array, idx: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """values[idx] as a pandas `str` Series; `missing` marks rows to leave empty."""
    idx = np.asarray(idx, dtype=np.int64)
    mask = None if missing is None else np.asarray(missing, dtype=bool)
    taken = values.take(pa.array(np.where(mask, 0, idx) if mask is not None else idx, mask=mask))
    series = taken.to_pandas()
    return series if series.dtype == "str" else series.astype("str")
