"""Evaluate on the time split: refit at a cutoff a year before the end, plan for everyone at
the cutoff, and score those plans and the baselines' on what happened in the year after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features import columns as c
from features.build import build_features
from features.plan_input import EmployeeView, employee_view
from training_pipeline import evaluate
from training_pipeline.fitting import fit_planner, risk_frame
from training_pipeline.run_config import Progress, TrainConfig, report_step
from training_pipeline.time_split import HORIZON_DAYS, earliest_date, risk_snapshots, snapshot_dates


def _baseline(name: str) -> Any:
    from model.baselines import ALSRecommender, ContentRuleRecommender, PopularityRecommender

    factories = {
        "popularity": PopularityRecommender,
        "content": ContentRuleRecommender,
        "als": ALSRecommender,
    }
    return factories[name]()


def _active_course_ids(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    courses = tables[c.COURSES]
    return courses.loc[courses[c.ACTIVE].to_numpy(dtype=bool), c.COURSE_ID].astype(str).tolist()


def evaluation_view(
    view: EmployeeView, tables: Mapping[str, pd.DataFrame], config: TrainConfig
) -> EmployeeView:
    """Whole planning partitions, in a seeded random order, up to `eval_max_employees`.

    Whole partitions keep mentor pairing exact (mentors and mentees stay together).
    """
    from features.units import partition_of_units

    if len(view.employees) <= config.eval_max_employees:
        return view
    part = partition_of_units(tables[c.UNITS])
    keys = view.employees[c.UNIT_ID].astype(str).map(part).fillna("?")
    groups = {k: list(g) for k, g in view.employees[c.NIP].groupby(keys.to_numpy(), sort=True)}
    order = np.random.default_rng(config.seed).permutation(sorted(groups))
    chosen: list[str] = []
    for key in order:
        if chosen and len(chosen) + len(groups[key]) > config.eval_max_employees:
            continue
        chosen.extend(groups[key])
    return view.subset(chosen)


def evaluate_holdout(
    tables: Mapping[str, pd.DataFrame],
    as_of: pd.Timestamp,
    config: TrainConfig,
    progress: Progress | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, float], dict[str, Any]]:
    """Fit everything on data before `as_of - 1 year`; score it on the year after.

    Returns per-model ranking rows, risk metrics, and extra objects (calibration table).
    """
    from model.recommender import TrainingPathRecommender
    from model.risk import past_rate_baseline
    from model.risk_metrics import calibration_table

    cutoff = as_of - pd.Timedelta(days=HORIZON_DAYS)
    report_step(progress, "holdout: fitting the planner before the cutoff")
    twin = fit_planner(tables, cutoff, config)
    fs_cut = build_features(tables, cutoff)
    view_cut = evaluation_view(employee_view(tables, fs_cut), tables, config)
    relevant = evaluate.relevant_completions(tables, cutoff, as_of)
    catalog = _active_course_ids(tables)
    rows: dict[str, dict[str, float]] = {}
    rows["planner"] = evaluate.ranking_report(twin.recommender, view_cut, relevant, catalog)
    fitted: dict[str, Any] = {}
    for name in config.baselines:
        report_step(progress, f"holdout: baseline {name}")
        try:
            model = _baseline(name).fit(tables, cutoff)
        except ImportError as exc:  # the peer library did not install here
            rows[name] = {"unavailable": 1.0}
            print(f"baseline {name} unavailable: {exc}")
            continue
        fitted[name] = model
        rows[name] = evaluate.ranking_report(model, view_cut, relevant, catalog)
    report_step(progress, "holdout: estimated gap closure of the plans")
    holdout_plans = holdout_plan_report(tables, twin, fitted, view_cut, as_of, config)
    for name, values in holdout_plans.items():
        rows.setdefault(name, {}).update(values)
    if config.ablations:
        report_step(progress, "holdout: ablation without the collaborative part")
        dates = snapshot_dates(earliest_date(tables), cutoff)
        no_collab = TrainingPathRecommender(
            n_candidates=config.n_candidates, use_collaborative=False, random_state=config.seed
        ).fit(tables, dates, horizon_days=HORIZON_DAYS, course_features=fs_cut)
        rows["planner_no_collab"] = evaluate.ranking_report(no_collab, view_cut, relevant, catalog)

    risk_metrics: dict[str, float] = {}
    extra: dict[str, Any] = {"cutoff": cutoff}
    if twin.risk_model is not None:
        report_step(progress, "holdout: participation risk")
        dates = risk_snapshots(tables, cutoff)
        X_train, y_train = risk_frame(tables, dates)
        X_test, y_test = risk_frame(tables, [cutoff])
        if len(y_test) and np.unique(np.asarray(y_test)).size == 2:
            p = twin.risk_model.predict_proba(X_test)[:, 1]
            base = past_rate_baseline(X_train, y_train, X_test)
            y = np.asarray(y_test, dtype=float)
            risk_metrics = evaluate.risk_report(y, p, base)
            extra["calibration"] = calibration_table(y, p, n_bins=10)
    return rows, risk_metrics, extra


def planner_paths(
    planner: Any, view: EmployeeView, risks: pd.Series | None, scored: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The planner's own paths (as served: its level model and risk rule), as a long frame."""
    from model.path_inputs import paths_to_frame

    if scored is None:
        scored = planner.recommender.scored_candidates(view)
    built = planner.paths(view, risks=risks, scored=scored)
    return paths_to_frame(list(built), list(built.values()))


