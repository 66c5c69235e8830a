"""The training stage's commands: train, models, promote, plan, pair.

Composed into the `kompeten` command by `kompeten.cli`. Heavy libraries are imported inside the
commands that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from features.cli_support import (
    DataDir,
    console,
    dataset_error_exit,
    out,
    parse_date,
    print_summary,
    progress_bar,
    require_folder,
)

app = typer.Typer()

# The defaults come from Settings (KOMPETEN_JP_BUDGET, KOMPETEN_MENTOR_CAPACITY), read when the
# command runs: None here means "not given on the command line".
JpBudget = Annotated[
    int | None,
    typer.Option(
        "--jp-budget",
        min=1,
        max=200,
        show_default=False,
        help="JP (lesson hours) a training path may use; paths aim for at least 20 JP a "
        "year (PP 11/2017 art. 203(4), as amended by PP 17/2020) when the budget allows. "
        "Default: the KOMPETEN_JP_BUDGET setting (40).",
    ),
]
MentorCapacity = Annotated[
    int | None,
    typer.Option(
        "--mentor-capacity",
        min=1,
        max=20,
        show_default=False,
        help="Mentees per mentor, ongoing mentorships included. "
        "Default: the KOMPETEN_MENTOR_CAPACITY setting (3).",
    ),
]


@app.command("train")
def train(
    data: DataDir = Path("var/demo"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date the plans are for (default: last date in the data)."),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="Hidden-truth folder of demo data, for exact gap-closure evaluation "
            "(default: <data>-truth when it exists). Models never read it.",
        ),
    ] = None,
    jp_budget: JpBudget = None,
    mentor_capacity: MentorCapacity = None,
    no_ablations: Annotated[
        bool, typer.Option("--no-ablations", help="Skip the ablation fits (faster).")
    ] = False,
    register: Annotated[
        bool,
        typer.Option("--register/--no-register", help="Register the model and apply the gate."),
    ] = True,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Train the planner: validate, build features, time split, fit, evaluate, log to MLflow.

    Evaluates the planner against baselines (popularity, content-only rule, implicit ALS) on
    the year after a cutoff, logs params, metrics, plots and the comparison table to MLflow,
    registers ONE pyfunc model `kompeten-planner`, aliases it `challenger`, and makes it
    `champion` only if none exists or it is not worse on the gate metric (KOMPETEN_GATE_METRIC,
    default the estimated gap closed per employee by the holdout plans, refused only when worse
    beyond its bootstrap interval or when a plan breaks a rule; KOMPETEN_GATE_TOLERANCE).
    Prints the decision and why. A failed run never touches the champion.
    """
    from features.io import DatasetError
    from features.settings import get_settings
    from training_pipeline.run_config import TrainConfig
    from training_pipeline.train import run_training

    require_folder(data)
    settings = get_settings()
    settings.ensure_home()
    jp_budget = settings.jp_budget if jp_budget is None else jp_budget
    mentor_capacity = settings.mentor_capacity if mentor_capacity is None else mentor_capacity
    truth_dir = truth
    if truth_dir is None:
        sibling = data.parent / f"{data.name}-truth"
        truth_dir = sibling if sibling.is_dir() else None
    config = TrainConfig(
        data_dir=data,
        as_of=parse_date(as_of, "--as-of"),
        truth_dir=truth_dir,
        jp_budget=jp_budget,
        min_jp=min(settings.min_jp_per_year, jp_budget),
        mentor_capacity=mentor_capacity,
        seed=seed,
        register=register,
        gate_metric=settings.gate_metric,
        gate_tolerance=settings.gate_tolerance,
        ablations=not no_ablations,
    )
    try:
        with progress_bar() as progress:
            task = progress.add_task("training", total=None)

            def _report(step: str, fraction: float) -> None:
                progress.update(task, description=step)

            result = run_training(config, settings, _report)
            progress.update(task, description="done", total=1, completed=1)
    except DatasetError as exc:
        dataset_error_exit(exc)
        return
    shown = {
        "holdout_est_gap_closed_per_employee": "gate: est. closed",
        "holdout_rule_violations": "rules broken",
        "holdout_ndcg_at_10": "NDCG@10",
        "holdout_recall_at_10": "recall@10",
        "holdout_catalog_coverage": "coverage",
        "true_closure_per_jp": "true gap closed/JP",
        "est_closure_per_jp": "est. gap closed/JP",
        "share_reaching_min_jp": "share >= 20 JP",
    }
    from rich.table import Table

    table = Table(title="Model vs baselines (details in MLflow)")
    table.add_column("model", no_wrap=True)
    cols = [col for col in shown if col in result.comparison.columns]
    for col in cols:
        table.add_column(shown[col], justify="right")
    for name, row in result.comparison.iterrows():
        table.add_row(str(name), *[_fmt(row.get(col)) for col in cols])
    out.print(table)
    m = result.metrics
    if "holdout_risk_auc" in m:
        out.print(
            f"participation risk (next year's drop-outs): AUC {m['holdout_risk_auc']:.3f} vs "
            f"past rate alone {m.get('holdout_risk_baseline_auc', float('nan')):.3f}; "
            f"Brier {m.get('holdout_risk_brier', float('nan')):.3f}"
        )
    kind = "true" if "mentor_learned_true_benefit" in m else "predicted"
    if f"mentor_learned_{kind}_benefit" in m:
        out.print(
            f"mentor pairing ({kind} benefit, {int(m.get('mentor_n_pairs', 0))} pairs): "
            f"optimal {m[f'mentor_learned_{kind}_benefit']:.1f}, "
            "highest-level rule "
            f"{m.get(f'mentor_highest_level_{kind}_benefit', float('nan')):.1f}, "
            f"random {m.get(f'mentor_random_{kind}_benefit', float('nan')):.1f}"
        )
    candidates = {
        k.removeprefix("mentor_candidate_").removesuffix("_heldout_benefit"): v
        for k, v in m.items()
        if k.startswith("mentor_candidate_")
    }
    if candidates:
        out.print(
            "mentor scorer candidates (estimated benefit of their assignments on "
            f"{int(m.get('mentor_heldout_n_observed', 0))} later mentorships): "
            + ", ".join(f"{k} {v:.1f}" for k, v in candidates.items())
        )
    out.print(
        f"gate ({config.gate_metric}): "
        f"{'PROMOTED to champion' if result.promoted else 'NOT promoted'} because "
        f"{result.gate_reason}"
    )
    out.print(
        f"run {result.run_id}; model version {result.version or '-'}; "
        f"{result.timings.get('total', 0):.0f} s"
    )


