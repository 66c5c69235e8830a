"""Evaluation metrics for the time split: ranking, coverage, risk calibration, gap closure.

Every function is pure: it takes DataFrames or arrays and returns numbers (or a small frame for a
reliability plot). Column names are parameters with ``col_*`` defaults from
:mod:`features.columns`, in the style of recommenders' ``python_evaluation``.

Conventions shared by the ranking metrics (``*_at_k``):

* ``recommended`` holds one row per (user, item) with either a rank column (1 = best) or a score
  column (higher = better); the rank column wins when both are present. Ties in score keep the
  row order of the frame (stable sort), so results are deterministic.
* A user's duplicate recommendations of the same item collapse to the best position: a duplicate
  neither earns twice nor takes a slot in the top k.
* ``relevant`` holds what happened after the cutoff; the relevance column is optional (binary
  relevance 1 when absent). Rows with relevance 0 are not relevant; duplicates keep the maximum.
* The mean runs over the users with at least one relevant item, whether or not they received
  recommendations: a user the recommender never served counts as a miss (0), so coverage of the
  population is part of the score. Users without relevant items cannot be scored and are ignored.
  With no such user at all the metrics are NaN.
* precision@k divides by k, not by the length of a shorter list, so short lists are not rewarded.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from features.columns import COMPETENCY_ID, COURSE_ID, HOURS_JP, NIP

DEFAULT_K = 10
DEFAULT_RANK_COL = "rank"
DEFAULT_SCORE_COL = "score"
DEFAULT_RELEVANCE_COL = "relevance"
DEFAULT_GAIN_COL = "gain"
DEFAULT_GAP_COL = "gap"

__all__ = [
    "brier_score",
    "calibration_table",
    "catalog_coverage",
    "expected_calibration_error",
    "gap_closure_per_jp",
    "gini",
    "hit_rate_at_k",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "recommendation_gini",
    "roc_auc",
]


# --- ranking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TopKHits:
    """The top-k hits of every scorable user, as flat arrays indexed by a dense user code."""

    n_users: int
    k: int
    hit_user: np.ndarray  # user code of each hit in the top k
    hit_pos: np.ndarray  # 1-based position of each hit
    hit_rel: np.ndarray  # relevance of each hit (> 0)
    n_relevant: np.ndarray  # per user: number of relevant items
    ideal_dcg: np.ndarray  # per user: DCG of the ideal top-k ordering


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; has {list(frame.columns)}")


def _discounts(k: int) -> np.ndarray:
    """1 / log2(position + 1) for positions 1..k, indexed by position (index 0 unused)."""
    return np.concatenate(([0.0], 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))))


def _positions_within_groups(sorted_codes: np.ndarray) -> np.ndarray:
    """1-based position of each element within its run of equal (already grouped) codes."""
    n = len(sorted_codes)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    run_lengths = np.diff(np.r_[starts, n])
    return np.arange(n, dtype=np.int64) - np.repeat(starts, run_lengths) + 1


def _joint_codes(first: pd.Series, second: pd.Series) -> np.ndarray:
    """Integer codes of the values of two columns, equal values sharing a code across both."""
    codes, _ = pd.factorize(pd.concat([first, second], ignore_index=True))
    return codes.astype(np.int64)


def _top_k_hits(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int,
    col_user: str,
    col_item: str,
    col_rank: str,
    col_score: str,
    col_relevance: str,
    gain: Literal["linear", "exponential"] = "linear",
) -> _TopKHits:
    """Join the top k of each user's list with the relevant set, once for all metrics."""
    k = _check_k(k)
    _require_columns(recommended, (col_user, col_item), "recommended")
    _require_columns(relevant, (col_user, col_item), "relevant")
    if col_rank in recommended.columns:
        order_values = recommended[col_rank].to_numpy(dtype=np.float64, na_value=np.nan)
    elif col_score in recommended.columns:
        order_values = -recommended[col_score].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raise ValueError(
            f"recommended needs a rank column {col_rank!r} or a score column {col_score!r}"
        )
    if np.isnan(order_values).any():
        raise ValueError("recommended has missing ranks/scores")
    for frame, what in ((recommended, "recommended"), (relevant, "relevant")):
        if frame[col_user].isna().any() or frame[col_item].isna().any():
            raise ValueError(f"{what} has missing user or item ids")

    # Relevance per (user, item): max over duplicates, only positive values are relevant.
    if col_relevance in relevant.columns:
        rel_values = relevant[col_relevance].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(rel_values).any():
            raise ValueError("relevant has missing relevance values")
        if (rel_values < 0).any():
            raise ValueError("relevance must be non-negative")
    else:
        rel_values = np.ones(len(relevant), dtype=np.float64)
    if gain == "exponential":
        rel_values = np.exp2(rel_values) - 1.0
    elif gain != "linear":
        raise ValueError(f"gain must be 'linear' or 'exponential', got {gain!r}")

    keep = rel_values > 0
    n_rel = len(relevant)
    # Users and items are coded over both frames at once, so (user, item) becomes one int64 key.
    user_code = _joint_codes(relevant[col_user], recommended[col_user])
    item_code = _joint_codes(relevant[col_item], recommended[col_item])
    n_items = int(item_code.max(initial=0)) + 1
    # Dense codes 0..n_users-1 for the scorable users; -1 for everyone else.
    kept_users = np.unique(user_code[:n_rel][keep])
    n_users = len(kept_users)
    dense_user = np.full(int(user_code.max(initial=0)) + 1, -1, dtype=np.int64)
    dense_user[kept_users] = np.arange(n_users)

    rel_user = dense_user[user_code[:n_rel][keep]]
    rel_key = rel_user * n_items + item_code[:n_rel][keep]
    rel_by_key = pd.Series(rel_values[keep]).groupby(rel_key).max()
    key_user = rel_by_key.index.to_numpy() // n_items
    n_relevant = np.bincount(key_user, minlength=n_users)

    discounts = _discounts(k)
    # Ideal DCG: each user's relevances sorted descending, top k.
    order = np.lexsort((-rel_by_key.to_numpy(), key_user))
    ideal_user = key_user[order]
    ideal_pos = _positions_within_groups(ideal_user)
    in_k = ideal_pos <= k
    ideal_dcg = np.bincount(
        ideal_user[in_k],
        weights=rel_by_key.to_numpy()[order][in_k] * discounts[ideal_pos[in_k]],
        minlength=n_users,
    )

    # Recommendations of scorable users, sorted by (user, rank), deduplicated, cut at k.
    rec_user = dense_user[user_code[n_rel:]]
    scorable = rec_user >= 0
    rec_user = rec_user[scorable]
    rec_item = item_code[n_rel:][scorable]
    rec_order = order_values[scorable]
    order = np.lexsort((rec_order, rec_user))  # stable: ties keep the frame's row order
    rec_key = rec_user[order] * n_items + rec_item[order]
    first = ~pd.Series(rec_key).duplicated(keep="first").to_numpy()
    rec_key = rec_key[first]
    rec_user = rec_user[order][first]
    rec_pos = _positions_within_groups(rec_user)
    in_k = rec_pos <= k
    rec_key, rec_user, rec_pos = rec_key[in_k], rec_user[in_k], rec_pos[in_k]

    loc = rel_by_key.index.get_indexer(rec_key)
    is_hit = loc >= 0
    return _TopKHits(
        n_users=n_users,
        k=k,
        hit_user=rec_user[is_hit],
        hit_pos=rec_pos[is_hit],
        hit_rel=rel_by_key.to_numpy()[loc[is_hit]],
        n_relevant=n_relevant,
        ideal_dcg=ideal_dcg,
    )


