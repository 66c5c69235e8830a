"""Gap closure of the planner's paths against the content rule and popularity, over sizes and seeds.

For every (employees, seed) a demo dataset is drawn with `demo_data.write_demo`, the
planner is fitted on everything up to the last day (`training_pipeline.train.fit_planner`) and
the paths of the planner and of the baselines, built by the same path builder, are scored
against the generator's hidden truth (`training_pipeline.train.evaluate_plans`): the expected
gap closed per JP, and in total. With `--holdout`, the holdout ranking of `kompeten train`
(`evaluate_holdout`: fit a year earlier, NDCG@10 against next year's completions) is added.
Models never read the truth; it is only used here, to score.

    .venv/bin/python -m experiments.gap_closure_study --sizes 400 3000 --seeds 42 1 2

writes `experiments/results/gap_closure.csv` (one row per size, seed and model) and prints
the planner / content ratio per run. Mentor pairing is not evaluated (not what this measures).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# Nothing here logs to MLflow; keep any accidental use away from the real tracking store.
_TMP = Path(tempfile.mkdtemp(prefix="kompeten-gap-study-"))
os.environ.setdefault("KOMPETEN_HOME", str(_TMP))
os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{_TMP / 'mlflow.db'}")

import pandas as pd  # noqa: E402

from demo_data import write_demo  # noqa: E402
from demo_data.truth import load_truth  # noqa: E402
from features.io import load_dataset  # noqa: E402
from training_pipeline import train  # noqa: E402

RESULTS = Path("experiments/results")
MODELS = ("planner", "content", "popularity")
#: Columns of the output, per (employees, seed, model).
COLUMNS = (
    "employees",
    "seed",
    "model",
    "true_closure_per_jp",
    "true_gap_closed",
    "true_share_of_gap_closed",
    "mean_path_jp",
    "share_reaching_min_jp",
    "holdout_ndcg_at_10",
    "fit_seconds",
)


def run_one(
    employees: int, seed: int, workdir: Path, holdout: bool = False, baselines=MODELS[1:]
) -> pd.DataFrame:
    """One demo dataset: the planner and `baselines`, one row per model (`COLUMNS`)."""
    data_dir = workdir / f"demo-{employees}-{seed}"
    truth_dir = workdir / f"demo-{employees}-{seed}-truth"
    write_demo(data_dir, n_employees=employees, seed=seed, truth_dir=truth_dir, fmt="parquet")
    tables = load_dataset(data_dir)
    truth = load_truth(truth_dir)
    as_of = train.latest_date(tables)
    config = train.TrainConfig(
        data_dir=data_dir,
        truth_dir=truth_dir,
        baselines=tuple(baselines),
        ablations=False,
        register=False,
    )
    t0 = time.perf_counter()
    planner = train.fit_planner(tables, as_of, config)
    fit_seconds = time.perf_counter() - t0
    planner.mentor_scorer = None  # mentor pairing is not what this study measures
    rows, _, _ = train.evaluate_plans(tables, planner, as_of, config, truth)
    ndcg: dict[str, float] = {}
    if holdout:
        ranking, _, _ = train.evaluate_holdout(tables, as_of, config)
        ndcg = {name: r.get("ndcg_at_k", float("nan")) for name, r in ranking.items()}
    out = []
    for name, row in rows.items():
        out.append(
            {
                "employees": employees,
                "seed": seed,
                "model": name,
                **{k: row.get(k, float("nan")) for k in COLUMNS[3:8]},
                "holdout_ndcg_at_10": ndcg.get(name, float("nan")),
                "fit_seconds": fit_seconds if name == "planner" else float("nan"),
            }
        )
    return pd.DataFrame(out, columns=list(COLUMNS))


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per (employees, seed): closure per JP of each model and the planner / content ratio."""
    wide = results.pivot_table(
        index=["employees", "seed"], columns="model", values="true_closure_per_jp"
    )
    if {"planner", "content"} <= set(wide.columns):
        wide["planner_vs_content"] = wide["planner"] / wide["content"]
    return wide


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--holdout", action="store_true", help="add the holdout NDCG@10")
    parser.add_argument("--out", type=Path, default=RESULTS / "gap_closure.csv")
    args = parser.parse_args(argv)

    frames = []
    with tempfile.TemporaryDirectory(prefix="kompeten-gap-data-") as tmp:
        for employees in args.sizes:
            for seed in args.seeds:
                t0 = time.perf_counter()
                frame = run_one(employees, seed, Path(tmp), holdout=args.holdout)
                frames.append(frame)
                by = frame.set_index("model")["true_closure_per_jp"]
                print(
                    f"{employees:>7} employees, seed {seed:>3}: "
                    + ", ".join(f"{m} {v:.5f}" for m, v in by.items())
                    + f"  ({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    results = pd.concat(frames, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results.round(6).to_csv(args.out, index=False)
    print(summary(results).round(5).to_string())
    print(f"written {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