def _fmt(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if v != v else f"{v:.4f}"


@app.command("models")
def models() -> None:
    """List registered versions of the planner with aliases and key holdout metrics."""
    from rich.table import Table

    from features.settings import get_settings
    from training_pipeline import tracking

    settings = get_settings()
    tracking.configure(settings)
    rows = tracking.list_versions(settings.model_name)
    if not rows:
        out.print(f"no versions of {settings.model_name} yet: run `kompeten train`")
        return
    labels = {
        "holdout_ndcg_at_10": "NDCG@10",
        "holdout_recall_at_10": "recall@10",
        "holdout_risk_auc": "risk AUC",
        "true_closure_per_jp": "true closure/JP",
    }
    keys = ["version", "aliases", "created"] + [k for k in labels if k in rows[0]]
    table = Table(*[labels.get(k, k) for k in keys], title=settings.model_name)
    for row in rows:
        table.add_row(*[_fmt(row[k]) if k in labels else str(row[k]) for k in keys])
    out.print(table)


@app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="Model version to make champion.")],
) -> None:
    """Make VERSION the champion (the service picks it up without a restart)."""
    from features.settings import get_settings
    from training_pipeline import tracking

    settings = get_settings()
    tracking.configure(settings)
    known = {row["version"] for row in tracking.list_versions(settings.model_name)}
    if version not in known:
        console.print(f"{settings.model_name} has no version {version}; known: {sorted(known)}")
        raise typer.Exit(code=1)
    tracking.set_alias(settings.model_name, tracking.CHAMPION, version)
    out.print(f"{settings.model_name} v{version} is now champion")


