"""`kompeten train`: validate -> features -> time split -> fit -> evaluate vs baselines -> MLflow.

Orchestration only; every computation lives in features/ and model/. The order matters for
safety: the registry is touched last, after everything else succeeded, so a failed training
never replaces the serving model.

The stages live beside it: `run_config` (TrainConfig, TrainResult), `time_split` (dates),
`fitting` (the planner's parts), `holdout` (the time-split evaluation vs baselines),
`registration` (the pyfunc, the gate, the aliases); this module runs them in order and logs
the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import latest_date
from features.build import feature_cache
from features.io import load_dataset
from features.settings import Settings
from model.gain_selection import selection_metrics as gain_selection_metrics
from training_pipeline.fitting import (
    RISK_FRAMES,
    fit_planner,
)
from training_pipeline.holdout import (
    evaluate_holdout,
    evaluate_plans,
)
from training_pipeline.registration import (
    input_example,
    register_planner,
)
from training_pipeline.run_config import Progress, TrainConfig, TrainResult, report_step
from training_pipeline.time_split import (
    HORIZON_DAYS,
    earliest_date,
    snapshot_dates,
)


def dataset_fingerprint(folder: Path) -> str:
    """SHA-256 over the dataset's files (names and bytes): which data a model saw."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if path.suffix in (".csv", ".parquet") and path.is_file():
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def run_training(
    config: TrainConfig, settings: Settings, progress: Progress | None = None
) -> TrainResult:
    """The whole training job. The registry is touched only after everything else worked."""
    from demo_data.truth import load_truth
    from training_pipeline import plots, tracking

    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    report_step(progress, "loading and validating data")
    tables = load_dataset(config.data_dir)  # DatasetError: the CLI prints the row-level report
    timings["load"] = time.perf_counter() - t_start
    as_of = (
        pd.Timestamp(config.as_of).normalize() if config.as_of is not None else latest_date(tables)
    )
    truth = None
    if config.truth_dir is not None and Path(config.truth_dir).is_dir():
        truth = load_truth(config.truth_dir)

    with feature_cache():
        t0 = time.perf_counter()
        ranking_rows, risk_metrics, extra = evaluate_holdout(tables, as_of, config, progress)
        timings["holdout"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        report_step(progress, "fitting the final planner on all data")
        planner = fit_planner(tables, as_of, config, progress=progress)
        timings["fit_final"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        plan_rows, paths, mentor_metrics = evaluate_plans(
            tables, planner, as_of, config, truth, progress
        )
        timings["plans"] = time.perf_counter() - t0
        example = input_example(tables, as_of, settings)

    comparison = _comparison_table(ranking_rows, plan_rows)
    metrics = _flat_metrics(comparison, risk_metrics, mentor_metrics)
    metrics.update(mentor_selection_metrics(planner.mentor_scorer))
    metrics.update(gain_selection_metrics(planner.recommender))  # which gain model serves

    report_step(progress, "logging to MLflow")
    tracking.configure(settings)
    employees = tables[c.EMPLOYEES]
    params = {
        "as_of": as_of.date().isoformat(),
        "holdout_cutoff": extra["cutoff"].date().isoformat(),
        "horizon_days": HORIZON_DAYS,
        "snapshot_dates": ",".join(
            d.date().isoformat() for d in snapshot_dates(earliest_date(tables), as_of)
        ),
        "dataset_fingerprint": dataset_fingerprint(config.data_dir),
        "n_employees": len(employees),
        "n_active_employees": int(employees[c.ACTIVE].sum()),
        "n_courses": len(tables[c.COURSES]),
        "n_enrollments": len(tables[c.ENROLLMENTS]),
        "jp_budget": config.jp_budget,
        "min_jp": config.min_jp,
        "mentor_capacity": config.mentor_capacity,
        "risk_threshold": config.risk_threshold,
        "n_candidates": config.n_candidates,
        "seed": config.seed,
        "truth_available": truth is not None,
        "baselines": ",".join(config.baselines),
        "gate_metric": config.gate_metric,
        "gate_tolerance": config.gate_tolerance,
        "mentor_fallback": getattr(planner.mentor_scorer, "fallback_reason_", None) or "none",
        "mentor_scorer": getattr(planner.mentor_scorer, "model_name_", None) or "none",
        "mentor_selection": (getattr(planner.mentor_scorer, "selection_reason_", "") or "")[:500],
        "gain_prior": str(getattr(planner.recommender, "gain_prior_", None) or "none"),
    }
    version = None
    decision = None
    with tracking.run(
        settings, settings.experiment_name, run_name=f"train-{as_of.date()}"
    ) as active:
        run_id = active.info.run_id
        tracking.log_params(params)
        tracking.log_metrics(metrics)
        tracking.log_table(
            comparison.round(6).reset_index().rename(columns={"index": "model"}),
            "comparison.csv",
        )
        _log_plots(tracking, plots, comparison, extra, paths)
        tracking.log_metrics({f"seconds_{k}": v for k, v in timings.items()})
        if config.register:
            version, decision = register_planner(
                planner, example, settings, config, metrics, tracking
            )
    timings["total"] = time.perf_counter() - t_start
    RISK_FRAMES.clear()
    return TrainResult(
        run_id=run_id,
        version=None if version is None else str(version),
        promoted=bool(decision.promote) if decision else False,
        gate_reason=decision.reason if decision else "not registered (--no-register)",
        metrics=metrics,
        comparison=comparison,
        timings=timings,
    )


def _comparison_table(
    ranking: Mapping[str, Mapping[str, float]], plans: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    names = list(dict.fromkeys([*ranking.keys(), *plans.keys()]))
    rows = []
    for name in names:
        row = {
            f"holdout_{k.replace('_at_k', '_at_10')}": v for k, v in ranking.get(name, {}).items()
        }
        row.update(plans.get(name, {}))
        rows.append(pd.Series(row, name=name))
    return pd.DataFrame(rows)


def mentor_selection_metrics(scorer: Any) -> dict[str, float]:
    """Every mentor-scorer candidate's estimated held-out assignment benefit (MLflow metrics).

    `mentor_candidate_<name>_heldout_benefit`, the chosen one's as
    `mentor_selected_heldout_benefit`, the pairs that really formed as
    `mentor_heldout_as_happened_benefit` and the observed held-out gains as
    `mentor_heldout_n_observed`; what was not judged (too little history) is left out.
    """
    from model.mentor_scorer import CANDIDATES

    benefit = getattr(scorer, "candidate_benefit_", None) or {}
    out = {
        f"mentor_candidate_{name}_heldout_benefit": float(benefit[name])
        for name in CANDIDATES
        if np.isfinite(benefit.get(name, np.nan))
    }
    for key, name in (("as_happened", "as_happened_benefit"), ("n_holdout", "n_observed")):
        if np.isfinite(benefit.get(key, np.nan)):
            out[f"mentor_heldout_{name}"] = float(benefit[key])
    chosen = benefit.get(getattr(scorer, "model_name_", ""), np.nan)
    if np.isfinite(chosen):
        out["mentor_selected_heldout_benefit"] = float(chosen)
    return out


def _flat_metrics(
    comparison: pd.DataFrame, risk: Mapping[str, float], mentor: Mapping[str, float]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, row in comparison.iterrows():
        prefix = "" if name == "planner" else f"{name}."
        for key, value in row.items():
            if pd.notna(value):
                out[f"{prefix}{key}"] = float(value)
    out.update({f"holdout_{k}": float(v) for k, v in risk.items()})
    out.update({f"mentor_{k}": float(v) for k, v in mentor.items()})
    return out


def _log_plots(
    tracking: Any, plots: Any, comparison: pd.DataFrame, extra: dict, paths: dict
) -> None:
    ranking_cols = ["holdout_ndcg_at_10", "holdout_recall_at_10", "holdout_catalog_coverage"]
    fig = plots.comparison_bars(
        comparison, ranking_cols, "Holdout ranking (next year's completions)"
    )
    tracking.log_figure(fig, "plots/holdout_ranking.png")
    plots.close(fig)
    closure_cols = ["true_closure_per_jp", "est_closure_per_jp", "share_reaching_min_jp"]
    fig = plots.comparison_bars(comparison, closure_cols, "Gap closure of the plans per JP")
    tracking.log_figure(fig, "plots/gap_closure.png")
    plots.close(fig)
    if "calibration" in extra:
        fig = plots.reliability_diagram(extra["calibration"], "Participation risk calibration")
        tracking.log_figure(fig, "plots/risk_calibration.png")
        plots.close(fig)
    jp = {
        name: frame.groupby(c.NIP)[c.HOURS_JP].sum().to_numpy()
        for name, frame in paths.items()
        if len(frame)
    }
    fig = plots.histogram(jp, "JP per training path", "JP")
    tracking.log_figure(fig, "plots/path_jp.png")
    plots.close(fig)
