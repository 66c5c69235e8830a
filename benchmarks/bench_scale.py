"""Benchmark: every pipeline stage at two or more sizes, with peak memory and growth ratios.

Stages (each run in a fresh subprocess, so its peak memory is its own): demo-data generation
(`write_demo`, CSV), validation (`validate_dataset`: read + contract checks), feature building
(`build_features`), training (`run_training`, register=True into a temporary MLflow, ablations
off), the recommender fit next to the baselines fitted in the same process (implicit ALS,
popularity), batch planning (`batch_plan.run_plan`: paths + mentors, pandas engine), one
planning group of 1k/4k/16k employees (what a large dinas costs, mentors exact within it),
and optionally the Spark engine (`spark_plan.run_plan_spark`, local[*]).

Peak memory is `resource.getrusage(RUSAGE_SELF).ru_maxrss` of the stage's process (so it
includes the interpreter and imports, ~0.3 GiB); for the Spark stage the peak of the summed
RSS of the process tree (driver, JVM, Python workers), sampled from /proc every 2 s. Cheap
stages repeat `--repeats` times (medians); a stage whose first run takes longer than
`--cheap-seconds` runs once. Growth from the smallest to the largest size: time ratio / size
ratio (1.0 = linear) and the exponent k of time ~ n^k; k > 1.15 is flagged superlinear.

Run: ``.venv/bin/python -m benchmarks [--sizes 10000,100000] [--courses 1000] [--repeats 3]
[--quick] [--spark-sizes 10000] [--no-api]``. Writes ``benchmarks/results/scale.json`` after
every stage (a long run that is stopped keeps what it measured).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from benchmarks.process_memory import TreeMemory
from benchmarks.scale_stages import STAGE_FUNCTIONS, STAGES

RESULTS = Path(__file__).parent / "results" / "scale.json"
BENCH_API = Path(__file__).parent / "bench_api.py"
DEFAULT_STAGES = (*STAGES[:6], "partition_scaling")
#: Targets on the 2-core machine at 100,000 employees (issue 7).
TARGETS_100K = {"training": 300.0, "planning": 120.0}
MEMORY_TARGET_MIB = 4096.0
SUPERLINEAR_EXPONENT = 1.15
RESULT_PREFIX = "BENCH-RESULT "


TREE_STAGES = frozenset({"planning", "spark_planning"})


def run_child(stage: str, work: Path, n: int, courses: int, seed: int) -> None:
    """Entry of the stage subprocess: run, then print one result line with peak memory."""
    # Sampling /proc costs ~30 ms a pass: only the Spark stage, whose memory is elsewhere.
    # Spark's JVM and workers, and the planning stage's forked workers, live below this process.
    with TreeMemory(interval=2.0) if stage in TREE_STAGES else nullcontext() as tree:
        result = STAGE_FUNCTIONS[stage](work, n, courses, seed)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    result["peak_rss_mib"] = own
    result["peak_child_rss_mib"] = children
    result["peak_tree_rss_mib"] = tree.peak_mib if tree is not None else own
    print(RESULT_PREFIX + json.dumps(result, default=_json_default), flush=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# --- orchestration (parent process) ------------------------------------------------------------


def run_stage(stage: str, work: Path, n: int, courses: int, seed: int, log: Path) -> dict[str, Any]:
    """One run of a stage in a fresh interpreter; its own stdout/stderr go to `log`."""
    cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--child", stage]
    cmd += ["--work", str(work), "--employees", str(n), "--courses", str(courses)]
    cmd += ["--seed", str(seed)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    root = Path(__file__).resolve().parent.parent
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n=== {stage} n={n} ===\n")
        fh.flush()
        proc = subprocess.run(
            cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=fh, text=True, check=False
        )
        fh.write(proc.stdout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"stage {stage} at {n:,} failed (exit {proc.returncode}); see {log}")
    return json.loads(lines[-1].removeprefix(RESULT_PREFIX))


def measure(stage: str, work: Path, n: int, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    """Median over repeats (only one run when the first is slower than --cheap-seconds).

    A failed repeat is recorded and the runs that worked are kept; a stage whose first run
    fails is returned as an error (the suite goes on with the next stage).
    """
    errors: list[str] = []
    try:
        runs = [run_stage(stage, work, n, args.courses, args.seed, log)]
    except RuntimeError as exc:
        return {"error": str(exc)}
    while len(runs) < args.repeats and runs[0]["seconds"] <= args.cheap_seconds:
        try:
            runs.append(run_stage(stage, work, n, args.courses, args.seed, log))
        except RuntimeError as exc:
            errors.append(str(exc))
            break
    parts = sorted({k for r in runs for k in r.get("parts", {})})
    summary = {
        "runs": len(runs),
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "min_seconds": min(r["seconds"] for r in runs),
        "max_seconds": max(r["seconds"] for r in runs),
        "median_parts": {
            k: statistics.median(r["parts"][k] for r in runs if k in r.get("parts", {}))
            for k in parts
        },
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "peak_child_rss_mib": max(r["peak_child_rss_mib"] for r in runs),
        "peak_tree_rss_mib": max(r.get("peak_tree_rss_mib", 0.0) for r in runs),
        "detail": {
            k: v for k, v in runs[-1].items() if k not in ("seconds", "parts") and "rss" not in k
        },
        "all_seconds": [r["seconds"] for r in runs],
        "failed_repeats": errors,
    }
    return summary


def growth(results: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Time ratio / size ratio and exponent from the smallest to the largest size."""
    sizes = sorted(results)
    if len(sizes) < 2:
        return {}
    lo, hi = sizes[0], sizes[-1]
    size_ratio = hi / lo
    out: dict[str, dict[str, Any]] = {}

    def _row(t_lo: float, t_hi: float) -> dict[str, Any]:
        ratio = t_hi / t_lo if t_lo > 0 else math.nan
        k = math.log(ratio) / math.log(size_ratio) if ratio > 0 else math.nan
        return {
            "seconds_small": round(t_lo, 3),
            "seconds_large": round(t_hi, 3),
            "time_ratio": round(ratio, 2),
            "size_ratio": round(size_ratio, 2),
            "growth": round(ratio / size_ratio, 3),
            "exponent": round(k, 3),
            "superlinear": bool(k > SUPERLINEAR_EXPONENT),
        }

    for stage in STAGES:
        a, b = results[lo].get(stage), results[hi].get(stage)
        if not a or not b or "error" in a or "error" in b:
            continue
        out[stage] = _row(a["median_seconds"], b["median_seconds"])
        for part in a["median_parts"]:
            if part in b["median_parts"]:
                t_lo, t_hi = a["median_parts"][part], b["median_parts"][part]
                if t_lo is not None and t_hi is not None and min(t_lo, t_hi) > 0.05:
                    out[f"{stage}.{part}"] = _row(t_lo, t_hi)
    return out


