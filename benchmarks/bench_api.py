"""Benchmark: the real service under `wrk`, the training-path endpoint against the trivial ping.

Targets (issues 9 and 14), at 64 concurrent connections, the endpoints run side by side
(interleaved) against the same service, each ratio taken within a round (the endpoint's run
against the ping run seconds before it) and the target on the median over the rounds:
- `training_path` (only an NIP: the default plan, served from the body serialised at load)
  keeps >= 50 % of the throughput of GET /v1/ping with a p99 within 2x of ping's;
- `training_path_rotating` (the NIP and a `jp_budget` between 20 and 60, what an HR system
  sends when it passes each employee's remaining budget: every request builds its path) keeps
  >= 25 % of ping's throughput with a p99 within 4x of ping's.
Then one bulk request of 1,000 items (the NIPs cycled, budgets 20-60, one malformed NIP) must
answer within 2 s with 999 paths and one error line (median of `--runs` calls).

What runs: a small demo in a temporary KOMPETEN_HOME (`kompeten demo-data`, `kompeten train
--no-ablations`, `kompeten keys create --role hr_system`), then `kompeten serve --workers 2` on
a free loopback port; once /readyz answers, `wrk` at 16 and 64 connections against both
endpoints, `--runs` rounds, interleaved so drift on a shared machine hits both alike (here a
round's ping throughput has varied by 2x from the next's, so a ratio of medians taken over
different rounds mixes the machine's states; it is reported beside the paired one). The POST
body rotates over every active employee's NIP (a Lua script), with the API key header. wrk
runs on the same machine as the service, so absolute numbers are low; the ratio is the target.

Run: ``.venv/bin/python benchmarks/bench_api.py [--duration 10] [--runs 3] [--home DIR]``
(`--home` keeps the trained demo for the next run). Needs `wrk` (apt-get install -y wrk).
Writes ``benchmarks/results/api.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "api.json"
KOMPETEN = Path(sys.executable).with_name("kompeten")
PING = "/v1/ping"
TRAINING_PATH = "/v1/recommendations/training-path"
BULK = "/v1/recommendations/training-path/bulk"
ENDPOINTS = {
    "ping": PING,
    "training_path": TRAINING_PATH,
    "training_path_rotating": TRAINING_PATH,
}
#: Per endpoint compared with ping: (min throughput ratio, max p99 ratio).
TARGETS = {"training_path": (0.5, 2.0), "training_path_rotating": (0.25, 4.0)}
TARGET_CONNECTIONS = 64
BULK_ITEMS = 1_000
BULK_TARGET_S = 2.0
#: The body expression of each endpoint's Lua script (`i` counts this thread's requests).
BODIES = {
    "ping": "nil",
    "training_path": """'{"nip":"' .. nips[(i %% #nips) + 1] .. '"}'""",
    "training_path_rotating": """'{"nip":"' .. nips[(i %% #nips) + 1] .. '","jp_budget":' """
    """.. (20 + (i * 13) %% 41) .. '}'""",
}

# wrk runs this once per thread. `done` prints one JSON line wrk's own summary lacks (exact
# percentiles in microseconds, error counts by kind).
LUA = r"""
local nips = {%(nips)s}
local i = 0
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "%(key)s"

function request()
  if wrk.method == "GET" then
    return wrk.format()
  end
  i = i + 1
  return wrk.format(nil, nil, nil, %(body)s)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"mean_us":%%.1f,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: `kompeten serve`'s event loop (KOMPETEN_SERVE_EVENT_LOOP), set from --loop.
EVENT_LOOP = {"value": "auto"}


def kompeten_env(home: Path) -> dict[str, str]:
    """The environment every `kompeten` call of the benchmark runs in (nothing of the user's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOMPETEN_", "MLFLOW_"))}
    env["KOMPETEN_SERVE_EVENT_LOOP"] = EVENT_LOOP["value"]
    env.update(
        KOMPETEN_HOME=str(home),
        KOMPETEN_DATA_DIR=str(home / "demo"),
        KOMPETEN_MODEL_POLL_SECONDS="0",  # no registry polls in the middle of a measurement
        OPENBLAS_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(args: list[str], env: dict[str, str], log: Path) -> str:
    """Run one `kompeten` command; its output goes to `log`, stdout is also returned."""
    done = subprocess.run(
        [str(KOMPETEN), *args], env=env, capture_output=True, text=True, check=False
    )
    with log.open("a") as fh:
        fh.write(f"$ kompeten {' '.join(args)}\n{done.stdout}\n{done.stderr}\n")
    if done.returncode != 0:
        raise RuntimeError(f"kompeten {args[0]} failed (exit {done.returncode}); see {log}")
    return done.stdout


def prepare_demo(home: Path, employees: int) -> str:
    """Demo data, a trained champion and an hr_system key in `home` (reused when present)."""
    key_file = home / "bench-api-key.txt"
    if key_file.exists():
        return key_file.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    env = kompeten_env(home)
    log = home / "bench-setup.log"
    started = time.perf_counter()
    run_cli(["demo-data", "--out", str(home / "demo"), "--employees", str(employees)], env, log)
    run_cli(["train", "--data", str(home / "demo"), "--no-ablations"], env, log)
    out = run_cli(["keys", "create", "--role", "hr_system", "--label", "bench"], env, log)
    key = next(line.strip() for line in out.splitlines() if line.strip().startswith("kmp_"))
    key_file.write_text(key)
    print(f"demo prepared in {time.perf_counter() - started:.0f} s ({home})", flush=True)
    return key


def active_nips(data_dir: Path) -> list[str]:
    with (data_dir / "employees.csv").open(newline="") as fh:
        return [r["nip"] for r in csv.DictReader(fh) if r["active"].strip().lower() == "true"]


def get_json(url: str, timeout: float = 2.0) -> tuple[int, dict[str, Any]]:
    """(status, JSON body); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return int(exc.code), json.loads(exc.read() or b"{}")
        except ValueError:
            return int(exc.code), {}
    except (OSError, ValueError):
        return 0, {}


def wait_ready(base: str, server: subprocess.Popen, timeout: float, log: Path) -> None:
    """Until /readyz answers 200 many times in a row: every worker has loaded its state.

    The benchmark turns polling off, so a failed first load never recovers: stop at once.
    """
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 20:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited (code {server.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the service was not ready within {timeout:.0f} s; see {log}")
        status, body = get_json(base + "/readyz")
        if status == 200:
            streak += 1
            continue
        streak = 0
        if body.get("last_error"):
            raise RuntimeError(f"the service could not load the model: {body['last_error']}")
        time.sleep(0.25)


def start_service(home: Path, port: int, workers: int) -> subprocess.Popen:
    log = (home / "bench-serve.log").open("w")
    return subprocess.Popen(
        [str(KOMPETEN), "serve", "--port", str(port), "--workers", str(workers)],
        env=kompeten_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it stops the workers too
    )


def stop_service(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait(timeout=5)


def write_lua(folder: Path, key: str, nips: list[str]) -> dict[str, Path]:
    scripts = {}
    listed = ",".join(f'"{n}"' for n in nips)
    for name in ENDPOINTS:
        method = "GET" if name == "ping" else "POST"
        path = folder / f"bench-{name}.lua"
        body = BODIES[name] % {}
        path.write_text(LUA % {"nips": listed, "method": method, "key": key, "body": body})
        scripts[name] = path
    return scripts


def bulk_call(base: str, key: str, nips: list[str]) -> dict[str, Any]:
    """One bulk request of `BULK_ITEMS` items (one malformed NIP): seconds and line counts."""
    items: list[dict[str, Any]] = [
        {"nip": nips[i % len(nips)], "jp_budget": 20 + (i * 13) % 41} for i in range(BULK_ITEMS)
    ]
    items[BULK_ITEMS // 2] = {"nip": "12345", "jp_budget": 30}
    request = urllib.request.Request(
        base + BULK,
        data=json.dumps({"items": items}).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "items": BULK_ITEMS,
        "paths": sum(line["status"] == 200 for line in lines),
        "errors": sum(line["status"] != 200 for line in lines),
    }


def run_wrk(
    url: str, script: Path, connections: int, duration: float, threads: int
) -> dict[str, Any]:
    """One wrk run; its RESULT line parsed, latencies in milliseconds."""
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    seconds = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "req_per_s": round(raw["requests"] / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "errors": errors,
    }


def outbox_counts(home: Path) -> dict[str, int]:
    """Rows the service recorded so far, and how many still wait for MLflow (the outbox in
    the service's default database, home/kompeten.db)."""
    from sqlalchemy import func, select

    from serving.outbox import Outbox, predictions

    path = home / "kompeten.db"
    if not path.exists():
        return {"last_id": 0, "pending": 0}
    outbox = Outbox(f"sqlite:///{path}")
    try:
        with outbox.engine.connect() as conn:
            last = conn.execute(select(func.coalesce(func.max(predictions.c.id), 0))).scalar()
        pending = outbox.pending_rows()
    finally:
        outbox.close()
    return {"last_id": int(last or 0), "pending": int(pending)}


def wait_drained(home: Path, timeout: float) -> float | None:
    """Seconds until the shipper has sent every recorded row to MLflow (None: not in time)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if outbox_counts(home)["pending"] == 0:
            return round(time.perf_counter() - started, 1)
        time.sleep(1.0)
    return None


def summarise(runs: list[dict[str, Any]], connections: list[int]) -> dict[str, Any]:
    """Medians per (connections, endpoint) and the training-path : ping ratios: of the
    medians, and (`paired_*`) the median over rounds of each round's ratio."""
    out: dict[str, Any] = {}
    for conns in connections:
        row: dict[str, Any] = {}
        for name in ENDPOINTS:
            mine = [r for r in runs if r["connections"] == conns and r["endpoint"] == name]
            row[name] = {
                "runs": len(mine),
                "req_per_s": round(statistics.median(r["req_per_s"] for r in mine), 1),
                "p50_ms": round(statistics.median(r["p50_ms"] for r in mine), 3),
                "p99_ms": round(statistics.median(r["p99_ms"] for r in mine), 3),
                "errors": sum(sum(r["errors"].values()) for r in mine),
            }
        ping = row["ping"]
        for name in TARGETS:
            path = row[name]
            path["throughput_ratio"] = round(path["req_per_s"] / ping["req_per_s"], 3)
            path["p99_ratio"] = round(path["p99_ms"] / ping["p99_ms"], 3)
            path["p50_ratio"] = round(path["p50_ms"] / ping["p50_ms"], 3)
            paired = _paired(runs, conns, name)
            path["paired_throughput_ratio"] = round(statistics.median(t for t, _ in paired), 3)
            path["paired_p99_ratio"] = round(statistics.median(p for _, p in paired), 3)
        out[str(conns)] = row
    return out


def _paired(runs: list[dict[str, Any]], conns: int, name: str) -> list[tuple[float, float]]:
    """(throughput ratio, p99 ratio) of endpoint `name` to ping, per round."""
    out = []
    for round_no in sorted({r["round"] for r in runs}):
        mine = {
            r["endpoint"]: r for r in runs if r["round"] == round_no and r["connections"] == conns
        }
        if name in mine and "ping" in mine:
            path, ping = mine[name], mine["ping"]
            out.append((path["req_per_s"] / ping["req_per_s"], path["p99_ms"] / ping["p99_ms"]))
    return out


def print_table(summary: dict[str, Any]) -> None:
    header = f"{'conns':>5}  {'endpoint':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(
        header + f"{'req/s ratio':>13}{'p99 ratio':>11}{'paired':>8}{'p99 paired':>12}{'errors':>8}"
    )
    for conns, row in summary.items():
        for name in ENDPOINTS:
            r = row[name]
            ratios = (
                f"{r['throughput_ratio']:>13.0%}{r['p99_ratio']:>11.2f}"
                f"{r['paired_throughput_ratio']:>8.0%}{r['paired_p99_ratio']:>12.2f}"
                if name in TARGETS
                else f"{'':>13}{'':>11}{'':>8}{'':>12}"
            )
            print(
                f"{conns:>5}  {name:<24}{r['req_per_s']:>9.0f}{r['p50_ms']:>9.2f}"
                f"{r['p99_ms']:>9.2f}{ratios}{r['errors']:>8}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=6.0, help="Seconds per wrk run.")
    parser.add_argument("--runs", type=int, default=5, help="Rounds (the medians are over them).")
    parser.add_argument("--connections", default="16,64", help="Comma-separated wrk -c values.")
    parser.add_argument("--workers", type=int, default=2, help="`kompeten serve --workers`.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument(
        "--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="Event loop."
    )
    parser.add_argument("--employees", type=int, default=400, help="Demo employees.")
    parser.add_argument("--home", type=Path, help="Keep (and reuse) the demo here.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="Max seconds to wait for shipping."
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    connections = [int(x) for x in args.connections.split(",")]
    EVENT_LOOP["value"] = args.loop

    home = args.home or Path(tempfile.mkdtemp(prefix="kompeten-bench-api-"))
    server = None
    try:
        key = prepare_demo(home, args.employees)
        nips = active_nips(home / "demo")
        scripts = write_lua(home, key, nips)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        before = outbox_counts(home)
        server = start_service(home, port, args.workers)
        started = time.perf_counter()
        wait_ready(base, server, 300.0, home / "bench-serve.log")
        print(f"service ready in {time.perf_counter() - started:.1f} s on {base}", flush=True)
        for name, path in ENDPOINTS.items():  # warm-up: connections, caches, first imports
            run_wrk(base + path, scripts[name], max(connections), 2.0, args.threads)
        runs: list[dict[str, Any]] = []
        for round_no in range(1, args.runs + 1):
            for conns in connections:
                for name, path in ENDPOINTS.items():
                    result = run_wrk(base + path, scripts[name], conns, args.duration, args.threads)
                    runs.append(
                        {"round": round_no, "connections": conns, "endpoint": name, **result}
                    )
                    print(
                        f"round {round_no} c={conns:<3} {name:<24} {result['req_per_s']:>8.0f}"
                        f" req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
                        f"  errors {sum(result['errors'].values())}",
                        flush=True,
                    )
        bulk = [bulk_call(base, key, nips) for _ in range(args.runs)]
        for call in bulk:
            print(
                f"bulk {call['items']} items: {call['seconds']:.2f} s, {call['paths']} paths,"
                f" {call['errors']} error lines",
                flush=True,
            )
        served = sum(
            r["requests"] for r in runs if r["endpoint"] != "ping"
        )  # wrk counts completed requests; warm-up rounds and bulk items are recorded too
        backlog = outbox_counts(home)["pending"]
        drained_s = wait_drained(home, args.drain_timeout)
        recorded = outbox_counts(home)["last_id"] - before["last_id"]
        shipping = {
            "measured_training_path_requests": served,
            "recorded_rows": recorded,
            "backlog_when_load_stopped": backlog,
            "seconds_to_ship_backlog": drained_s,
        }
        print(
            f"predictions: {recorded} recorded (incl. warm-up), backlog {backlog} rows when the"
            f" load stopped, shipped to MLflow {drained_s} s later",
            flush=True,
        )
    finally:
        if server is not None:
            stop_service(server)
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)

    summary = summarise(runs, connections)
    print()
    print_table(summary)
    target = summary.get(str(TARGET_CONNECTIONS))
    verdicts: dict[str, Any] = {}
    if target is not None:
        print()
        for name, (min_ratio, max_p99) in TARGETS.items():
            r = target[name]
            met = bool(
                r["paired_throughput_ratio"] >= min_ratio
                and r["paired_p99_ratio"] <= max_p99
                and target["ping"]["errors"] == 0
                and r["errors"] == 0
            )
            verdicts[name] = {
                "min_throughput_ratio": min_ratio,
                "max_p99_ratio": max_p99,
                "throughput_ratio": r["paired_throughput_ratio"],
                "p99_ratio": r["paired_p99_ratio"],
                "ratio_of_medians": {
                    "throughput_ratio": r["throughput_ratio"],
                    "p99_ratio": r["p99_ratio"],
                },
                "met": met,
            }
            print(
                f"target {name} at {TARGET_CONNECTIONS} connections: throughput >= "
                f"{min_ratio:.0%} of ping, p99 <= {max_p99:g}x ping (medians of the rounds' "
                f"ratios: {r['paired_throughput_ratio']:.3f}, {r['paired_p99_ratio']:.2f}x): "
                f"{'MET' if met else 'NOT MET'}"
            )
    bulk_s = statistics.median(call["seconds"] for call in bulk)
    bulk_ok = all(c["paths"] == BULK_ITEMS - 1 and c["errors"] == 1 for c in bulk)
    verdicts["bulk"] = {
        "items": BULK_ITEMS,
        "median_seconds": round(bulk_s, 3),
        "max_seconds": BULK_TARGET_S,
        "met": bool(bulk_s <= BULK_TARGET_S and bulk_ok),
        "calls": bulk,
    }
    print(
        f"target bulk {BULK_ITEMS} items <= {BULK_TARGET_S:g} s with {BULK_ITEMS - 1} paths and "
        f"1 error line: median {bulk_s:.2f} s: {'MET' if verdicts['bulk']['met'] else 'NOT MET'}"
    )
    report = {
        "target": {"connections": TARGET_CONNECTIONS, **verdicts},
        "setup": {
            "employees": args.employees,
            "active_nips_rotated": len(nips),
            "workers": args.workers,
            "event_loop": args.loop,
            "wrk_threads": args.threads,
            "duration_s": args.duration,
            "runs": args.runs,
            "connections": connections,
            "endpoints": ENDPOINTS,
            "note": "wrk and the service share this machine; model polling off; served "
            "predictions are recorded by the workers and shipped to the demo's SQLite MLflow by "
            "serve's shipper process, as in production",
        },
        "prediction_shipping": shipping,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