@app.command("plan")
def plan(
    data: DataDir = Path("var/demo"),
    out_file: Annotated[Path, typer.Option("--out", help="JSON Lines file to write.")] = Path(
        "var/plans.jsonl"
    ),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Plan date (default: last date in the data).")
    ] = None,
    jp_budget: JpBudget = None,
    mentor_capacity: MentorCapacity = None,
    model_uri: Annotated[
        str | None,
        typer.Option("--model-uri", help="MLflow model URI (default: models:/<name>@champion)."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="pandas (this machine, --jobs worker processes) or spark (Apache Spark, one "
            "task per kecamatan/dinas; needs the `spark` extra (pyspark) and Java 17+).",
        ),
    ] = "pandas",
    spark_master: Annotated[
        str,
        typer.Option(
            "--spark-master", help="Spark master URL for --engine spark (local[*], spark://...)."
        ),
    ] = "local[*]",
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="Worker processes for --engine pandas (default: the CPUs available); "
            "the plans do not depend on it.",
        ),
    ] = None,
) -> None:
    """Write one development plan per active employee (JSON Lines) with the champion model.

    Each line: nip, gaps, training_path (ordered, with reasons in Bahasa Indonesia and
    English), total_jp, mentor (optimal assignment within each kecamatan/dinas),
    participation_risk and model_version. `--engine spark` writes the same file (and Parquet
    beside it, in <out>.spark/) from Spark; see docs/scale.md.
    """
    from features.io import DatasetError
    from features.settings import get_settings

    if engine not in ("pandas", "spark"):
        raise typer.BadParameter("must be pandas or spark", param_hint="--engine")
    run_plan_engine: Callable[..., dict[str, Any]]
    if engine == "spark":
        from training_pipeline.spark_plan import run_plan_spark

        run_plan_engine = run_plan_spark
    else:
        from training_pipeline.batch_plan import run_plan

        run_plan_engine = run_plan
    extra: dict[str, Any] = {"master": spark_master} if engine == "spark" else {"jobs": jobs}

    require_folder(data)
    settings = get_settings()
    try:
        with progress_bar() as progress:
            task = progress.add_task("planning", total=1.0)

            def _report(step: str, fraction: float) -> None:
                if fraction >= 0:
                    progress.update(task, description=step, completed=fraction)
                else:
                    progress.update(task, description=step)

            summary = run_plan_engine(
                data,
                out_file,
                settings,
                as_of=parse_date(as_of, "--as-of"),
                jp_budget=settings.jp_budget if jp_budget is None else jp_budget,
                mentor_capacity=(
                    settings.mentor_capacity if mentor_capacity is None else mentor_capacity
                ),
                model_uri=model_uri,
                progress=_report,
                **extra,
            )
    except DatasetError as exc:
        dataset_error_exit(exc)
        return
    except RuntimeError as exc:  # no model to plan with
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    print_summary("Plans written", summary)


@app.command("pair")
def pair(
    data: DataDir = Path("var/demo"),
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path(
        "var/mentor_pairs.csv"
    ),
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only this unit and its sub-units.")
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option(
            "--capacity",
            min=1,
            max=20,
            show_default=False,
            help="Mentees per mentor. Default: the KOMPETEN_MENTOR_CAPACITY setting (3).",
        ),
    ] = None,
    same_unit: Annotated[
        bool, typer.Option("--same-unit", help="Only mentors from the mentee's own unit.")
    ] = False,
    allow_supervisor: Annotated[
        bool, typer.Option("--allow-supervisor", help="Allow the direct supervisor as mentor.")
    ] = False,
    as_of: Annotated[str | None, typer.Option("--as-of")] = None,
    model_uri: Annotated[str | None, typer.Option("--model-uri")] = None,
) -> None:
    """Optimal mentor pairing (mentee_nip, mentor_nip, competency_id, score) as CSV.

    Maximises the total predicted benefit exactly under mentor capacity, seniority and level
    rules; for a whole organisation or one unit with its sub-units.
    """
    from features.io import DatasetError
    from features.settings import get_settings
    from training_pipeline.batch_plan import UnknownUnitError, run_pair

    require_folder(data)
    settings = get_settings()
    try:
        summary = run_pair(
            data,
            out_file,
            settings,
            unit=unit,
            capacity=settings.mentor_capacity if capacity is None else capacity,
            same_unit=same_unit,
            exclude_supervisor=not allow_supervisor,
            as_of=parse_date(as_of, "--as-of"),
            model_uri=model_uri,
        )
    except DatasetError as exc:
        dataset_error_exit(exc)
        return
    except UnknownUnitError as exc:
        raise typer.BadParameter(str(exc), param_hint="--unit") from None
    except RuntimeError as exc:  # no model to pair with
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    print_summary("Mentor pairs written", summary)
