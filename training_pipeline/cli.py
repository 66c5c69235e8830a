"""The `kompeten` command line: one entry point, one subcommand per job.

Heavy libraries (mlflow, sklearn, fastapi) are imported inside the commands that need them, so
`kompeten validate` and `kompeten --help` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    name="kompeten",
    help=(
        "kompeten: competency-development recommendations for ASN (civil servants).\n\n"
        "Turns HR data (the dataset contract, see docs/data-contract.md) into development plans: "
        "training paths that close competency gaps within the JP budget, mentor pairings, and "
        "participation risk. Configuration comes from KOMPETEN_* environment variables and "
        "MLFLOW_TRACKING_URI (see README)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Dataset folder following the data contract (CSV or Parquet per table).",
        exists=False,
    ),
]


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date (YYYY-MM-DD)", param_hint=option
        ) from None


def _require_folder(path: Path, option: str = "--data") -> None:
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is not a folder", param_hint=option)


JpBudget = Annotated[
    int,
    typer.Option(
        "--jp-budget",
        min=1,
        max=200,
        help="JP (lesson hours) a training path may use; paths aim for at least 20 JP a "
        "year (PP 17/2020) when the budget allows.",
    ),
]
MentorCapacity = Annotated[
    int,
    typer.Option(
        "--mentor-capacity",
        min=1,
        max=20,
        help="Mentees per mentor, ongoing mentorships included.",
    ),
]


@app.command("demo-data")
def demo_data(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")] = Path(
        "var/demo"
    ),
    employees: Annotated[
        int, typer.Option("--employees", min=10, max=5_000_000, help="Number of employees.")
    ] = 400,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 42,
    years: Annotated[
        int, typer.Option("--years", min=1, max=15, help="Years of history to simulate.")
    ] = 4,
    truth_out: Annotated[
        Path | None,
        typer.Option(
            "--truth-out",
            help="Side folder for the hidden truth used only by evaluation "
            "(default: <out>-truth). Models never read it.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write a realistic demo dataset for Kecamatan Kertapati (Kota Palembang).

    Units, the Permenpan RB 38/2017 competencies, positions with required levels, a training
    catalog, and several years of assessments, SKP reviews, enrollments and mentorships. The
    output always passes `kompeten validate`.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from training_pipeline.demo_data import write_demo

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("must be csv or parquet", param_hint="--format")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("demo data", total=1.0)

        def _report(step: str, fraction: float) -> None:
            progress.update(task, description=step, completed=fraction)

        summary = write_demo(
            out_dir,
            n_employees=employees,
            seed=seed,
            years=years,
            truth_dir=truth_out,
            fmt=fmt,
            progress=_report,
        )
        progress.update(task, completed=1.0, description="done")
    shown = {k: v for k, v in summary.items() if k not in ("files", "truth_files")}
    _print_summary("Demo dataset written", shown)


def _print_summary(title: str, summary: dict) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(str(key), str(value))
    out.print(table)


@app.command("validate")
def validate(
    data: DataDir,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write every violation to this CSV file."),
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Violations to list before summarising.")
    ] = 50,
) -> None:
    """Check a dataset folder against the data contract.

    Exit 0 with row counts per table when every rule holds; exit 1 with a report naming file,
    line, column, value and rule for each violation (capped at --max-rows, then a count).
    """
    from features.validation import format_report, report_to_rows, validate_dataset

    _require_folder(data)
    result = validate_dataset(data)
    if report is not None:
        import csv

        rows = report_to_rows(result)
        report.parent.mkdir(parents=True, exist_ok=True)
        with report.open("w", newline="", encoding="utf-8") as fh:
            fieldnames = list(rows[0].keys()) if rows else ["file", "line", "column", "rule"]
            writer = csv.DictWriter(fh, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
    text = format_report(result, max_rows=max_rows)
    if result.ok:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _progress_bar():
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _dataset_error_exit(exc: Exception) -> None:
    """Print a dataset's row-level report and exit 1 (never a traceback)."""
    report = getattr(exc, "report", None)
    if report is not None:
        from features.validation import format_report

        console.print(format_report(report), markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


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
    jp_budget: JpBudget = 40,
    mentor_capacity: MentorCapacity = 3,
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
    from training_pipeline.train import TrainConfig, run_training

    _require_folder(data)
    settings = get_settings()
    settings.ensure_home()
    truth_dir = truth
    if truth_dir is None:
        sibling = data.parent / f"{data.name}-truth"
        truth_dir = sibling if sibling.is_dir() else None
    config = TrainConfig(
        data_dir=data,
        as_of=_parse_date(as_of, "--as-of"),
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
        with _progress_bar() as progress:
            task = progress.add_task("training", total=None)

            def _report(step: str, fraction: float) -> None:
                progress.update(task, description=step)

            result = run_training(config, settings, _report)
            progress.update(task, description="done", total=1, completed=1)
    except DatasetError as exc:
        _dataset_error_exit(exc)
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
    jp_budget: JpBudget = 40,
    mentor_capacity: MentorCapacity = 3,
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

    _require_folder(data)
    settings = get_settings()
    try:
        with _progress_bar() as progress:
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
                as_of=_parse_date(as_of, "--as-of"),
                jp_budget=jp_budget,
                mentor_capacity=mentor_capacity,
                model_uri=model_uri,
                progress=_report,
                **extra,
            )
    except DatasetError as exc:
        _dataset_error_exit(exc)
        return
    except RuntimeError as exc:  # no model to plan with
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    _print_summary("Plans written", summary)


@app.command("pair")
def pair(
    data: DataDir = Path("var/demo"),
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path(
        "var/mentor_pairs.csv"
    ),
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only this unit and its sub-units.")
    ] = None,
    capacity: Annotated[int, typer.Option("--capacity", min=1, max=20)] = 3,
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

    _require_folder(data)
    settings = get_settings()
    try:
        summary = run_pair(
            data,
            out_file,
            settings,
            unit=unit,
            capacity=capacity,
            same_unit=same_unit,
            exclude_supervisor=not allow_supervisor,
            as_of=_parse_date(as_of, "--as-of"),
            model_uri=model_uri,
        )
    except DatasetError as exc:
        _dataset_error_exit(exc)
        return
    except UnknownUnitError as exc:
        raise typer.BadParameter(str(exc), param_hint="--unit") from None
    except RuntimeError as exc:  # no model to pair with
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    _print_summary("Mentor pairs written", summary)


@app.command("experiment")
def experiment(
    name: Annotated[
        str,
        typer.Argument(help="baselines, jp-budget, candidates or risk-threshold."),
    ],
    data: DataDir = Path("var/demo"),
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Hidden truth (default: <data>-truth).")
    ] = None,
) -> None:
    """Re-run an MLflow experiment definition (experiments/definitions.py) on a dataset.

    Each variant is an unregistered training run in the MLflow experiment kompeten-exp-NAME;
    the comparison of every variant against the baselines and ablations is written to
    experiments/results/NAME.csv. Experiments never change the champion.
    """
    from experiments.definitions import EXPERIMENTS
    from experiments.runner import run_experiment
    from features.io import DatasetError
    from features.settings import get_settings
    from training_pipeline.train import TrainConfig

    if name not in EXPERIMENTS:
        raise typer.BadParameter(
            f"unknown experiment; known: {', '.join(sorted(EXPERIMENTS))}", param_hint="NAME"
        )
    _require_folder(data)
    settings = get_settings()
    settings.ensure_home()
    if truth is None:
        sibling = data.parent / f"{data.name}-truth"
        truth = sibling if sibling.is_dir() else None
    base = TrainConfig(data_dir=data, truth_dir=truth)
    try:
        with _progress_bar() as progress:
            task = progress.add_task(name, total=None)
            table, path = run_experiment(
                name, base, settings, lambda step, _f: progress.update(task, description=step)
            )
    except DatasetError as exc:
        _dataset_error_exit(exc)
        return
    cols = [
        col
        for col in ("variant", "model", "holdout_ndcg_at_10", "true_closure_per_jp",
                    "est_closure_per_jp", "share_reaching_min_jp")
        if col in table.columns
    ]  # fmt: skip
    out.print(table[cols].round(4).to_string(index=False), soft_wrap=True)
    out.print(f"comparison written to {path}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option("--workers", min=1, max=64, help="Worker processes (each loads the model)."),
    ] = 1,
) -> None:
    """Serve the recommendation API (FastAPI on uvicorn) from the `champion` model.

    The service answers /healthz at once and /readyz once the champion and the data are
    loaded. It picks up a newly promoted champion (or new data) by polling
    (KOMPETEN_MODEL_POLL_SECONDS) or on POST /v1/admin/reload, without a restart, and
    keeps serving what it has when MLflow is unreachable. OpenAPI docs: /docs.

    Served predictions are recorded by the workers and shipped to MLflow by a separate,
    lower-priority process that this command starts and stops with the service.
    """
    import copy
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from serving.access_log import install as install_access_filter
    from serving.prediction_shipper import ShipperSupervisor

    # uvicorn applies this in every worker: the service's own log lines (model loaded,
    # reload failed, unhandled errors) go where uvicorn's go.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["kompeten"] = {"handlers": ["default"], "level": "INFO"}
    install_access_filter(log_config)  # request lines name NIPs: pseudonymise them
    os.environ["KOMPETEN_SERVE_PREDICTION_SHIPPING"] = "process"  # read by every worker
    shipper = ShipperSupervisor().start()
    try:
        uvicorn.run(
            "serving.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config,
        )
    finally:
        shipper.stop()


