"""Time demo generation + CSV writing at 10,000 and 100,000 employees.

Run: .venv/bin/python benchmarks/bench_demo_data.py [--repeats 3] [--sizes 10000 100000]
Prints one line per size and writes benchmarks/results/demo_data.json. The budget is
100,000 employees (1,000 courses) generated and written in under 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path
from time import perf_counter

from demo_data import write_demo

RESULTS = Path(__file__).parent / "results" / "demo_data.json"
BUDGET_SECONDS_100K = 120.0


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def bench(n_employees: int, n_courses: int, repeats: int, fmt: str) -> dict:
    runs = []
    for repeat in range(repeats):
        root = Path(tempfile.mkdtemp(prefix="bench-demo-"))
        try:
            start = perf_counter()
            summary = write_demo(
                root / "demo", n_employees=n_employees, seed=repeat, n_courses=n_courses, fmt=fmt
            )
            total = perf_counter() - start
            runs.append(
                {
                    "total_seconds": total,
                    "generate_seconds": summary["generate_seconds"],
                    "write_seconds": summary["write_seconds"],
                    "dataset_bytes": _folder_bytes(root / "demo"),
                    "truth_bytes": _folder_bytes(root / "demo-truth"),
                    "rows": summary["rows"],
                }
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "n_employees": n_employees,
        "n_courses": n_courses,
        "format": fmt,
        "repeats": repeats,
        "median_total_seconds": round(statistics.median(r["total_seconds"] for r in runs), 3),
        "median_generate_seconds": round(statistics.median(r["generate_seconds"] for r in runs), 3),
        "median_write_seconds": round(statistics.median(r["write_seconds"] for r in runs), 3),
        "dataset_mb": round(runs[0]["dataset_bytes"] / 1e6, 1),
        "truth_mb": round(runs[0]["truth_bytes"] / 1e6, 1),
        "rows": runs[0]["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3, help="repeats at sizes <= 10,000")
    parser.add_argument("--large-repeats", type=int, default=1, help="repeats above 10,000")
    parser.add_argument("--courses-large", type=int, default=1000)
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    args = parser.parse_args()

    results = []
    for n in args.sizes:
        large = n > 10_000
        result = bench(
            n,
            n_courses=args.courses_large if large else 150,
            repeats=args.large_repeats if large else args.repeats,
            fmt=args.format,
        )
        results.append(result)
        print(
            f"{n:>9,} employees, {result['n_courses']:>5} courses: "
            f"total {result['median_total_seconds']:7.2f} s "
            f"(generate {result['median_generate_seconds']:.2f} s, "
            f"write {result['median_write_seconds']:.2f} s), "
            f"{result['rows']['enrollments']:,} enrollments, "
            f"{result['rows']['assessments']:,} assessments, {result['dataset_mb']} MB"
        )
    at_100k = [r for r in results if r["n_employees"] == 100_000]
    payload = {
        "benchmark": "demo_data",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "budget_seconds_100k": BUDGET_SECONDS_100K,
        "within_budget_100k": (
            at_100k[0]["median_total_seconds"] < BUDGET_SECONDS_100K if at_100k else None
        ),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
