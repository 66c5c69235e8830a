"""The API benchmark's arithmetic: ratios within a round, the target on their median."""

from __future__ import annotations

from benchmarks.bench_api import summarise


def _run(round_no: int, endpoint: str, req_per_s: float, p99_ms: float) -> dict:
    return {
        "round": round_no,
        "connections": 64,
        "endpoint": endpoint,
        "req_per_s": req_per_s,
        "p50_ms": p99_ms / 2,
        "p99_ms": p99_ms,
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
    }


def test_paired_ratios_compare_runs_of_the_same_round():
    """The machine runs twice as fast in round 2: the ratio of medians mixes rounds (ping's
    median comes from round 2, the path's from round 3), the paired ratio does not."""
    runs = []
    for round_no, speed in ((1, 1.0), (2, 2.0), (3, 1.0)):
        runs += [
            _run(round_no, "ping", 1000 * speed, 10 / speed),
            _run(round_no, "training_path", 600 * speed, 15 / speed),
            _run(round_no, "training_path_rotating", 300 * speed, 35 / speed),
        ]
    rotating = summarise(runs, [64])["64"]["training_path_rotating"]
    assert rotating["paired_throughput_ratio"] == 0.3
    assert rotating["paired_p99_ratio"] == 3.5
    assert rotating["throughput_ratio"] == 0.3  # median 300 / median 1000
    runs[0]["req_per_s"] = 3000  # round 1's ping alone fast: only round 1's pair moves
    rotating = summarise(runs, [64])["64"]["training_path_rotating"]
    assert rotating["paired_throughput_ratio"] == 0.3  # rounds 2 and 3 still say 0.3
    assert rotating["throughput_ratio"] == 0.15  # 300 / median(3000, 2000, 1000)