def _mean(per_user: np.ndarray) -> float:
    return float(per_user.mean()) if len(per_user) else math.nan


def _ndcg(h: _TopKHits) -> float:
    dcg = np.bincount(
        h.hit_user, weights=h.hit_rel * _discounts(h.k)[h.hit_pos], minlength=h.n_users
    )
    return _mean(dcg / np.where(h.ideal_dcg > 0, h.ideal_dcg, 1.0))


def _hits_per_user(h: _TopKHits) -> np.ndarray:
    return np.bincount(h.hit_user, minlength=h.n_users).astype(np.float64)


def _precision(h: _TopKHits) -> float:
    return _mean(_hits_per_user(h) / h.k)


def _recall(h: _TopKHits) -> float:
    return _mean(_hits_per_user(h) / np.maximum(h.n_relevant, 1))


def _hit_rate(h: _TopKHits) -> float:
    return _mean((_hits_per_user(h) > 0).astype(np.float64))


def _map(h: _TopKHits) -> float:
    # Hits are grouped by user and ordered by position, so a running count gives the number of
    # hits up to and including each hit: precision at that position is count / position.
    hits_so_far = _positions_within_groups(h.hit_user)
    ap_sum = np.bincount(h.hit_user, weights=hits_so_far / h.hit_pos, minlength=h.n_users)
    return _mean(ap_sum / np.minimum(h.n_relevant, h.k).clip(min=1))


