"""Benchmark: eligibility + exact mentor assignment at city scale, and what shortcuts cost.

20,000 mentees x 5,000 mentors over 200 units (10 OPD, each a head office and 19 sub-units),
30 competencies, each mentor assessed in 10, capacity 3. The benefit is synthetic (no trained
scorer is involved): level margin, same-unit bonus, grade gap and hashed noise, some negative;
a pair has the same benefit in every candidate set.

Two eligibility settings, both senior-only, level >= required and > current, not the supervisor:
* ``realistic``: a mentor may mentor anyone in the same OPD (``unit_scope``). Measured: the
  eligibility and exact assignment times (target < 60 s together, medians of ``--repeat``),
  and against its exact optimum (a) per-unit decomposition (same-unit pairs only, each unit
  solved alone), (b) top-N pruning by benefit, N = 10, 20, 50, and greedy.
* ``citywide``: no unit rule, the full candidate set (~18 M pairs). Its exact optimum (minutes,
  ~8 GB) is the reference for the same-OPD restriction, per-unit, top-N and greedy. Run once.

Run: ``.venv/bin/python benchmarks/bench_assignment.py [--repeat 3] [--seed 0] [--skip-citywide]``.
Writes ``benchmarks/results/assignment.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from features import columns as c
from model.assignment import BENEFIT, assign, assignment_value, greedy_assign
from model.mentor_eligibility import (
    GRADE_GAP,
    MENTEE_LEVEL,
    MENTOR_LEVEL,
    SAME_UNIT,
    eligible_pairs,
    top_n_per_mentee,
)

RESULTS = Path(__file__).parent / "results" / "assignment.json"
N_MENTEES = 20_000
N_MENTORS = 5_000
N_OPD = 10
SUBUNITS_PER_OPD = 19
N_COMPETENCIES = 30
LEVELS_PER_MENTOR = 10
CAPACITY = 3
T = TypeVar("T")


def make_population(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Mentee frame, mentor frame, mentor level lookup and the OPD-wide unit scope."""
    rng = np.random.default_rng(seed)
    units: list[str] = []
    opd_of: dict[str, str] = {}
    for o in range(N_OPD):
        head = f"U{o:02d}-00"
        units.append(head)
        opd_of[head] = head
        for s in range(1, SUBUNITS_PER_OPD + 1):
            unit = f"U{o:02d}-{s:02d}"
            units.append(unit)
            opd_of[unit] = head
    members: dict[str, list[str]] = {}
    for unit, head in opd_of.items():
        members.setdefault(head, []).append(unit)
    scope = {unit: frozenset(members[opd_of[unit]]) for unit in units}
    comps = np.array([f"K{k:02d}" for k in range(N_COMPETENCIES)], dtype=object)
    # Managerial competencies (the first 9) are everyone's focus more often.
    comp_weight = np.r_[np.full(9, 3.0), np.ones(N_COMPETENCIES - 9)]
    comp_weight /= comp_weight.sum()
    unit_arr = np.array(units, dtype=object)

    def dates(lo: int, hi: int, n: int) -> pd.DatetimeIndex:
        return pd.to_datetime(rng.integers(lo, hi, n), unit="D", origin="1980-01-01")

    mentee_nip = np.array([f"E{i:07d}" for i in range(N_MENTEES)], dtype=object)
    mentor_nip = np.array([f"M{i:07d}" for i in range(N_MENTORS)], dtype=object)
    required = rng.integers(2, 5, N_MENTEES).astype(float)
    mentees = pd.DataFrame(
        {
            c.NIP: pd.array(mentee_nip, dtype="str"),
            c.COMPETENCY_ID: pd.array(rng.choice(comps, N_MENTEES, p=comp_weight), dtype="str"),
            c.LEVEL: np.round(required - rng.uniform(0.3, 1.5, N_MENTEES), 1),
            c.REQUIRED_LEVEL: required,
            c.UNIT_ID: pd.array(rng.choice(unit_arr, N_MENTEES), dtype="str"),
            c.GRADE: rng.integers(5, 11, N_MENTEES),
            c.TMT_CPNS: dates(5000, 16000, N_MENTEES),
            c.SUPERVISOR_NIP: pd.array(rng.choice(mentor_nip, N_MENTEES), dtype="str"),
        }
    )
    mentors = pd.DataFrame(
        {
            c.NIP: pd.array(mentor_nip, dtype="str"),
            c.ACTIVE: rng.random(N_MENTORS) < 0.97,
            c.UNIT_ID: pd.array(rng.choice(unit_arr, N_MENTORS), dtype="str"),
            c.GRADE: rng.integers(7, 14, N_MENTORS),
            c.TMT_CPNS: dates(0, 12000, N_MENTORS),
        }
    )
    level_comp = np.concatenate(
        [rng.choice(comps, LEVELS_PER_MENTOR, replace=False) for _ in range(N_MENTORS)]
    )
    levels = pd.DataFrame(
        {
            c.NIP: pd.array(np.repeat(mentor_nip, LEVELS_PER_MENTOR), dtype="str"),
            c.COMPETENCY_ID: pd.array(level_comp, dtype="str"),
            c.LEVEL: np.round(rng.uniform(2.0, 5.0, N_MENTORS * LEVELS_PER_MENTOR), 1),
        }
    )
    return mentees, mentors, levels, scope