def holdout_plan_report(
    tables: Mapping[str, pd.DataFrame],
    twin: Any,
    baselines: Mapping[str, Any],
    view_cut: EmployeeView,
    as_of: pd.Timestamp,
    config: TrainConfig,
) -> dict[str, dict[str, float]]:
    """The gate's evidence: plans made at the cutoff by the twin and the baselines (fitted
    before it), judged by the gap they are estimated to close.

    The estimate comes from outcomes observed up to `as_of` (`evaluate.fit_benefit_estimator`):
    the year after the cutoff, which no plan saw, is in it. Reported with a bootstrap interval
    over employees and the plans' rule violations.
    """
    estimator = evaluate.fit_benefit_estimator(tables, as_of)
    bands = tables[c.COURSE_COMPETENCIES]
    plans = {"planner": planner_paths(twin, view_cut, twin.risks(view_cut))}
    for name, model in baselines.items():
        plans[name] = evaluate.build_baseline_paths(
            model.score(view_cut), view_cut, twin.catalog, config.jp_budget, config.min_jp
        )
    out: dict[str, dict[str, float]] = {}
    for name, paths in plans.items():
        broken = evaluate.path_rule_violations(paths, view_cut, twin.catalog, config.jp_budget)
        row = evaluate.gap_closure_estimated(paths, view_cut, estimator, bands, seed=config.seed)
        row["rule_violations"] = float(len(broken))
        out[name] = row
    return out


def evaluate_plans(
    tables: Mapping[str, pd.DataFrame],
    planner: Any,
    as_of: pd.Timestamp,
    config: TrainConfig,
    truth: Mapping[str, pd.DataFrame] | None,
    progress: Progress | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, pd.DataFrame], dict[str, float]]:
    """Plans at `as_of` from the final planner, its ablations and the baselines: gap closure."""
    fs = build_features(tables, as_of)
    view = evaluation_view(employee_view(tables, fs), tables, config)
    n = len(view.employees)
    risks = planner.risks(view)
    paths: dict[str, pd.DataFrame] = {}
    report_step(progress, "plans: planner")
    scored = planner.recommender.scored_candidates(view)
    paths["planner"] = planner_paths(planner, view, risks, scored)
    if config.ablations:
        paths["planner_no_risk"] = planner_paths(planner, view, None, scored)
    for name in config.baselines:
        report_step(progress, f"plans: baseline {name}")
        try:
            model = _baseline(name).fit(tables, as_of)
        except ImportError:
            continue
        paths[name] = evaluate.build_baseline_paths(
            model.score(view), view, planner.catalog, config.jp_budget, config.min_jp
        )
    rows: dict[str, dict[str, float]] = {}
    estimator = evaluate.fit_benefit_estimator(tables, as_of)
    bands = tables[c.COURSE_COMPETENCIES]
    for name, frame in paths.items():
        row = evaluate.path_summary(frame, n, config.min_jp)
        broken = evaluate.path_rule_violations(frame, view, planner.catalog, config.jp_budget)
        row["rule_violations"] = float(len(broken))
        if broken:
            print(f"{name}: {len(broken)} plan rule violations, e.g. {broken[:3]}")
        row.update(evaluate.gap_closure_estimated(frame, view, estimator, bands, seed=config.seed))
        if truth is not None:
            row.update(evaluate.gap_closure_with_truth(truth, tables, frame))
        rows[name] = row

    report_step(progress, "plans: mentor pairing")
    mentor_metrics: dict[str, float] = {}
    if planner.mentor_scorer is not None:
        mentor_metrics = evaluate.mentor_pairing_report(
            view, planner.mentor_scorer, config.mentor_capacity, truth=truth, seed=config.seed
        )
    return rows, paths, mentor_metrics