def ndcg_at_k(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int = DEFAULT_K,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_rank: str = DEFAULT_RANK_COL,
    col_score: str = DEFAULT_SCORE_COL,
    col_relevance: str = DEFAULT_RELEVANCE_COL,
    gain: Literal["linear", "exponential"] = "linear",
) -> float:
    """Mean NDCG@k with a log2 discount, binary or graded relevance.

    DCG@k = sum over the top k of gain(rel_i) / log2(i + 1); the ideal DCG orders the user's
    whole relevant set by relevance, so a list that misses relevant items cannot reach 1.
    ``gain="linear"`` uses the relevance itself (as ``sklearn.metrics.ndcg_score``),
    ``"exponential"`` uses 2**rel - 1. Conventions: see the module docstring.

    Examples
    --------
    >>> rec = pd.DataFrame({"nip": ["a"] * 3, "course_id": ["x", "y", "z"], "rank": [1, 2, 3]})
    >>> rel = pd.DataFrame({"nip": ["a", "a"], "course_id": ["x", "z"]})
    >>> round(ndcg_at_k(rec, rel, k=3), 4)  # (1 + 1/2) / (1 + 1/log2(3))
    0.9197
    """
    h = _top_k_hits(
        recommended, relevant, k, col_user, col_item, col_rank, col_score, col_relevance, gain
    )
    return _ndcg(h)


def precision_at_k(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int = DEFAULT_K,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_rank: str = DEFAULT_RANK_COL,
    col_score: str = DEFAULT_SCORE_COL,
    col_relevance: str = DEFAULT_RELEVANCE_COL,
) -> float:
    """Mean share of the k slots holding a relevant item (the denominator is always k)."""
    h = _top_k_hits(
        recommended, relevant, k, col_user, col_item, col_rank, col_score, col_relevance
    )
    return _precision(h)


def recall_at_k(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int = DEFAULT_K,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_rank: str = DEFAULT_RANK_COL,
    col_score: str = DEFAULT_SCORE_COL,
    col_relevance: str = DEFAULT_RELEVANCE_COL,
) -> float:
    """Mean share of each user's relevant items found in their top k."""
    h = _top_k_hits(
        recommended, relevant, k, col_user, col_item, col_rank, col_score, col_relevance
    )
    return _recall(h)


def hit_rate_at_k(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int = DEFAULT_K,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_rank: str = DEFAULT_RANK_COL,
    col_score: str = DEFAULT_SCORE_COL,
    col_relevance: str = DEFAULT_RELEVANCE_COL,
) -> float:
    """Share of users with at least one relevant item in their top k."""
    h = _top_k_hits(
        recommended, relevant, k, col_user, col_item, col_rank, col_score, col_relevance
    )
    return _hit_rate(h)


