"""Metrics against values worked out by hand, and against independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, ndcg_score, roc_auc_score

from features.columns import COMPETENCY_ID, COURSE_ID, HOURS_JP, NIP
from model.metrics import gap_closure_per_jp
from model.ranking_metrics import (
    catalog_coverage,
    gini,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    recommendation_gini,
)
from model.risk_metrics import brier_score, calibration_table, expected_calibration_error, roc_auc

LOG2_3 = math.log2(3)  # 1.5849625...


def recs(rows: list[tuple[str, str, float]], col: str = "rank") -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[NIP, COURSE_ID, col])


def rel(rows: list[tuple[str, str]] | list[tuple[str, str, float]]) -> pd.DataFrame:
    cols = [NIP, COURSE_ID] if len(rows[0]) == 2 else [NIP, COURSE_ID, "relevance"]
    return pd.DataFrame(rows, columns=cols)


# --- ranking: hand-computed ---------------------------------------------------------------


def test_binary_relevance_at_ranks_1_and_3_of_3():
    r = recs([("a", "x", 1), ("a", "y", 2), ("a", "z", 3)])
    t = rel([("a", "x"), ("a", "z")])
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) = 1.6309 -> 0.91972
    assert ndcg_at_k(r, t, k=3) == pytest.approx(1.5 / (1 + 1 / LOG2_3))
    assert ndcg_at_k(r, t, k=3) == pytest.approx(0.919721, abs=1e-6)
    assert precision_at_k(r, t, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(r, t, k=3) == pytest.approx(1.0)
    assert hit_rate_at_k(r, t, k=3) == 1.0
    # AP = (P@1 + P@3) / min(3, 2) = (1 + 2/3) / 2
    assert map_at_k(r, t, k=3) == pytest.approx(5 / 6)


def test_graded_relevance_linear_and_exponential_gain():
    r = recs([("a", "x", 1), ("a", "y", 2), ("a", "z", 3)])
    # y is listed with relevance 0 (not relevant); w is relevant but not recommended.
    t = rel([("a", "x", 1), ("a", "y", 0), ("a", "z", 3), ("a", "w", 2)])
    # linear: DCG = 1/1 + 3/2 = 2.5; IDCG = 3 + 2/log2(3) + 1/2 = 4.761860 -> 0.525005
    assert ndcg_at_k(r, t, k=3) == pytest.approx(2.5 / (3.5 + 2 / LOG2_3))
    assert ndcg_at_k(r, t, k=3) == pytest.approx(0.525005, abs=1e-6)
    # exponential gains 2^r - 1: x=1, z=7, w=3. DCG = 1 + 7/2 = 4.5;
    # IDCG = 7 + 3/log2(3) + 1/2 = 9.39279 -> 0.47909
    assert ndcg_at_k(r, t, k=3, gain="exponential") == pytest.approx(4.5 / (7.5 + 3 / LOG2_3))
    # binary metrics treat relevance > 0 as relevant: 2 hits of 3 relevant items
    assert precision_at_k(r, t, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(r, t, k=3) == pytest.approx(2 / 3)


def test_mean_is_over_users_with_relevant_items():
    r = recs([("a", "x", 1), ("a", "y", 2), ("a", "z", 3), ("c", "x", 1)])
    # b has a relevant item but no recommendations (counts 0); c has no relevant item (ignored).
    t = rel([("a", "x"), ("a", "z"), ("b", "x")])
    m = ranking_metrics(r, t, k=3)
    assert m["n_users"] == 2
    assert m["ndcg_at_k"] == pytest.approx(0.919721 / 2, abs=1e-6)
    assert m["precision_at_k"] == pytest.approx((2 / 3 + 0) / 2)
    assert m["recall_at_k"] == pytest.approx(0.5)
    assert m["hit_rate_at_k"] == pytest.approx(0.5)
    assert m["map_at_k"] == pytest.approx(5 / 12)


def test_user_with_only_zero_relevance_is_not_scored():
    r = recs([("a", "x", 1), ("b", "x", 1)])
    t = rel([("a", "x", 1), ("b", "x", 0)])
    assert ndcg_at_k(r, t, k=1) == 1.0


def test_score_column_sorts_descending_and_k_cuts():
    r = recs([("a", "x", 0.2), ("a", "y", 0.9), ("a", "z", 0.5)], col="score")
    t = rel([("a", "x"), ("a", "z")])
    # order y, z, x; top 2 = y, z. DCG = 1/log2(3); IDCG@2 = 1 + 1/log2(3) -> 0.38685
    assert ndcg_at_k(r, t, k=2) == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    assert precision_at_k(r, t, k=2) == pytest.approx(0.5)
    assert recall_at_k(r, t, k=2) == pytest.approx(0.5)
    # AP = P@2 / min(2, 2) = 0.5 / 2
    assert map_at_k(r, t, k=2) == pytest.approx(0.25)


def test_rank_column_wins_over_score():
    r = pd.DataFrame({NIP: ["a", "a"], COURSE_ID: ["x", "y"], "rank": [2, 1], "score": [0.9, 0.1]})
    t = rel([("a", "y")])
    assert ndcg_at_k(r, t, k=1) == 1.0


def test_k_larger_than_list():
    r = recs([("a", "x", 1)])
    t = rel([("a", "x"), ("a", "y")])
    # DCG = 1; IDCG = 1 + 1/log2(3) -> 0.61315; precision divides by k = 5
    assert ndcg_at_k(r, t, k=5) == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert precision_at_k(r, t, k=5) == pytest.approx(0.2)
    assert recall_at_k(r, t, k=5) == pytest.approx(0.5)
    assert map_at_k(r, t, k=5) == pytest.approx(1 / 2)  # P@1 / min(5, 2)


def test_map_divides_by_min_k_and_relevant():
    r = recs([("a", c, i + 1) for i, c in enumerate("abcde")])
    t = rel([("a", "b"), ("a", "d"), ("a", "f"), ("a", "g")])
    # hits at 2 and 4: (1/2 + 2/4) / min(5, 4) = 0.25
    assert map_at_k(r, t, k=5) == pytest.approx(0.25)


def test_duplicate_items_collapse_to_best_position():
    r = recs([("a", "x", 1), ("a", "x", 2), ("a", "z", 3)])
    t = rel([("a", "x", 1), ("a", "x", 2), ("a", "z", 2)])  # x keeps relevance 2
    # dedup: x at 1, z at 2 -> ideal ordering, NDCG 1; precision 2/2 not 1/2
    assert ndcg_at_k(r, t, k=2) == pytest.approx(1.0)
    assert precision_at_k(r, t, k=2) == pytest.approx(1.0)
    assert map_at_k(r, t, k=2) == pytest.approx(1.0)


def test_ties_in_score_keep_row_order():
    r = recs([("a", "x", 0.5), ("a", "y", 0.5)], col="score")
    assert ndcg_at_k(r, rel([("a", "x")]), k=1) == 1.0
    assert ndcg_at_k(r, rel([("a", "y")]), k=1) == 0.0


def test_custom_column_names():
    r = pd.DataFrame({"u": ["a", "a"], "i": [1, 2], "pos": [1, 2]})
    t = pd.DataFrame({"u": ["a"], "i": [2], "w": [3.0]})
    got = ndcg_at_k(r, t, k=2, col_user="u", col_item="i", col_rank="pos", col_relevance="w")
    assert got == pytest.approx(1 / LOG2_3)


def test_no_relevant_users_gives_nan_and_empty_recommendations_give_zero():
    empty_rel = rel([("a", "x", 0)])
    assert math.isnan(ndcg_at_k(recs([("a", "x", 1)]), empty_rel))
    empty_rec = recs([]).astype({"rank": "int64"})
    assert ndcg_at_k(empty_rec, rel([("a", "x")])) == 0.0
    assert map_at_k(empty_rec, rel([("a", "x")])) == 0.0


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_raises(k):
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(recs([("a", "x", 1)]), rel([("a", "x")]), k=k)


def test_bad_inputs_raise():
    t = rel([("a", "x")])
    with pytest.raises(ValueError, match="rank column"):
        ndcg_at_k(pd.DataFrame({NIP: ["a"], COURSE_ID: ["x"]}), t)
    with pytest.raises(ValueError, match="missing ranks"):
        ndcg_at_k(recs([("a", "x", np.nan)], col="score"), t)
    with pytest.raises(ValueError, match="non-negative"):
        ndcg_at_k(recs([("a", "x", 1)]), rel([("a", "x", -1)]))
    with pytest.raises(ValueError, match="missing column"):
        ndcg_at_k(recs([("a", "x", 1)]), pd.DataFrame({NIP: ["a"]}))


# --- ranking: cross-checks on random data -------------------------------------------------


def naive_metrics(recommended: pd.DataFrame, relevant: pd.DataFrame, k: int) -> dict[str, float]:
    """Plain-loop reference implementation of the documented conventions."""
    relevance: dict[str, dict[str, float]] = {}
    for u, i, r in relevant[[NIP, COURSE_ID, "relevance"]].itertuples(index=False):
        relevance.setdefault(u, {})
        relevance[u][i] = max(relevance[u].get(i, 0.0), r)
    lists: dict[str, list[tuple[float, int, str]]] = {}
    for row, (u, i, s) in enumerate(recommended[[NIP, COURSE_ID, "score"]].itertuples(index=False)):
        lists.setdefault(u, []).append((-s, row, i))
    out: dict[str, list[float]] = {"ndcg_at_k": [], "precision_at_k": [], "recall_at_k": []}
    out["hit_rate_at_k"] = []
    out["map_at_k"] = []
    for u, rels in relevance.items():
        rels = {i: r for i, r in rels.items() if r > 0}
        if not rels:
            continue
        top: list[str] = []
        for _, _, i in sorted(lists.get(u, [])):
            if i not in top:
                top.append(i)
        top = top[:k]
        dcg = sum(rels.get(i, 0.0) / math.log2(p + 2) for p, i in enumerate(top))
        ideal = sorted(rels.values(), reverse=True)[:k]
        idcg = sum(r / math.log2(p + 2) for p, r in enumerate(ideal))
        hits = [i in rels for i in top]
        ap = 0.0
        for p in range(len(top)):
            if hits[p]:
                ap += sum(hits[: p + 1]) / (p + 1)
        out["ndcg_at_k"].append(dcg / idcg)
        out["precision_at_k"].append(sum(hits) / k)
        out["recall_at_k"].append(sum(hits) / len(rels))
        out["hit_rate_at_k"].append(float(any(hits)))
        out["map_at_k"].append(ap / min(k, len(rels)))
    return {name: float(np.mean(v)) for name, v in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_metrics_match_naive_loop(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, n_rec = 60, 25, 300
    recommended = pd.DataFrame(
        {
            NIP: rng.integers(0, n_users, n_rec).astype(str),
            COURSE_ID: rng.integers(0, n_items, n_rec).astype(str),  # duplicates happen
            "score": rng.integers(0, 8, n_rec).astype(float),  # ties happen
        }
    )
    relevant = pd.DataFrame(
        {
            NIP: rng.integers(0, n_users + 10, 250).astype(str),  # some users never served
            COURSE_ID: rng.integers(0, n_items, 250).astype(str),
            "relevance": rng.integers(0, 4, 250).astype(float),
        }
    )
    for k in (1, 3, 10):
        got = ranking_metrics(recommended, relevant, k=k)
        want = naive_metrics(recommended, relevant, k)
        for name, value in want.items():
            assert got[name] == pytest.approx(value, abs=1e-12), (name, k)


@pytest.mark.parametrize("binary", [True, False])
def test_ndcg_matches_sklearn(binary):
    rng = np.random.default_rng(7)
    n_users, n_items, k = 40, 15, 5
    scores = rng.random((n_users, n_items))  # continuous: no ties
    top = 2 if binary else 4
    truth = rng.integers(0, top, (n_users, n_items)) * (rng.random((n_users, n_items)) < 0.3)
    users = np.repeat(np.arange(n_users), n_items).astype(str)
    items = np.tile(np.arange(n_items), n_users).astype(str)
    recommended = pd.DataFrame({NIP: users, COURSE_ID: items, "score": scores.ravel()})
    relevant = pd.DataFrame({NIP: users, COURSE_ID: items, "relevance": truth.ravel()})
    scored = truth.sum(axis=1) > 0
    want = ndcg_score(truth[scored], scores[scored], k=k)
    assert ndcg_at_k(recommended, relevant, k=k) == pytest.approx(want, abs=1e-12)
    # only the top k shown: same answer, the ideal DCG still uses the whole relevant set
    shown = recommended.sort_values([NIP, "score"], ascending=[True, False])
    shown = shown.groupby(NIP).head(k)
    assert ndcg_at_k(shown, relevant, k=k) == pytest.approx(want, abs=1e-12)


# --- coverage and concentration -----------------------------------------------------------


def test_catalog_coverage():
    r = recs([("a", "x", 1), ("b", "x", 1), ("a", "y", 2), ("a", "retired", 3)])
    # x and y of the 4 catalog items; the retired course is not in the catalog
    assert catalog_coverage(r, ["x", "y", "z", "w"]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        catalog_coverage(r, [])


def test_gini_hand_values():
    assert gini([1, 1, 1, 1]) == 0.0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)  # (n - 1) / n
    # sum |xi - xj| over ordered pairs = 8; / (2 n^2 mean) = 8 / 36
    assert gini([3, 1, 2]) == pytest.approx(2 / 9)
    assert gini([0, 0]) == 0.0
    with pytest.raises(ValueError):
        gini([1, -1])


def test_recommendation_gini_counts_unshown_catalog_items():
    r = recs([("a", "x", 1), ("b", "x", 1), ("c", "x", 1), ("a", "y", 2)])
    assert recommendation_gini(r) == pytest.approx(gini([3, 1]))
    assert recommendation_gini(r, ["x", "y", "z"]) == pytest.approx(gini([3, 1, 0]))


# --- probabilistic predictions ------------------------------------------------------------


def test_brier_and_auc_hand_values():
    assert brier_score([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # ties: pos 0.5 vs neg 0.5 counts 1/2, the other three pairs 1 -> 3.5 / 4
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)
    assert roc_auc([True, False], [0.9, 0.1]) == 1.0


def test_auc_one_class_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="one class"):
        assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_probability_inputs_validated():
    with pytest.raises(ValueError, match="binary"):
        brier_score([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="length"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="NaN"):
        expected_calibration_error([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="empty"):
        roc_auc([], [])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brier_and_auc_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    p = np.round(rng.random(500), 1)  # rounded: many ties
    y = (rng.random(500) < p).astype(int)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_calibration_table_and_ece_hand_values():
    y = [0, 0, 1, 1, 1]
    p = [0.1, 0.1, 0.8, 0.8, 0.6]
    table = calibration_table(y, p, n_bins=2)
    # bin [0, .5): mean p .1, rate 0; bin [.5, 1]: mean p .7333, rate 1
    assert table["count"].tolist() == [2, 3]
    assert table["mean_predicted"].tolist() == pytest.approx([0.1, 2.2 / 3])
    assert table["observed_rate"].tolist() == pytest.approx([0.0, 1.0])
    # ECE = 2/5 * 0.1 + 3/5 * (1 - 0.7333) = 0.04 + 0.16
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.2)
    # p = 1.0 falls in the last bin; empty bins are listed with NaN means
    table = calibration_table([1], [1.0], n_bins=4)
    assert table["count"].tolist() == [0, 0, 0, 1]
    assert table["mean_predicted"].isna().tolist() == [True, True, True, False]


def test_calibration_matches_sklearn_and_naive_ece():
    rng = np.random.default_rng(3)
    p = rng.random(2000) ** 2
    y = (rng.random(2000) < p**0.8).astype(int)
    table = calibration_table(y, p, n_bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    filled = table[table["count"] > 0]
    np.testing.assert_allclose(filled["observed_rate"], prob_true, atol=1e-12)
    np.testing.assert_allclose(filled["mean_predicted"], prob_pred, atol=1e-12)
    ece = 0.0
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        in_bin = (p >= lo) & ((p < hi) | (b == 9))
        if in_bin.any():
            ece += in_bin.mean() * abs(p[in_bin].mean() - y[in_bin].mean())
    assert expected_calibration_error(y, p) == pytest.approx(ece, abs=1e-12)
    q = calibration_table(y, p, n_bins=5, strategy="quantile")
    assert q["count"].tolist() == pytest.approx([400] * 5, abs=1)


# --- gap closure --------------------------------------------------------------------------


def test_gap_closure_per_jp_hand_values():
    gaps = pd.DataFrame(
        [
            ("e1", "c1", 2.0),
            ("e1", "c2", 1.0),
            ("e1", "c3", 0.0),  # no gap: no credit for gains
            ("e2", "c1", 1.0),
            ("e3", "c1", -1.0),  # above the requirement
            ("e4", "c2", 3.0),  # has a gap, no path
        ],
        columns=[NIP, COMPETENCY_ID, "gap"],
    )
    gain = pd.DataFrame(
        [
            ("e1", "c1", 1.0),
            ("e1", "c1", 0.5),  # summed with the row above: 1.5
            ("e1", "c2", 2.0),  # overshoots the gap of 1: capped at 1
            ("e1", "c3", 1.0),
            ("e2", "c1", -0.5),  # negative gain closes nothing
            ("e3", "c1", 1.0),
        ],
        columns=[NIP, COMPETENCY_ID, "gain"],
    )
    paths = pd.DataFrame(
        [("e1", "K1", 20), ("e1", "K2", 10), ("e2", "K3", 5), ("e3", "K1", 20)],
        columns=[NIP, COURSE_ID, HOURS_JP],
    )
    got = gap_closure_per_jp(paths, gain, gaps)
    # closure = 1.5 (e1 c1) + 1 (e1 c2) = 2.5 over 55 JP; employees with a gap: e1, e2, e4;
    # total positive gap = 2 + 1 + 1 + 3 = 7
    assert got["total_closure"] == pytest.approx(2.5)
    assert got["total_jp"] == pytest.approx(55)
    assert got["closure_per_jp"] == pytest.approx(2.5 / 55)
    assert got["mean_closure_per_employee"] == pytest.approx(2.5 / 3)
    assert got["share_of_gap_closed"] == pytest.approx(2.5 / 7)
    assert got["n_employees_with_gap"] == 3
    assert got["n_employees_with_path"] == 3


def test_gap_closure_edge_cases():
    gaps = pd.DataFrame({NIP: ["e1"], COMPETENCY_ID: ["c1"], "gap": [0.0]})
    gain = pd.DataFrame({NIP: ["e1"], COMPETENCY_ID: ["c1"], "gain": [1.0]})
    no_paths = pd.DataFrame({NIP: pd.Series([], dtype=str), COURSE_ID: [], HOURS_JP: []})
    got = gap_closure_per_jp(no_paths, gain, gaps)
    assert got["total_closure"] == 0.0
    assert math.isnan(got["closure_per_jp"])
    assert math.isnan(got["share_of_gap_closed"])
    assert math.isnan(got["mean_closure_per_employee"])
    with pytest.raises(ValueError, match="more than one row"):
        gap_closure_per_jp(no_paths, gain, pd.concat([gaps, gaps]))
