"""Benchmark: `build_features` at city scale (target: 100,000 employees in under 60 s).

Generates the demo dataset (`demo_data.generate_demo`), then times
`build_features(tables, as_of)` `--repeat` times and reports the median of every stage
(`FeatureSet.timings`: as_of cut, assessment history, competency gaps, evaluation, course
effects, course vectors, mentor stats, mentor vectors) plus the dense matrices.

Run: ``.venv/bin/python benchmarks/bench_features.py [--employees 100000] [--repeat 3]``.
Writes ``benchmarks/results/features.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import pandas as pd

from features import columns as c
from features.build import build_features

RESULTS = Path(__file__).parent / "results" / "features.json"
BUDGET_SECONDS = 60.0


def default_as_of(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The latest date with history (so nearly everything is visible and the work is maximal)."""
    dates = [
        tables[c.ASSESSMENTS][c.ASSESSED_ON].max(),
        tables[c.ENROLLMENTS][c.START_DATE].max(),
    ]
    return max(d for d in dates if pd.notna(d)).normalize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--as-of", default=None, help="YYYY-MM-DD; default: last dated event")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from demo_data import generate_demo

    start = time.perf_counter()
    tables = generate_demo(n_employees=args.employees, seed=args.seed).tables
    generate_s = time.perf_counter() - start
    rows = {name: len(frame) for name, frame in tables.items()}
    as_of = pd.Timestamp(args.as_of) if args.as_of else default_as_of(tables)
    print(f"generated {args.employees:,} employees in {generate_s:.1f} s; as_of {as_of.date()}")
    for name, n in rows.items():
        print(f"  {name:<24}{n:>12,}")

    runs: list[dict[str, float]] = []
    for i in range(args.repeat):
        start = time.perf_counter()
        features = build_features(tables, as_of)
        total = time.perf_counter() - start
        start = time.perf_counter()
        _ = features.matrices
        stages = dict(features.timings, matrices=time.perf_counter() - start, total=total)
        runs.append(stages)
        print(
            f"run {i + 1}: {total:.2f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in stages.items())
        )

    median = {stage: statistics.median(run[stage] for run in runs) for stage in runs[0]}
    shapes = {
        name: list(getattr(features, name).shape)
        for name in (
            "competency",
            "evaluation",
            "courses",
            "course_competencies",
            "mentors",
            "mentor_stats",
        )
    }
    print("median seconds per stage:")
    for stage, seconds in median.items():
        print(f"  {stage:<16}{seconds:>8.2f}")
    verdict = "within" if median["total"] < BUDGET_SECONDS else "OVER"
    print(f"total {median['total']:.2f} s: {verdict} the {BUDGET_SECONDS:.0f} s budget")

    result = {
        "benchmark": "features",
        "employees": args.employees,
        "seed": args.seed,
        "as_of": str(as_of.date()),
        "repeat": args.repeat,
        "rows": rows,
        "generate_seconds": round(generate_s, 3),
        "median_seconds": {k: round(v, 3) for k, v in median.items()},
        "runs": [{k: round(v, 3) for k, v in run.items()} for run in runs],
        "feature_shapes": shapes,
        "budget_seconds": BUDGET_SECONDS,
        "within_budget": median["total"] < BUDGET_SECONDS,
        "machine": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "processor": platform.machine(),
        },  # fmt: skip
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