def synthetic_benefit(candidates: pd.DataFrame, seed: int) -> np.ndarray:
    """A stand-in for the scorer: margin, same unit and grade gap help, with noise.

    The noise is a hash of (seed, mentee, mentor), so a pair has the same benefit in every
    candidate set and the restricted sets are true subsets of the citywide problem.
    """
    margin = candidates[MENTOR_LEVEL].to_numpy() - candidates[MENTEE_LEVEL].to_numpy()
    mentee = _serial(candidates[c.MENTEE_NIP]).astype(np.uint64)
    mentor = _serial(candidates[c.MENTOR_NIP]).astype(np.uint64)
    u1 = _hash_uniform(mentee * np.uint64(N_MENTORS) + mentor, seed)
    u2 = _hash_uniform(mentee * np.uint64(N_MENTORS) + mentor, seed + 1)
    noise = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)  # Box-Muller
    return (
        0.4 * np.minimum(margin, 2.5)
        + 0.3 * candidates[SAME_UNIT].to_numpy()
        + 0.05 * np.minimum(candidates[GRADE_GAP].to_numpy(), 4)
        + 0.35 * noise
        - 0.3
    )


def _serial(nips: pd.Series) -> np.ndarray:
    """Row number of a generated NIP ("E0000123" -> 123) in its frame."""
    return nips.str.slice(1).astype("int64").to_numpy()


