"""How well participation-risk probabilities fit what happened: Brier score, ROC AUC (ties
handled by average ranks), the reliability table and the expected calibration error. Pure.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd


def _binary_inputs(y_true: Iterable[float], p: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    q = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != q.shape:
        raise ValueError(f"y_true and p differ in length: {y.size} vs {q.size}")
    if y.size == 0:
        raise ValueError("y_true and p are empty")
    if np.isnan(y).any() or np.isnan(q).any():
        raise ValueError("y_true and p must not contain NaN")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must be binary (0/1 or bool)")
    return y, q


def _check_probabilities(q: np.ndarray) -> None:
    if (q < 0).any() or (q > 1).any():
        raise ValueError("p must be probabilities in [0, 1]")


def brier_score(y_true: Iterable[float], p: Iterable[float]) -> float:
    """Mean squared difference between the predicted probability and the 0/1 outcome."""
    y, q = _binary_inputs(y_true, p)
    _check_probabilities(q)
    return float(np.mean((q - y) ** 2))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def roc_auc(y_true: Iterable[float], p: Iterable[float]) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic; ties count one half.

    AUC = (sum of the positives' ranks - n_pos (n_pos + 1) / 2) / (n_pos * n_neg). Any real
    scores work (not only probabilities). With a single class present the AUC is undefined:
    returns NaN with a ``RuntimeWarning`` (as scikit-learn does) so per-segment reports can
    carry on.
    """
    y, q = _binary_inputs(y_true, p)
    n_pos = float(y.sum())
    n_neg = float(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        warnings.warn(
            "Only one class in y_true: ROC AUC is undefined", RuntimeWarning, stacklevel=2
        )
        return math.nan
    ranks = _average_ranks(q)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bin_edges(q: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if strategy == "quantile":
        edges = np.unique(np.quantile(q, np.linspace(0.0, 1.0, n_bins + 1)))
        edges[0], edges[-1] = 0.0, 1.0
        return np.unique(edges)
    raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")


def calibration_table(
    y_true: Iterable[float],
    p: Iterable[float],
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> pd.DataFrame:
    """Reliability table: per probability bin, the mean prediction against the observed rate.

    Bins are [lower, upper) except the last, which includes 1. ``"uniform"`` bins have equal
    width; ``"quantile"`` bins hold about equal counts (duplicate edges merge, so there may be
    fewer bins). Every bin is listed, empty ones with count 0 and NaN means, so tables from
    different models line up. Columns: ``bin, lower, upper, count, mean_predicted,
    observed_rate, abs_gap``.
    """
    y, q = _binary_inputs(y_true, p)
    _check_probabilities(q)
    edges = _bin_edges(q, n_bins, strategy)
    m = len(edges) - 1
    bin_id = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, m - 1)
    count = np.bincount(bin_id, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(bin_id, weights=q, minlength=m) / count
        rate = np.bincount(bin_id, weights=y, minlength=m) / count
    return pd.DataFrame(
        {
            "bin": np.arange(m),
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count.astype(np.int64),
            "mean_predicted": mean_p,
            "observed_rate": rate,
            "abs_gap": np.abs(mean_p - rate),
        }
    )


def expected_calibration_error(
    y_true: Iterable[float],
    p: Iterable[float],
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """ECE: the count-weighted mean of |mean predicted - observed rate| over the bins.

    Bins as in :func:`calibration_table`; empty bins weigh nothing.
    """
    table = calibration_table(y_true, p, n_bins=n_bins, strategy=strategy)
    filled = table["count"] > 0
    weights = table.loc[filled, "count"] / table["count"].sum()
    return float((weights * table.loc[filled, "abs_gap"]).sum())
