"""Benchmark: ingesting 10,000 enrollment rows into the dataset store (issue 15: <= 10 s).

Per backend (a SQLite file; a real PostgreSQL server when one can be started or
`KOMPETEN_TEST_POSTGRES_URL` names one), each round: a fresh store holding a demo of
`--employees` employees (`kompeten import`'s path), then
- `validate`: the contract check of the store with the batch merged in (what every ingest
  must pay: the baseline, measured in the same round),
- `ingest_new`: `DatasetStore.ingest` of 10,000 new enrollment rows (typed by the CSV reader,
  checked merged with the store, written in one transaction),
- `ingest_retry`: the same batch again (10,000 unchanged rows: nothing written).
Medians over `--runs` rounds, and each median as a ratio to `validate`.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--runs 3] [--employees 1000]``.
Writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' PostgreSQL starter

from pg_server import PostgresServer  # noqa: E402

from demo_data import write_demo  # noqa: E402
from features import columns as c  # noqa: E402
from features.database import make_engine  # noqa: E402
from features.dataset_store import DatasetStore, batch_from_records, check_batches  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
N_ROWS = 10_000


def enrollment_rows(tables: dict[str, pd.DataFrame], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` new enrollments (completed, with a post-test) of existing employees and courses."""
    rng = np.random.default_rng(seed)
    nips = tables[c.EMPLOYEES][c.NIP].astype(str).to_numpy()
    courses = tables[c.COURSES][c.COURSE_ID].astype(str).to_numpy()
    start = pd.Timestamp("2030-01-01") + pd.to_timedelta(np.arange(n), unit="D")  # distinct keys
    return [
        {
            "nip": str(rng.choice(nips)),
            "course_id": str(rng.choice(courses)),
            "start_date": day.date().isoformat(),
            "end_date": (day + pd.Timedelta(days=4)).date().isoformat(),
            "status": "completed",
            "score": round(float(rng.uniform(50, 100)), 1),
        }
        for day in start
    ]


def one_round(url: str, folder: Path, seed: int) -> dict[str, float]:
    engine = make_engine(url)
    try:
        store = DatasetStore(engine)
        store.create_schema()
        assert store.import_folder(folder, replace_all=True).ok
        tables = store.tables()
        rows = enrollment_rows(tables, N_ROWS, seed)
        start = time.perf_counter()
        batch = batch_from_records(c.ENROLLMENTS, rows)
        report, _ = check_batches(tables, [batch])
        assert report.ok, report.errors[:3]
        validate = time.perf_counter() - start
        start = time.perf_counter()
        result = store.ingest([batch_from_records(c.ENROLLMENTS, rows)], "bench", "bench")
        ingest_new = time.perf_counter() - start
        assert result.ok and result.changes[c.ENROLLMENTS].inserted == N_ROWS, result.changes
        start = time.perf_counter()
        retry = store.ingest([batch_from_records(c.ENROLLMENTS, rows)], "bench", "bench")
        ingest_retry = time.perf_counter() - start
        assert retry.ok and retry.stored == 0
    finally:
        engine.dispose()
    return {"validate": validate, "ingest_new": ingest_new, "ingest_retry": ingest_retry}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--employees", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kompeten-bench-ingest-"))
    folder = work / "demo"
    write_demo(folder, n_employees=args.employees, seed=11, years=4)
    server = PostgresServer().start()
    backends: dict[str, Any] = {"sqlite": lambda i: f"sqlite:///{work / f'store-{i}.db'}"}
    if server.base_url:
        backends["postgresql"] = lambda i: server.new_database()
    else:
        print(f"PostgreSQL skipped: {server.reason}")
    out: dict[str, Any] = {
        "rows": N_ROWS,
        "employees": args.employees,
        "runs": args.runs,
        "machine": platform.platform(),
        "backends": {},
    }
    try:
        for name, url_of in backends.items():
            rounds = [one_round(url_of(i), folder, seed=i) for i in range(args.runs)]
            medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
            out["backends"][name] = {
                "median_s": medians,
                "ratio_to_validate": {k: v / medians["validate"] for k, v in medians.items()},
                "rounds": rounds,
            }
            ratio = out["backends"][name]["ratio_to_validate"]
            print(
                f"{name:<10} validate {medians['validate']:.2f} s | ingest 10,000 new "
                f"{medians['ingest_new']:.2f} s ({ratio['ingest_new']:.1f}x) | retry "
                f"{medians['ingest_retry']:.2f} s ({ratio['ingest_retry']:.1f}x) | target <= 10 s"
            )
    finally:
        server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