def _hash_uniform(key: np.ndarray, seed: int) -> np.ndarray:
    """Uniform (0, 1) from a 64-bit key via splitmix64."""
    with np.errstate(over="ignore"):
        z = key + np.uint64(seed + 1) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def timed(fn: Callable[[], T], repeat: int) -> tuple[T, float]:
    """The last result and the median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def outcome(result: pd.DataFrame, seconds: float, n_candidates: int, best: float) -> dict:
    value = assignment_value(result)
    return {
        "seconds": round(seconds, 3),
        "candidates": n_candidates,
        "matched": len(result),
        "total_benefit": round(value, 3),
        "ratio_to_exact": round(value / best, 6) if best else None,
    }


def shortcuts(
    candidates: pd.DataFrame, best: float, repeat: int, subsets: dict[str, pd.DataFrame]
) -> dict[str, dict]:
    """Time and benefit ratio of each shortcut against the exact optimum ``best``."""
    out: dict[str, dict] = {}
    for name, subset in subsets.items():
        solved, seconds = timed(partial(assign, subset, CAPACITY), repeat)
        out[name] = outcome(solved, seconds, len(subset), best)
    for n in (10, 20, 50):
        pruned, t_prune = timed(partial(top_n_per_mentee, candidates, n, BENEFIT), 1)
        solved, t_solve = timed(partial(assign, pruned, CAPACITY), repeat)
        out[f"top_{n}"] = outcome(solved, t_prune + t_solve, len(pruned), best)
        out[f"top_{n}"]["prune_seconds"] = round(t_prune, 3)
    greedy, t_greedy = timed(lambda: greedy_assign(candidates, CAPACITY), 1)
    out["greedy"] = outcome(greedy, t_greedy, len(candidates), best)
    return out


def realistic(mentees, mentors, levels, scope, seed: int, repeat: int) -> dict:
    """Same-OPD eligibility, the intended production setting: the < 60 s target applies."""
    candidates, t_elig = timed(
        lambda: eligible_pairs(
            mentees, mentors, levels, same_unit=True, unit_scope=scope, exclude_supervisor=True
        ),
        repeat,
    )
    candidates[BENEFIT] = synthetic_benefit(candidates, seed)
    exact, t_exact = timed(lambda: assign(candidates, CAPACITY), repeat)
    best = assignment_value(exact)
    same_unit = candidates[candidates[SAME_UNIT]].reset_index(drop=True)
    return {
        "eligibility": "same OPD (unit_scope), senior, level >= required and > current, "
        "not the supervisor",
        "candidates": len(candidates),
        "mentees_with_a_candidate": int(candidates[c.MENTEE_NIP].nunique()),
        "positive_benefit_pairs": int((candidates[BENEFIT] > 0).sum()),
        "eligibility_seconds": round(t_elig, 3),
        "exact": outcome(exact, t_exact, len(candidates), best),
        "eligibility_plus_exact_seconds": round(t_elig + t_exact, 3),
        "target_seconds": 60,
        "shortcuts": shortcuts(candidates, best, repeat, {"per_unit": same_unit}),
    }


def citywide(mentees, mentors, levels, seed: int) -> dict:
    """No unit rule: the full candidate set, the reference every restriction is measured by.

    Run once (the exact solve takes minutes and ~8 GB); shortcuts once each.
    """
    candidates, t_elig = timed(
        lambda: eligible_pairs(mentees, mentors, levels, exclude_supervisor=True), 1
    )
    candidates[BENEFIT] = synthetic_benefit(candidates, seed)
    candidates = candidates[[c.MENTEE_NIP, c.MENTOR_NIP, BENEFIT, SAME_UNIT]]
    exact, t_exact = timed(lambda: assign(candidates, CAPACITY), 1)
    best = assignment_value(exact)
    mentee_opd = mentees[c.UNIT_ID].str.slice(0, 3).to_numpy()[_serial(candidates[c.MENTEE_NIP])]
    mentor_opd = mentors[c.UNIT_ID].str.slice(0, 3).to_numpy()[_serial(candidates[c.MENTOR_NIP])]
    same_opd = mentee_opd == mentor_opd
    subsets = {
        "same_opd": candidates[same_opd].reset_index(drop=True),
        "per_unit": candidates[candidates[SAME_UNIT].to_numpy()].reset_index(drop=True),
    }
    return {
        "eligibility": "any unit, senior, level >= required and > current, not the supervisor",
        "candidates": len(candidates),
        "positive_benefit_pairs": int((candidates[BENEFIT] > 0).sum()),
        "eligibility_seconds": round(t_elig, 3),
        "exact": outcome(exact, t_exact, len(candidates), best),
        "shortcuts": shortcuts(candidates, best, 1, subsets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-citywide", action="store_true", help="skip the minutes-long run")
    args = parser.parse_args()

    mentees, mentors, levels, scope = make_population(args.seed)
    report = {
        "problem": {
            "mentees": N_MENTEES,
            "mentors": N_MENTORS,
            "active_mentors": int(mentors[c.ACTIVE].sum()),
            "units": N_OPD * (SUBUNITS_PER_OPD + 1),
            "opd": N_OPD,
            "competencies": N_COMPETENCIES,
            "assessed_competencies_per_mentor": LEVELS_PER_MENTOR,
            "capacity": CAPACITY,
            "benefit": "synthetic (level margin, same unit, grade gap, noise)",
        },
        "realistic": realistic(mentees, mentors, levels, scope, args.seed, args.repeat),
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    print(json.dumps(report["realistic"], indent=2), flush=True)
    if not args.skip_citywide:
        report["citywide"] = citywide(mentees, mentors, levels, args.seed)
        print(json.dumps(report["citywide"], indent=2), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
