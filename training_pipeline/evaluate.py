"""Evaluation of planners and baselines on a time split, computed in one run.

Three questions, three measures:
- ranking: do we recommend what people went on to complete next year (NDCG@10, recall@10)?
- risk: does the risk model rank next year's drop-outs better than past rates alone?
- gap closure: how much of the competency gap would the plans close per JP? Measured exactly
  against the demo generator's hidden truth when it is available, and estimated from observed
  course effects (level changes after courses in the history) otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features import columns as c
from features.plan_input import EmployeeView
from model import metrics, ranking_metrics, risk_metrics
from model.path_builder import build_paths
from model.path_catalog import Catalog
from model.path_inputs import candidates_from_frame, paths_to_frame

K = 10


def relevant_completions(
    tables: Mapping[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Courses completed by enrollments that started in (start, end]: the holdout's truth."""
    enr = tables[c.ENROLLMENTS]
    mask = (
        (enr[c.START_DATE] > start) & (enr[c.START_DATE] <= end) & (enr[c.STATUS] == "completed")
    ).to_numpy(dtype=bool, na_value=False)
    rel = enr.loc[mask, [c.NIP, c.COURSE_ID]].drop_duplicates()
    return rel.assign(relevance=1.0).reset_index(drop=True)


def recommendations_frame(nips: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Long (nip, course_id, rank, score) from implicit-style arrays; padding dropped."""
    n_users, n = ids.shape
    frame = pd.DataFrame(
        {
            c.NIP: np.repeat(np.asarray(nips, dtype=object), n),
            c.COURSE_ID: ids.reshape(-1),
            "rank": np.tile(np.arange(1, n + 1), n_users),
            "score": scores.reshape(-1),
        }
    )
    return frame.loc[frame[c.COURSE_ID].notna()].reset_index(drop=True)


def ranking_report(
    recommender: Any, view: EmployeeView, relevant: pd.DataFrame, catalog_ids: list[str], k: int = K
) -> dict[str, float]:
    """NDCG/recall/precision/MAP at k against next year's completions, and catalog coverage."""
    nips, ids, scores = recommender.recommend(view, n=k)
    rec = recommendations_frame(nips, ids, scores)
    rel = relevant.loc[relevant[c.NIP].isin(pd.Index(nips))]
    out = ranking_metrics.ranking_metrics(rec, rel, k=k)
    out["catalog_coverage"] = ranking_metrics.catalog_coverage(rec, catalog_ids)
    return out


def risk_report(
    y_true: np.ndarray, p_model: np.ndarray, p_baseline: np.ndarray
) -> dict[str, float]:
    """AUC / Brier / ECE of the risk model next to the past-rate baseline, same people."""
    y = np.asarray(y_true, dtype=float)
    out = {
        "risk_auc": risk_metrics.roc_auc(y, p_model),
        "risk_brier": risk_metrics.brier_score(y, p_model),
        "risk_ece": risk_metrics.expected_calibration_error(y, p_model),
        "risk_baseline_auc": risk_metrics.roc_auc(y, p_baseline),
        "risk_baseline_brier": risk_metrics.brier_score(y, np.clip(p_baseline, 0, 1)),
        "risk_n": float(len(y)),
        "risk_positive_rate": float(np.mean(y)) if len(y) else float("nan"),
    }
    return out


def build_baseline_paths(
    scored: pd.DataFrame,
    view: EmployeeView,
    catalog: Catalog,
    jp_budget: int,
    min_jp: int,
    risks: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Paths from any recommender's scored frame, through the same path builder as the model."""
    from model.planner import employee_states_from_view

    states = employee_states_from_view(view)
    cands = candidates_from_frame(scored, catalog) if len(scored) else {}
    paths = build_paths(
        states, cands, catalog, jp_budget=jp_budget, min_jp=min(min_jp, jp_budget), risks=risks
    )
    return paths_to_frame([s.nip for s in states], paths)


def gap_closure_with_truth(
    truth: Mapping[str, pd.DataFrame], tables: Mapping[str, pd.DataFrame], paths: pd.DataFrame
) -> dict[str, float]:
    """Exact expected gap closure of paths under the demo's hidden response model."""
    from demo_data.truth import expected_gap_closure
    from features.gap_closure import GAP_BEFORE, GAP_CLOSED

    if paths.empty:
        return {"true_gap_closed": 0.0, "true_closure_per_jp": float("nan")}
    p = paths.rename(columns={"order": "step"})[[c.NIP, c.COURSE_ID, "step"]]
    result = expected_gap_closure(truth, tables, p)
    total_jp = float(paths[c.HOURS_JP].sum())
    closed = float(result[GAP_CLOSED].sum())
    gap = float(result[GAP_BEFORE].sum())
    return {
        "true_gap_closed": closed,
        "true_closure_per_jp": closed / total_jp if total_jp else float("nan"),
        "true_share_of_gap_closed": closed / gap if gap else float("nan"),
        "true_gap_closed_per_employee": closed / max(1, result[c.NIP].nunique()),
    }


def fit_benefit_estimator(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Any:
    """`model.benefit.ObservedBenefit` on the outcomes observed by `as_of` (never the truth)."""
    from features.course_outcomes import (
        course_post_tests,
        observed_level_changes,
        resolved_enrollments,
        untrained_level_changes,
    )
    from model.benefit import ObservedBenefit

    return ObservedBenefit().fit(
        observed_level_changes(tables, as_of),
        resolved_enrollments(tables, as_of),
        untrained_level_changes(tables, as_of),
        course_post_tests(tables, as_of),
    )


def gap_closure_estimated(
    paths: pd.DataFrame,
    view: EmployeeView,
    estimator: Any,
    bands: pd.DataFrame,
    *,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, float]:
    """Estimated gap closed per employee of `view` (bootstrap interval over employees) and per
    JP, from observed outcomes (`fit_benefit_estimator`): works on real data."""
    from features.gap_closure import GAP_CLOSED
    from model.benefit import closure_summary, judged_levels

    per = estimator.gap_closure(paths, judged_levels(view.competency), bands)
    mean, low, high = metrics.bootstrap_mean_ci(per[GAP_CLOSED], n_boot=n_boot, seed=seed)
    hours = paths.groupby(c.NIP)[c.HOURS_JP].sum().to_dict() if len(paths) else {}
    summary = closure_summary(per, hours)
    return {
        "est_gap_closed_per_employee": mean,
        "est_gap_closed_ci_low": low,
        "est_gap_closed_ci_high": high,
        "est_closure_per_jp": summary["closure_per_jp"],
        "est_share_of_gap_closed": summary["share_of_gap_closed"],
    }


def path_summary(paths: pd.DataFrame, n_employees: int, min_jp: int) -> dict[str, float]:
    """Shape of the paths: JP per employee and the share reaching the yearly minimum."""
    if paths.empty:
        return {"mean_path_jp": 0.0, "share_reaching_min_jp": 0.0, "mean_path_courses": 0.0}
    per = paths.groupby(c.NIP)[c.HOURS_JP].sum()
    # Employees without a path count as 0 JP (divide by all employees, not by paths).
    reach = float((per >= min_jp).sum()) / max(1, n_employees)
    return {
        "mean_path_jp": float(per.sum()) / max(1, n_employees),
        "share_reaching_min_jp": reach,
        "mean_path_courses": float(len(paths)) / max(1, n_employees),
    }


def mentor_pairing_report(
    view: EmployeeView,
    scorer: Any,
    capacity: int,
    truth: Mapping[str, pd.DataFrame] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Total benefit of the optimal pairing vs the random and highest-level baselines.

    All three choose from the same eligible candidates under the same capacities; benefit is
    the scorer's prediction and, on demo data, the hidden truth's expected level gain.
    """
    from model import mentor_pairing as mp

    cap = mp.remaining_capacity(view, capacity)
    candidates = mp.candidate_pairs(view, scorer)
    if candidates.empty:
        return {"n_pairs": 0.0}
    pairings = {
        "learned": mp.pair_mentors(view, scorer, capacity=capacity),
        "random": mp.random_pairing(candidates, cap, seed=seed),
        "highest_level": mp.highest_level_pairing(candidates, cap),
    }
    predicted = mp.scorer_benefit(view, scorer)
    out: dict[str, float] = {"n_pairs": float(len(pairings["learned"]))}
    for name, pairs in pairings.items():
        out[f"{name}_pairs"] = float(len(pairs))
        out[f"{name}_predicted_benefit"] = mp.pairing_benefit(pairs, predicted)
        if truth is not None and len(pairs):
            from demo_data.truth import expected_mentor_gain

            out[f"{name}_true_benefit"] = float(np.nansum(expected_mentor_gain(truth, pairs)))
            from demo_data.truth import true_lead

            out[f"{name}_truly_below_share"] = float((true_lead(truth, pairs) <= 0).mean())
    return out


def path_rule_violations(
    paths: pd.DataFrame, view: EmployeeView, catalog: Catalog, jp_budget: int
) -> list[str]:
    """`model.plan_rules.plan_violations` on a long paths frame (one row per step)."""
    from model.plan_rules import course_history, plan_violations

    completed, ongoing = course_history(view)
    by_nip: dict[str, list[dict[str, Any]]] = {}
    for record in paths.sort_values([c.NIP, "order"], kind="stable").to_dict("records"):
        by_nip.setdefault(str(record[c.NIP]), []).append(record)
    plans = [
        {
            c.NIP: nip,
            "training_path": steps,
            "total_jp": int(sum(int(step[c.HOURS_JP]) for step in steps)),
            "mentor": None,
        }
        for nip, steps in by_nip.items()
    ]
    return plan_violations(plans, catalog, completed, ongoing, jp_budget)


def oracle_paths(
    truth: Mapping[str, pd.DataFrame],
    view: EmployeeView,
    catalog: Catalog,
    jp_budget: int,
    min_jp: int,
    n_candidates: int = 60,
) -> pd.DataFrame:
    """The best paths the path builder can make when it knows the demo's hidden truth.

    Every employee's gaps are taken at their true levels, and every active course they have not
    taken is scored with its true completion probability and true gain; the `n_candidates`
    with the highest true expected gap closure per JP go to the same path builder as every
    policy. The yardstick for "the best possible paths"; only evaluation ever calls it.
    """
    from demo_data.truth import (
        EXPECTED_GAIN,
        GAIN_IF_COMPLETED,
        P_COMPLETE,
        TRUE_LEVEL,
        TRUE_LEVELS,
        expected_outcomes,
    )
    from model.path_inputs import EmployeeState
    from model.planner import employee_states_from_view

    level = truth[TRUE_LEVELS].set_index([c.NIP, c.COMPETENCY_ID])[TRUE_LEVEL]
    states = []
    for s in employee_states_from_view(view):
        gaps = {
            k: (float(level.get((s.nip, k), cur if cur is not None else c.MIN_LEVEL_VALUE)), req)
            for k, (cur, req) in s.gaps.items()
        }
        states.append(EmployeeState(s.nip, gaps, s.completed, s.ongoing))
    active = [cid for cid, a in zip(catalog.course_ids, catalog.active, strict=True) if a]
    nips = [s.nip for s in states]
    pairs = pd.DataFrame(
        {c.NIP: np.repeat(nips, len(active)), c.COURSE_ID: np.tile(active, len(nips))}
    )
    taken = {(s.nip, cid) for s in states for cid in s.completed | s.ongoing}
    if taken:
        keys = list(zip(pairs[c.NIP], pairs[c.COURSE_ID], strict=True))
        pairs = pairs.loc[[k not in taken for k in keys]]
    rows = expected_outcomes(truth, pairs)
    gap = pd.DataFrame(
        [
            (s.nip, k, max(0.0, float(req) - float(cur)))  # type: ignore[arg-type]
            for s in states
            for k, (cur, req) in s.gaps.items()
        ],
        columns=[c.NIP, c.COMPETENCY_ID, "_gap"],
    )
    rows = rows.merge(gap, on=[c.NIP, c.COMPETENCY_ID], how="left").fillna({"_gap": 0.0})
    rows["_closure"] = rows[P_COMPLETE] * np.minimum(rows[GAIN_IF_COMPLETED], rows["_gap"])
    hours = pd.Series(catalog.hours, index=list(catalog.course_ids))
    per_pair = rows.groupby([c.NIP, c.COURSE_ID], sort=False)["_closure"].sum().reset_index()
    per_pair["rank_score"] = per_pair["_closure"] / hours.reindex(per_pair[c.COURSE_ID]).to_numpy()
    best = per_pair.sort_values([c.NIP, "rank_score"], ascending=[True, False])
    best = best.groupby(c.NIP, sort=False).head(n_candidates)[[c.NIP, c.COURSE_ID, "rank_score"]]
    scored = (
        rows.drop(columns=[EXPECTED_GAIN])
        .merge(best, on=[c.NIP, c.COURSE_ID], how="inner")
        .rename(columns={GAIN_IF_COMPLETED: EXPECTED_GAIN})
    )
    cands = candidates_from_frame(
        scored[[c.NIP, c.COURSE_ID, c.COMPETENCY_ID, P_COMPLETE, EXPECTED_GAIN, "rank_score"]],
        catalog,
    )
    paths = build_paths(states, cands, catalog, jp_budget=jp_budget, min_jp=min(min_jp, jp_budget))
    return paths_to_frame(nips, paths)