def map_at_k(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int = DEFAULT_K,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_rank: str = DEFAULT_RANK_COL,
    col_score: str = DEFAULT_SCORE_COL,
    col_relevance: str = DEFAULT_RELEVANCE_COL,
) -> float:
    """Mean average precision@k: precision at each hit's position, summed, / min(k, n_relevant).

    Dividing by min(k, n_relevant) (not n_relevant) lets a perfect list score 1 when a user
    has more relevant items than slots.
    """
    h = _top_k_hits(
        recommended, relevant, k, col_user, col_item, col_rank, col_score, col_relevance
    )
    return _map(h)


def ranking_metrics(
    recommended: pd.DataFrame,
    relevant: pd.DataFrame,
    k: int = DEFAULT_K,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_rank: str = DEFAULT_RANK_COL,
    col_score: str = DEFAULT_SCORE_COL,
    col_relevance: str = DEFAULT_RELEVANCE_COL,
) -> dict[str, float]:
    """All ranking metrics at k from a single join, keyed ``ndcg_at_k``, ``precision_at_k``, ...

    Also returns ``n_users`` (users with at least one relevant item), the population averaged
    over. NDCG uses the relevance values (linear gain); the other metrics treat relevance > 0
    as a hit.
    """
    h = _top_k_hits(
        recommended, relevant, k, col_user, col_item, col_rank, col_score, col_relevance
    )
    return {
        "ndcg_at_k": _ndcg(h),
        "precision_at_k": _precision(h),
        "recall_at_k": _recall(h),
        "hit_rate_at_k": _hit_rate(h),
        "map_at_k": _map(h),
        "n_users": float(h.n_users),
    }


# --- catalog coverage and concentration ----------------------------------------------------


def catalog_coverage(
    recommended: pd.DataFrame, catalog_items: Iterable[object], col_item: str = COURSE_ID
) -> float:
    """Share of catalog items recommended to at least one user.

    Items outside the catalog (e.g. retired courses) do not count. Pass the top-k frame the
    users actually see; coverage of a full ranking is trivially 1.
    """
    _require_columns(recommended, (col_item,), "recommended")
    catalog = pd.Index(pd.unique(np.asarray(list(catalog_items), dtype=object)))
    if len(catalog) == 0:
        raise ValueError("catalog_items is empty")
    shown = catalog.isin(pd.unique(recommended[col_item].dropna().to_numpy(dtype=object)))
    return float(shown.sum() / len(catalog))


def gini(values: Iterable[float]) -> float:
    """Gini coefficient of non-negative values: 0 when all equal, (n - 1) / n when one takes all.

    Uses the sorted-values form G = sum_i (2i - n - 1) x_(i) / (n * sum x), i = 1..n.
    """
    raw = values if isinstance(values, (np.ndarray, pd.Series)) else list(values)
    x = np.sort(np.asarray(raw, dtype=np.float64))
    if x.size == 0:
        raise ValueError("gini of an empty set is undefined")
    if np.isnan(x).any() or (x < 0).any():
        raise ValueError("gini needs non-negative values without NaN")
    total = x.sum()
    if total == 0:
        return 0.0
    n = x.size
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def recommendation_gini(
    recommended: pd.DataFrame,
    catalog_items: Iterable[object] | None = None,
    col_item: str = COURSE_ID,
) -> float:
    """Concentration of recommendations over items (Gini of how often each item is shown).

    With ``catalog_items`` the never-recommended catalog items count as zeros, so a recommender
    that pushes a few popular courses scores close to 1; without it only shown items count.
    """
    _require_columns(recommended, (col_item,), "recommended")
    counts = recommended[col_item].dropna().value_counts()
    if catalog_items is not None:
        catalog = pd.Index(pd.unique(np.asarray(list(catalog_items), dtype=object)))
        counts = counts.reindex(catalog, fill_value=0)
    return gini(counts.to_numpy(dtype=np.float64))


# --- probabilistic risk predictions ---------------------------------------------------------


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


# --- competency gap closure ----------------------------------------------------------------


