"""Benchmark: what `PredictionLog.record` costs on the request path with and without its journal.

The journal (`serving.prediction_journal`) adds one JSON line and one `write` per served
prediction so that a killed worker loses nothing. Both variants run in the same process on the
same outbox folder; reported are the median and p99 per call (microseconds) over `--calls`
records, in `--rounds` alternating rounds, and the ratio journal / no journal.

Run: ``.venv/bin/python benchmarks/bench_prediction_record.py [--calls 20000] [--rounds 5]``.
Writes ``benchmarks/results/prediction_record.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from features.settings import Settings
from serving.prediction_log import PredictionLog, PredictionLogConfig

RESULTS = Path(__file__).parent / "results" / "prediction_record.json"
NIP = "198503122010011001"
ITEMS = ["PLT-0001", "PLT-0002", "PLT-0003", "PLT-0004", "PLT-0005"]
SCORES = [0.91, 0.72, 0.55, 0.31, 0.12]


def _round(home: Path, calls: int, journal: bool) -> list[float]:
    settings = Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    log = PredictionLog(settings, PredictionLogConfig(role="record")).start()
    if not journal:
        log._journal = None  # the variant before the journal: queue only
    times = []
    try:
        for _ in range(calls):
            start = time.perf_counter()
            log.record("training_path", NIP, "3", ITEMS, SCORES, 0.25, 1.2)
            times.append(time.perf_counter() - start)
        log.sync(30.0)
    finally:
        log.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"queue_only": [], "journal": []}
    with tempfile.TemporaryDirectory(prefix="bench-record-") as root:
        for _ in range(args.rounds):
            for variant in samples:
                samples[variant] += _round(Path(root), args.calls, variant == "journal")
    result: dict[str, object] = {"calls": args.calls, "rounds": args.rounds}
    for variant, times in samples.items():
        ordered = sorted(times)
        result[variant] = {
            "median_us": round(statistics.median(ordered) * 1e6, 2),
            "p99_us": round(ordered[int(0.99 * (len(ordered) - 1))] * 1e6, 2),
        }
        print(f"{variant:>10}: median {result[variant]['median_us']:7.2f} us, "  # type: ignore[index]
              f"p99 {result[variant]['p99_us']:7.2f} us")  # type: ignore[index]  # fmt: skip
    ratio = result["journal"]["median_us"] / result["queue_only"]["median_us"]  # type: ignore[index]
    result["median_ratio"] = round(ratio, 2)
    result["python"] = platform.python_version()
    print(f"journal / queue only (median): {ratio:.2f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
