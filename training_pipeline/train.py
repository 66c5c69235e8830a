"""`kompeten train`: validate -> features -> time split -> fit -> evaluate vs baselines -> MLflow.

Orchestration only; every computation lives in features/ and model/. The order matters for
safety: the registry is touched last, after everything else succeeded, so a failed training
never replaces the serving model.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import latest_date  # noqa: F401 - re-exported for callers
from features.build import build_features, feature_cache
from features.io import load_dataset
from features.plan_input import AS_OF, EmployeeView, employee_view, to_plan_input
from features.pseudonym import pseudonymize_many
from features.settings import Settings
from training_pipeline import evaluate

Progress = Callable[[str, float], None]
HORIZON_DAYS = 365


@dataclass
class TrainConfig:
    """What one training run does; defaults come from Settings."""

    data_dir: Path
    as_of: pd.Timestamp | None = None
    truth_dir: Path | None = None
    jp_budget: int = 40
    min_jp: int = c.MIN_JP_PER_YEAR
    mentor_capacity: int = 3
    risk_threshold: float = 0.5
    n_candidates: int = 50
    seed: int = 0
    register: bool = True
    gate_metric: str = "holdout_est_gap_closed_per_employee"
    gate_tolerance: float = 0.0
    baselines: tuple[str, ...] = ("popularity", "content", "als")
    ablations: bool = True
    #: Evaluation uses whole planning partitions (kecamatan/dinas) up to this many employees:
    #: metrics on ~5,000 people are precise enough, and training time stays flat as the
    #: organisation grows. Fitting always uses everyone.
    eval_max_employees: int = 5000


@dataclass
class TrainResult:
    run_id: str | None
    version: str | None
    promoted: bool
    gate_reason: str
    metrics: dict[str, float]
    comparison: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


# --- dates ----------------------------------------------------------------------------------------


def earliest_date(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    values = [
        tables[c.ASSESSMENTS][c.ASSESSED_ON].min(),
        tables[c.ENROLLMENTS][c.START_DATE].min(),
    ]
    return min(pd.Timestamp(v) for v in values if pd.notna(v)).normalize()


def snapshot_dates(
    start: pd.Timestamp, label_end: pd.Timestamp, horizon_days: int = HORIZON_DAYS
) -> list[pd.Timestamp]:
    """Yearly snapshots d with a full label window (d, d + horizon] ending by `label_end`.

    The first snapshot needs ~6 months of history before it so its features mean something.
    """
    dates = []
    d = label_end - pd.Timedelta(days=horizon_days)
    floor = start + pd.Timedelta(days=180)
    while d >= floor:
        dates.append(d)
        d = d - pd.Timedelta(days=horizon_days)
    return sorted(dates)


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


# --- fitting --------------------------------------------------------------------------------------


def risk_snapshots(tables: Mapping[str, pd.DataFrame], label_end: pd.Timestamp) -> list:
    """Quarterly snapshots (up to 8) whose one-year label window ends by `label_end`."""
    from features.risk_features import training_snapshots

    floor = earliest_date(tables) + pd.Timedelta(days=180)
    return training_snapshots(label_end, horizon_days=HORIZON_DAYS, earliest=floor)


_RISK_FRAMES: dict[tuple[int, tuple], tuple[Any, pd.DataFrame, pd.Series]] = {}


def risk_frame(tables: Mapping[str, pd.DataFrame], dates: list) -> tuple[pd.DataFrame, pd.Series]:
    """`risk_training_frame`, remembered for the last few date sets of the same tables.

    The holdout evaluation needs the training frame the risk model was fitted on; building it
    twice costs a minute at 100,000 employees.
    """
    from features.risk_features import risk_training_frame

    key = (id(tables), tuple(dates))
    hit = _RISK_FRAMES.get(key)
    if hit is not None and hit[0] is tables:
        return hit[1], hit[2]
    X, y = risk_training_frame(tables, dates, horizon_days=HORIZON_DAYS)
    if len(_RISK_FRAMES) >= 3:
        _RISK_FRAMES.clear()
    _RISK_FRAMES[key] = (tables, X, y)
    return X, y


def fit_risk(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, seed: int) -> Any:
    """Participation-risk model on stacked snapshots (None when there is no signal)."""
    from model.risk import ParticipationRisk

    dates = risk_snapshots(tables, as_of)
    if not dates:
        return None
    X, y = risk_frame(tables, dates)
    y_arr = np.asarray(y, dtype=np.int64)
    if len(y_arr) < 20 or y_arr.min() == y_arr.max():
        return None
    return ParticipationRisk(random_state=seed).fit(X, y_arr)


def fit_mentor_scorer(
    tables: Mapping[str, pd.DataFrame], dates: list[pd.Timestamp], seed: int
) -> Any:
    """Mentor pair scorer; falls back to its documented rule when history is too thin."""
    from model.mentor_scorer import fit_mentor_scorer as _fit

    return _fit(tables, dates, horizon_days=HORIZON_DAYS, random_state=seed)


def fit_planner(
    tables: Mapping[str, pd.DataFrame],
    as_of: pd.Timestamp,
    config: TrainConfig,
    *,
    use_collaborative: bool = True,
    risk_adaptation: bool = True,
    progress: Progress | None = None,
) -> Any:
    """A DevelopmentPlanner fitted only on what was known by `as_of`."""
    from features.course_outcomes import untrained_level_changes
    from model.benefit import fit_level_drift
    from model.planner import DevelopmentPlanner
    from model.recommender import TrainingPathRecommender

    start = earliest_date(tables)
    dates = snapshot_dates(start, as_of)
    if not dates:
        raise ValueError(
            f"not enough history before {as_of.date()} for a time split: need more than "
            f"{HORIZON_DAYS + 180} days of assessments and enrollments"
        )
    _step(progress, f"recommender ({len(dates)} snapshots)")
    recommender = TrainingPathRecommender(
        n_candidates=config.n_candidates,
        use_collaborative=use_collaborative,
        random_state=config.seed,
    ).fit(tables, dates, horizon_days=HORIZON_DAYS, course_features=build_features(tables, as_of))
    _step(progress, "participation risk")
    risk = fit_risk(tables, as_of, config.seed)
    _step(progress, "mentor scorer")
    mentor = fit_mentor_scorer(tables, dates, config.seed)
    return DevelopmentPlanner(
        recommender,
        risk,
        mentor,
        jp_budget=config.jp_budget,
        min_jp=config.min_jp,
        risk_threshold=config.risk_threshold,
        mentor_capacity=config.mentor_capacity,
        risk_adaptation=risk_adaptation,
        level_drift=fit_level_drift(untrained_level_changes(tables, as_of)),
    )


def _step(progress: Progress | None, name: str, fraction: float | None = None) -> None:
    if progress is not None:
        progress(name, -1.0 if fraction is None else fraction)


# --- the run --------------------------------------------------------------------------------------


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
    from model.metrics import calibration_table
    from model.recommender import TrainingPathRecommender
    from model.risk import past_rate_baseline

    cutoff = as_of - pd.Timedelta(days=HORIZON_DAYS)
    _step(progress, "holdout: fitting the planner before the cutoff")
    twin = fit_planner(tables, cutoff, config)
    fs_cut = build_features(tables, cutoff)
    view_cut = evaluation_view(employee_view(tables, fs_cut), tables, config)
    relevant = evaluate.relevant_completions(tables, cutoff, as_of)
    catalog = _active_course_ids(tables)
    rows: dict[str, dict[str, float]] = {}
    rows["planner"] = evaluate.ranking_report(twin.recommender, view_cut, relevant, catalog)
    fitted: dict[str, Any] = {}
    for name in config.baselines:
        _step(progress, f"holdout: baseline {name}")
        try:
            model = _baseline(name).fit(tables, cutoff)
        except ImportError as exc:  # the peer library did not install here
            rows[name] = {"unavailable": 1.0}
            print(f"baseline {name} unavailable: {exc}")
            continue
        fitted[name] = model
        rows[name] = evaluate.ranking_report(model, view_cut, relevant, catalog)
    _step(progress, "holdout: estimated gap closure of the plans")
    holdout_plans = holdout_plan_report(tables, twin, fitted, view_cut, as_of, config)
    for name, values in holdout_plans.items():
        rows.setdefault(name, {}).update(values)
    if config.ablations:
        _step(progress, "holdout: ablation without the collaborative part")
        dates = snapshot_dates(earliest_date(tables), cutoff)
        no_collab = TrainingPathRecommender(
            n_candidates=config.n_candidates, use_collaborative=False, random_state=config.seed
        ).fit(tables, dates, horizon_days=HORIZON_DAYS, course_features=fs_cut)
        rows["planner_no_collab"] = evaluate.ranking_report(no_collab, view_cut, relevant, catalog)

    risk_metrics: dict[str, float] = {}
    extra: dict[str, Any] = {"cutoff": cutoff}
    if twin.risk_model is not None:
        _step(progress, "holdout: participation risk")
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
    from model.path_builder import paths_to_frame

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
    _step(progress, "plans: planner")
    scored = planner.recommender.scored_candidates(view)
    paths["planner"] = planner_paths(planner, view, risks, scored)
    if config.ablations:
        paths["planner_no_risk"] = planner_paths(planner, view, None, scored)
    for name in config.baselines:
        _step(progress, f"plans: baseline {name}")
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

    _step(progress, "plans: mentor pairing")
    mentor_metrics: dict[str, float] = {}
    if planner.mentor_scorer is not None:
        mentor_metrics = evaluate.mentor_pairing_report(
            view, planner.mentor_scorer, config.mentor_capacity, truth=truth, seed=config.seed
        )
    return rows, paths, mentor_metrics


def run_training(
    config: TrainConfig, settings: Settings, progress: Progress | None = None
) -> TrainResult:
    """The whole training job. The registry is touched only after everything else worked."""
    from training_pipeline import plots, tracking
    from training_pipeline.demo_truth import load_truth

    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    _step(progress, "loading and validating data")
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
        _step(progress, "fitting the final planner on all data")
        planner = fit_planner(tables, as_of, config, progress=progress)
        timings["fit_final"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        plan_rows, paths, mentor_metrics = evaluate_plans(
            tables, planner, as_of, config, truth, progress
        )
        timings["plans"] = time.perf_counter() - t0
        example = _input_example(tables, as_of, settings)

    comparison = _comparison_table(ranking_rows, plan_rows)
    metrics = _flat_metrics(comparison, risk_metrics, mentor_metrics)
    metrics.update(mentor_selection_metrics(planner.mentor_scorer))
    from model.gain_selection import selection_metrics  # the recommender's gain-model choice

    metrics.update(selection_metrics(planner.recommender))

    _step(progress, "logging to MLflow")
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
            version, decision = _register(planner, example, settings, config, metrics, tracking)
    timings["total"] = time.perf_counter() - t_start
    _RISK_FRAMES.clear()
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


def pyfunc_params(planner: Any) -> dict[str, Any]:
    """The plan policy a pyfunc caller may change per call, with the trained defaults
    (an empty `model_version` means "none stated")."""
    return {
        "jp_budget": int(planner.jp_budget),
        "mentor_capacity": int(planner.mentor_capacity),
        "with_mentors": True,
        "model_version": "",
    }


def _register(
    planner: Any,
    example: pd.DataFrame,
    settings: Settings,
    config: TrainConfig,
    metrics: Mapping[str, float],
    tracking: Any,
) -> tuple[str, Any]:
    """Log the pyfunc, register a version, alias it challenger, then apply the gate."""
    from model.pyfunc_model import PLANNER_ARTIFACT, PlannerPyfunc

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "planner.joblib"
        joblib.dump(planner, path, compress=3)
        version = tracking.log_pyfunc_model(
            PlannerPyfunc(planner),
            {PLANNER_ARTIFACT: str(path)},
            example,
            settings.model_name,
            pip_requirements=_requirements(),
            metadata={"as_of": str(example[AS_OF].iloc[0])},
            params=pyfunc_params(planner),
        )
    name = settings.model_name
    champion = tracking.alias_version(name, tracking.CHAMPION)
    champion_metrics = tracking.version_metrics(champion) if champion is not None else None
    decision = tracking.decide_gate(
        metrics,
        champion_metrics,
        None if champion is None else str(champion.version),
        config.gate_metric,
        config.gate_tolerance,
    )
    # The decision is recorded before any alias moves: aliases are the very last step, so a
    # run that fails anywhere earlier never changes what the service loads.
    tracking.log_dict(decision.as_dict(), "gate_decision.json")
    tracking.log_metrics(decision.as_metrics())
    tracking.set_tags(
        {
            "gate.promote": str(decision.promote),
            "gate.reason": decision.reason,
            "gate.metric": decision.metric,
        }
    )
    tracking.set_alias(name, tracking.CHALLENGER, version.version)
    if decision.promote:
        tracking.set_alias(name, tracking.CHAMPION, version.version)
    return str(version.version), decision


def _input_example(
    tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, settings: Settings
) -> pd.DataFrame:
    """Three employees in the pyfunc's input format, with NIPs pseudonymised."""
    fs = build_features(tables, as_of)
    view = employee_view(tables, fs)
    nips = view.employees[c.NIP].head(3).tolist()
    frame = to_plan_input(view.subset(nips))
    for col in (c.NIP, c.SUPERVISOR_NIP):
        frame[col] = pseudonymize_many(frame[col].fillna(""), settings.pseudonym_key)
        frame.loc[frame[col] == pseudonymize_many([""], settings.pseudonym_key)[0], col] = None
    return frame


def _requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ["scikit-learn", "pandas", "numpy", "scipy", "joblib", "pyarrow"]
    return [f"{p}=={version(p)}" for p in pkgs]
