"""Benchmark: what `PredictionLog.record` costs on the request path with and without its journal.

The journal (`serving.prediction_journal`) adds one JSON line and one `write` per served
prediction so that a killed worker loses nothing. Both variants run in the same process on the
same outbox folder; reported are the median and p99 per call (microseconds) over `--calls`
records, in `--rounds` alternating rounds, and the ratio journal / no journal. Behind the
request path, the writer thread commits its gathered rows to the outbox in the database
(`serving.outbox`); `outbox_append` is the median and p99 of one 50-row append (one commit)
there: a SQLite file in the temporary home (synchronous=FULL), or `--database-url`.

Run: ``.venv/bin/python benchmarks/bench_prediction_record.py [--calls 20000] [--rounds 5]
[--database-url postgresql+psycopg://...]``.
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
from serving.outbox import Outbox, encode_row
from serving.prediction_log import PredictionLog, PredictionLogConfig

RESULTS = Path(__file__).parent / "results" / "prediction_record.json"
NIP = "198503122010011001"
ITEMS = ["PLT-0001", "PLT-0002", "PLT-0003", "PLT-0004", "PLT-0005"]
SCORES = [0.91, 0.72, 0.55, 0.31, 0.12]


def _round(home: Path, calls: int, journal: bool, url: str | None) -> list[float]:
    settings = Settings(
        home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}", database_url=url
    )
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


def _appends(url: str, n: int = 300) -> list[float]:
    """Seconds per 50-row `Outbox.append`, as the writer thread commits a gathered batch."""
    rows = [
        encode_row((1.7e9 + i, "training_path", "p_x", "3", ITEMS, SCORES, 0.25, 1.2))
        for i in range(50)
    ]
    outbox = Outbox(url)
    times = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            outbox.append(rows)
            times.append(time.perf_counter() - start)
    finally:
        outbox.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="outbox database (default SQLite)")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"queue_only": [], "journal": []}
    with tempfile.TemporaryDirectory(prefix="bench-record-") as root:
        for _ in range(args.rounds):
            for variant in samples:
                samples[variant] += _round(
                    Path(root), args.calls, variant == "journal", args.database_url
                )
        url = args.database_url or f"sqlite:///{Path(root) / 'outbox-append.db'}"
        appends = sorted(t for _ in range(args.rounds) for t in _appends(url))
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
    result["outbox_append"] = {
        "backend": url.split(":", 1)[0],
        "rows": 50,
        "median_ms": round(statistics.median(appends) * 1e3, 3),
        "p99_ms": round(appends[int(0.99 * (len(appends) - 1))] * 1e3, 3),
    }
    result["python"] = platform.python_version()
    print(f"journal / queue only (median): {ratio:.2f}x")
    print(f"outbox append of 50 rows ({result['outbox_append']['backend']}): "  # type: ignore[index]
          f"median {result['outbox_append']['median_ms']:.2f} ms, "  # type: ignore[index]
          f"p99 {result['outbox_append']['p99_ms']:.2f} ms")  # type: ignore[index]  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