def gap_closure_per_jp(
    paths: pd.DataFrame,
    expected_gain: pd.DataFrame,
    gaps: pd.DataFrame,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_hours: str = HOURS_JP,
    col_competency: str = COMPETENCY_ID,
    col_gain: str = DEFAULT_GAIN_COL,
    col_gap: str = DEFAULT_GAP_COL,
) -> dict[str, float]:
    """How much competency gap the training paths are expected to close, per JP spent.

    ``paths`` lists the courses assigned to each employee with their hours (JP); a course listed
    twice is paid twice. ``expected_gain`` is the level gain the caller expects each employee to
    make on each competency from their path (from a model, or the demo generator's hidden
    truth); rows of the same (employee, competency) are summed, so per-course gains can be
    passed as they are. ``gaps`` holds one row per (employee, competency): required level minus
    current level; non-positive gaps mean nothing to close.

    Closure of (employee, competency) = min(max(gain, 0), max(gap, 0)): no credit for growing
    past the requirement nor for gains on competencies without a gap. Returns

    * ``total_closure``: sum of closures (competency levels);
    * ``total_jp``: sum of path hours;
    * ``closure_per_jp``: total_closure / total_jp (NaN when no hours);
    * ``mean_closure_per_employee``: total closure / employees with a positive gap, counting
      employees without a path as 0, so unserved employees lower the mean (NaN when nobody
      has a gap);
    * ``share_of_gap_closed``: total closure / total positive gap (NaN when no gap);
    * ``n_employees_with_gap`` and ``n_employees_with_path``.
    """
    _require_columns(paths, (col_user, col_item, col_hours), "paths")
    _require_columns(expected_gain, (col_user, col_competency, col_gain), "expected_gain")
    _require_columns(gaps, (col_user, col_competency, col_gap), "gaps")
    if gaps.duplicated([col_user, col_competency]).any():
        raise ValueError("gaps has more than one row per (employee, competency)")
    hours = paths[col_hours].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(hours).any() or (hours < 0).any():
        raise ValueError("paths hours must be non-negative and not missing")
    if expected_gain[col_gain].isna().any() or gaps[col_gap].isna().any():
        raise ValueError("expected_gain and gaps must not contain missing values")

    open_gaps = gaps.loc[gaps[col_gap] > 0, [col_user, col_competency, col_gap]]
    gain = (
        expected_gain.groupby([col_user, col_competency], sort=False)[col_gain]
        .sum()
        .clip(lower=0.0)
        .rename("_gain")
        .reset_index()
    )
    joined = open_gaps.merge(gain, on=[col_user, col_competency], how="left")
    closure = np.minimum(
        joined["_gain"].fillna(0.0).to_numpy(dtype=np.float64),
        joined[col_gap].to_numpy(dtype=np.float64),
    )
    total_closure = float(closure.sum())
    total_gap = float(joined[col_gap].sum())
    total_jp = float(hours.sum())
    n_with_gap = int(open_gaps[col_user].nunique())
    return {
        "total_closure": total_closure,
        "total_jp": total_jp,
        "closure_per_jp": total_closure / total_jp if total_jp > 0 else math.nan,
        "mean_closure_per_employee": total_closure / n_with_gap if n_with_gap else math.nan,
        "share_of_gap_closed": total_closure / total_gap if total_gap > 0 else math.nan,
        "n_employees_with_gap": float(n_with_gap),
        "n_employees_with_path": float(paths[col_user].nunique()),
    }


def bootstrap_mean_ci(
    values: np.ndarray | Sequence[float],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of per-unit values and its percentile bootstrap interval (resampling the units).

    Units are employees when judging plans: people, not courses, are what varies between the
    holdout and the next year. Returns (mean, low, high); NaNs for no values.

    >>> bootstrap_mean_ci([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0)
    """
    x = np.asarray(values, dtype=np.float64)
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError("level must be in (0, 1) and n_boot >= 1")
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for lo in range(0, n_boot, 100):  # blocks bound the memory at 100 x n
        hi = min(n_boot, lo + 100)
        means[lo:hi] = x[rng.integers(0, len(x), size=(hi - lo, len(x)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(x.mean()), float(low), float(high)