def targets(results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets, checked at 100,000 employees when that size was run."""
    at = results.get(100_000)
    if not at:
        return {}
    out: dict[str, Any] = {}
    at = {name: s for name, s in at.items() if "error" not in s}
    if not at:
        return {}
    for stage, limit in TARGETS_100K.items():
        if stage in at:
            out[f"{stage}_seconds"] = {
                "limit": limit,
                "measured": round(at[stage]["median_seconds"], 1),
                "met": at[stage]["median_seconds"] < limit,
            }
    peak = max(
        (max(s["peak_rss_mib"], s["peak_child_rss_mib"]), name)
        for name, s in at.items()
        if name != "spark_planning"
    )
    out["peak_memory_mib"] = {
        "limit": MEMORY_TARGET_MIB,
        "measured": round(peak[0]),
        "stage": peak[1],
        "met": peak[0] < MEMORY_TARGET_MIB,
    }
    return out


def run_api_benchmark(args: argparse.Namespace, log: Path) -> dict[str, Any] | None:
    """benchmarks/bench_api.py (another benchmark of this suite) when present and wrk exists."""
    if not BENCH_API.is_file():
        return None
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    cmd = [sys.executable, str(BENCH_API), "--duration", str(args.api_duration), "--runs", "3"]
    with log.open("a", encoding="utf-8") as fh:
        fh.write("\n=== api ===\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=fh, check=False)
    api_json = BENCH_API.parent / "results" / "api.json"
    if proc.returncode != 0 or not api_json.is_file():
        return {"failed": f"exit {proc.returncode}; see {log}"}
    return json.loads(api_json.read_text(encoding="utf-8"))


def _git_state() -> dict[str, Any]:
    """Which code was measured: commit and how many files differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except OSError:
        return {}
    return {"commit": commit, "modified_files": len(dirty)}


def _mib(value: float) -> str:
    return f"{value / 1024:.2f} GiB" if value >= 1024 else f"{value:.0f} MiB"


def print_size(n: int, stages: dict[str, Any]) -> None:
    print(f"\n{n:,} employees")
    print(f"  {'stage':<18}{'median s':>10}{'runs':>6}{'peak RSS':>11}  parts (median s)")
    for name, s in stages.items():
        if "error" in s:
            print(f"  {name:<18}FAILED: {s['error']}")
            continue
        parts = ", ".join(
            f"{k} {v:.1f}" for k, v in s["median_parts"].items() if isinstance(v, int | float)
        )
        rss = max(s["peak_rss_mib"], s["peak_child_rss_mib"], s.get("peak_tree_rss_mib", 0))
        print(f"  {name:<18}{s['median_seconds']:>10.1f}{s['runs']:>6}{_mib(rss):>11}  {parts}")
        detail = s["detail"]
        if name == "fit_vs_baselines":
            ratio = detail["recommender_over_als"]
            print(f"  {'':<18}recommender fit / implicit ALS fit: {ratio:.1f}x")
        if name == "planning":
            print(
                f"  {'':<18}{detail['partitions']} partitions (largest "
                f"{detail['largest_partition']:,}), {detail.get('jobs', 1)} worker processes, "
                f"{detail['employees_per_second']:.0f} employees/s"
            )


def print_growth(rows: dict[str, dict[str, Any]]) -> None:
    if not rows:
        return
    print("\ngrowth from smallest to largest size (growth = time ratio / size ratio)")
    print(f"  {'stage':<42}{'small s':>9}{'large s':>9}{'ratio':>8}{'growth':>8}{'n^k':>7}")
    for name, r in rows.items():
        flag = "  SUPERLINEAR" if r["superlinear"] else ""
        print(
            f"  {name:<42}{r['seconds_small']:>9.2f}{r['seconds_large']:>9.2f}"
            f"{r['time_ratio']:>8.2f}{r['growth']:>8.2f}{r['exponent']:>7.2f}{flag}"
        )


def _write(payload: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, default=_json_default, allow_nan=True)
    out.write_text(text + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated employee counts.")
    parser.add_argument("--courses", type=int, default=1000, help="Catalog size.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each cheap stage.")
    parser.add_argument(
        "--cheap-seconds", type=float, default=60.0, help="Repeat a stage only if faster."
    )
    parser.add_argument(
        "--stages", default=",".join(DEFAULT_STAGES), help="Stages to run, in order."
    )
    parser.add_argument(
        "--spark-sizes", default="", help="Sizes at which to also run the Spark engine."
    )
    parser.add_argument("--quick", action="store_true", help="2,000 and 6,000 employees, 1 run.")
    parser.add_argument("--no-api", action="store_true", help="Skip benchmarks/bench_api.py.")
    parser.add_argument("--api-duration", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="Keep datasets and MLflow here (else a tmp dir).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--employees", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.courses, args.no_api = "2000,6000", 1, 200, True
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        run_child(args.child, args.work, args.employees, args.courses, args.seed)
        return
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    spark_sizes = {int(s) for s in args.spark_sizes.split(",") if s.strip()}
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages: {sorted(unknown)}; known: {', '.join(STAGES)}")
    root = args.work or Path(tempfile.mkdtemp(prefix="kompeten-bench-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    log = root / "bench_scale.log"
    payload: dict[str, Any] = {
        "benchmark": "scale",
        "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "git": _git_state(),
        "memory_method": "ru_maxrss of each stage's own subprocess (peak RSS incl. interpreter "
        "and imports); planning and Spark: peak summed PSS of the process tree (forked "
        "workers; driver, JVM, Python workers) sampled from /proc every 2 s",
        "courses": args.courses,
        "repeats": args.repeats,
        "cheap_seconds": args.cheap_seconds,
        "results": {},
    }
    results: dict[int, dict[str, Any]] = {}
    print(f"work folder {root} (stage logs: {log})")
    try:
        for n in sizes:
            work = root / f"n{n}"
            work.mkdir(parents=True, exist_ok=True)
            results[n] = {}
            todo = stages + (["spark_planning"] if n in spark_sizes else [])
            for stage in dict.fromkeys(todo):
                started = time.perf_counter()
                print(f"  {n:,}: {stage} ...", end="", flush=True)
                results[n][stage] = measure(stage, work, n, args, log)
                done = results[n][stage]
                print(f" {done.get('median_seconds', float('nan')):.1f} s", flush=True)
                print(f"    (stage wall time incl. repeats {time.perf_counter() - started:.0f} s)")
                payload["results"] = {str(k): v for k, v in results.items()}
                payload["growth"] = growth(results)
                payload["targets_100k"] = targets(results)
                _write(payload, args.out)
            print_size(n, results[n])
        if not args.no_api:
            print("\nAPI latency (benchmarks/bench_api.py) ...", flush=True)
            payload["api"] = run_api_benchmark(args, log)
            _write(payload, args.out)
    finally:
        if args.work is None:
            shutil.rmtree(root, ignore_errors=True)
    print_growth(payload.get("growth", {}))
    for name, t in payload.get("targets_100k", {}).items():
        verdict = "met" if t["met"] else "MISSED"
        where = f" ({t['stage']})" if "stage" in t else ""
        print(f"target {name}: {t['measured']} < {t['limit']}{where}: {verdict}")
    api = payload.get("api")
    if isinstance(api, dict) and "summary" in api:
        print(f"api: {json.dumps(api['summary'])}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