keys_app = typer.Typer(help="API keys for the recommendation service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option("--role", help="hr_system, analyst or manager.", show_default=False)
    ],
    unit: Annotated[
        list[str] | None,
        typer.Option("--unit", help="A unit a manager key covers (with its sub-units); repeat."),
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Who the key is for.")] = "",
) -> None:
    """Issue an API key and print it ONCE; only its SHA-256 hash is stored."""
    from features.settings import get_settings
    from serving.db import open_database
    from serving.keys import Role, create_key

    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(
            "must be hr_system, analyst or manager", param_hint="--role"
        ) from None
    settings = get_settings()
    settings.ensure_home()
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        try:
            key, raw = create_key(session, role_value, unit or (), label)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--unit") from None
    console.print(
        f"key id {key.key_id}, role {key.role.value}"
        + (f", units {', '.join(sorted(key.units))}" if key.units else "")
        + ". Store the key now: it cannot be shown again."
    )
    out.print(raw, markup=False, highlight=False)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id to revoke.")]) -> None:
    """Revoke a key; the service stops accepting it within KOMPETEN_SERVE_KEY_CACHE_TTL_S."""
    from features.settings import get_settings
    from serving.db import open_database
    from serving.keys import revoke_key

    settings = get_settings()
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        if not revoke_key(session, key_id):
            console.print(f"no active key with id {key_id}")
            raise typer.Exit(code=1)
    out.print(f"revoked {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """List issued keys (ids, roles, units, dates; never the keys)."""
    from rich.table import Table

    from features.settings import get_settings
    from serving.db import open_database
    from serving.keys import list_keys

    settings = get_settings()
    table = Table("key id", "role", "units", "label", "created", "revoked")
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        for r in list_keys(session):
            table.add_row(
                r.key_id,
                r.role,
                ", ".join(r.units or []),
                r.label,
                f"{r.created_at:%Y-%m-%d %H:%M}",
                f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
            )
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
