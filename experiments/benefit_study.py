"""Does the estimated benefit rank policies like the true one, and how close are we to the best?

For every (employees, seed) a demo dataset is drawn, the planner is fitted on everything up to
the last day and the paths of the planner, the content rule, implicit ALS and popularity are
built by the same path builder (`training_pipeline.train.evaluate_plans`). Each is scored
twice: by the hidden truth (exact expected gap closed per employee) and by the estimator the
gate uses on real data (`training_pipeline.evaluate.gap_closure_estimated`, fitted on observed
outcomes only, with its bootstrap interval). The oracle (`evaluate.oracle_paths`: the path
builder fed the true completion probabilities, gains and levels) gives the best possible
paths. With `--holdout`, the gate metric itself (plans made at the holdout cutoff by models
fitted before it, `training_pipeline.holdout.evaluate_holdout`) is added per policy. Models
never read the truth.

    .venv/bin/python -m experiments.benefit_study --sizes 1000 5000 --seeds 1 2 3 4 5

writes `experiments/results/benefit_study.csv` (one row per size, seed and policy) and
`experiments/results/benefit_study_summary.csv` (one row per size and seed: planner / oracle,
planner / content, and whether the estimated order of the four policies equals the true one).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="kompeten-benefit-study-"))
os.environ.setdefault("KOMPETEN_HOME", str(_TMP))
os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{_TMP / 'mlflow.db'}")

import pandas as pd  # noqa: E402

from demo_data import write_demo  # noqa: E402
from demo_data.truth import load_truth  # noqa: E402
from features.build import build_features  # noqa: E402
from features.io import load_dataset  # noqa: E402
from features.plan_input import employee_view  # noqa: E402
from model.ranker import GAIN_PRIORS  # noqa: E402
from training_pipeline import evaluate, train  # noqa: E402
from training_pipeline.holdout import evaluate_holdout, evaluation_view  # noqa: E402

RESULTS = Path("experiments/results")
POLICIES = ("planner", "content", "als", "popularity")
TRUE = "true_gap_closed_per_employee"
EST = "est_gap_closed_per_employee"
GATE = "holdout_est_gap_closed_per_employee"


def run_one(employees: int, seed: int, workdir: Path, holdout: bool = False) -> pd.DataFrame:
    """One demo world: a row per policy and the oracle, true and estimated closure."""
    data_dir = workdir / f"demo-{employees}-{seed}"
    truth_dir = workdir / f"demo-{employees}-{seed}-truth"
    write_demo(data_dir, n_employees=employees, seed=seed, truth_dir=truth_dir, fmt="parquet")
    tables = load_dataset(data_dir)
    truth = load_truth(truth_dir)
    as_of = train.latest_date(tables)
    config = train.TrainConfig(
        data_dir=data_dir,
        truth_dir=truth_dir,
        baselines=POLICIES[1:],
        ablations=False,
        register=False,
        seed=seed,
    )
    planner = train.fit_planner(tables, as_of, config)
    planner.mentor_scorer = None  # mentor pairing is not what this study measures
    rows, _, _ = train.evaluate_plans(tables, planner, as_of, config, truth)
    view = evaluation_view(employee_view(tables, build_features(tables, as_of)), tables, config)
    oracle = evaluate.oracle_paths(truth, view, planner.catalog, config.jp_budget, config.min_jp)
    row = evaluate.gap_closure_with_truth(truth, tables, oracle)
    broken = evaluate.path_rule_violations(oracle, view, planner.catalog, config.jp_budget)
    row["rule_violations"] = float(len(broken))
    rows["oracle"] = row
    selection = getattr(planner.recommender, "gain_selection_", {})
    gate: dict[str, dict[str, float]] = {}
    if holdout:
        gate, _, _ = evaluate_holdout(tables, as_of, config)
    out = []
    for name, values in rows.items():
        holdout_row = gate.get(name, {})
        out.append(
            {
                "employees": employees,
                "seed": seed,
                "model": name,
                TRUE: values.get(TRUE, float("nan")),
                EST: values.get(EST, float("nan")),
                "est_ci_low": values.get("est_gap_closed_ci_low", float("nan")),
                "est_ci_high": values.get("est_gap_closed_ci_high", float("nan")),
                "true_closure_per_jp": values.get("true_closure_per_jp", float("nan")),
                "rule_violations": values.get("rule_violations", float("nan")),
                GATE: holdout_row.get("est_gap_closed_per_employee", float("nan")),
                "holdout_ci_low": holdout_row.get("est_gap_closed_ci_low", float("nan")),
                "holdout_ci_high": holdout_row.get("est_gap_closed_ci_high", float("nan")),
                "holdout_rule_violations": holdout_row.get("rule_violations", float("nan")),
                "holdout_ndcg_at_10": holdout_row.get("ndcg_at_k", float("nan")),
                # The planner's gain model, chosen by estimated benefit inside its own fit.
                "gain_prior": selection.get("chosen") if name == "planner" else None,
                **{
                    f"selection_est_{prior}": selection.get(prior, float("nan"))
                    for prior in GAIN_PRIORS
                    if name == "planner"
                },
            }
        )
    return pd.DataFrame(out)


def _order(values: pd.Series) -> str:
    return ">".join(values.sort_values(ascending=False).index)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per (employees, seed): ratios to the oracle and the content rule, and rank agreement."""
    out = []
    for (employees, seed), group in results.groupby(["employees", "seed"], sort=False):
        by = group.set_index("model")
        four = by.loc[[p for p in POLICIES if p in by.index]]
        row = {
            "employees": employees,
            "seed": seed,
            "planner_vs_oracle": by.at["planner", TRUE] / by.at["oracle", TRUE],
            "planner_vs_content": by.at["planner", TRUE] / by.at["content", TRUE],
            "planner_vs_popularity": by.at["planner", TRUE] / by.at["popularity", TRUE],
            "true_order": _order(four[TRUE]),
            "estimated_order": _order(four[EST]),
        }
        row["same_order"] = row["true_order"] == row["estimated_order"]
        row["gain_prior"] = by.at["planner", "gain_prior"] if "gain_prior" in by else None
        if four[GATE].notna().all():
            row["holdout_order"] = _order(four[GATE])
            row["holdout_same_order"] = row["holdout_order"] == row["true_order"]
        row["max_rule_violations"] = float(by["rule_violations"].max())
        out.append(row)
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--holdout", action="store_true", help="add the gate metric per policy")
    parser.add_argument("--out", type=Path, default=RESULTS / "benefit_study.csv")
    args = parser.parse_args(argv)

    frames = []
    with tempfile.TemporaryDirectory(prefix="kompeten-benefit-data-") as tmp:
        for employees in args.sizes:
            for seed in args.seeds:
                t0 = time.perf_counter()
                frame = run_one(employees, seed, Path(tmp), holdout=args.holdout)
                frames.append(frame)
                line = summary(frame).iloc[0]
                print(
                    f"{employees:>6} employees, seed {seed:>3}: planner/oracle "
                    f"{line['planner_vs_oracle']:.3f} (gain prior {line['gain_prior']}), "
                    f"planner/content "
                    f"{line['planner_vs_content']:.3f}, order true {line['true_order']}, "
                    f"estimated {line['estimated_order']} ({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    results = pd.concat(frames, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results.round(6).to_csv(args.out, index=False)
    table = summary(results)
    table.round(4).to_csv(args.out.with_name(args.out.stem + "_summary.csv"), index=False)
    print(table.round(3).to_string(index=False))
    print(f"written {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
