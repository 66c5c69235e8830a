"""Benchmark: eligibility + exact mentor assignment at city scale, and what shortcuts cost.

20,000 mentees x 5,000 mentors over ~200 units (10 OPD, each a head office with 19 sub-units).
"Realistic eligibility" = a mentor may mentor anyone in the same OPD (``unit_scope`` maps each
unit to all units of its OPD), must be more senior, and must hold the focus competency at the
required level. The benefit is synthetic (no trained scorer is involved): level margin, same-unit
bonus, grade gap and noise, with some pairs negative.

Measured (medians over ``--repeat`` runs):
* eligibility time and exact assignment time on the full candidate set (target < 60 s together);
* (a) per-unit decomposition: keep only same-unit pairs and solve each unit on its own;
* (b) top-N pruning by benefit, N = 10, 20, 50;
* greedy (best pair first);
each as time and total-benefit ratio against the exact optimum on the full candidate set.

Run: ``.venv/bin/python benchmarks/bench_assignment.py [--repeat 3] [--seed 0]``.
Writes ``benchmarks/results/assignment.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

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
            c.COMPETENCY_ID: pd.array(
                rng.choice(comps, N_MENTEES, p=comp_weight), dtype="str"
            ),
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
    """A stand-in for the scorer: margin, same unit and grade gap help, with noise."""
    rng = np.random.default_rng(seed + 1)
    margin = candidates[MENTOR_LEVEL].to_numpy() - candidates[MENTEE_LEVEL].to_numpy()
    return (
        0.4 * np.minimum(margin, 2.5)
        + 0.3 * candidates[SAME_UNIT].to_numpy()
        + 0.05 * np.minimum(candidates[GRADE_GAP].to_numpy(), 4)
        + rng.normal(0.0, 0.35, len(candidates))
        - 0.3
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    mentees, mentors, levels, scope = make_population(args.seed)
    candidates, t_elig = timed(
        lambda: eligible_pairs(
            mentees, mentors, levels, same_unit=True, unit_scope=scope, exclude_supervisor=True
        ),
        args.repeat,
    )
    candidates = candidates.assign(**{BENEFIT: synthetic_benefit(candidates, args.seed)})
    exact, t_exact = timed(lambda: assign(candidates, CAPACITY), args.repeat)
    best = assignment_value(exact)

    def row(result: pd.DataFrame, seconds: float, n_candidates: int) -> dict:
        value = assignment_value(result)
        return {
            "seconds": round(seconds, 3),
            "candidates": n_candidates,
            "matched": len(result),
            "total_benefit": round(value, 3),
            "ratio_to_exact": round(value / best, 5) if best else None,
        }

    variants: dict[str, dict] = {}
    same = candidates[candidates[SAME_UNIT]].reset_index(drop=True)
    per_unit, t_unit = timed(lambda: assign(same, CAPACITY), args.repeat)
    variants["per_unit"] = row(per_unit, t_unit, len(same))
    for n in (10, 20, 50):
        pruned, t_prune = timed(lambda n=n: top_n_per_mentee(candidates, n, BENEFIT), 1)
        solved, t_solve = timed(lambda p=pruned: assign(p, CAPACITY), args.repeat)
        variants[f"top_{n}"] = row(solved, t_prune + t_solve, len(pruned))
        variants[f"top_{n}"]["prune_seconds"] = round(t_prune, 3)
    greedy, t_greedy = timed(lambda: greedy_assign(candidates, CAPACITY), 1)
    variants["greedy"] = row(greedy, t_greedy, len(candidates))

    eligible_mentees = candidates[c.MENTEE_NIP].nunique()
    report = {
        "problem": {
            "mentees": N_MENTEES,
            "mentors": N_MENTORS,
            "active_mentors": int(mentors[c.ACTIVE].sum()),
            "units": N_OPD * (SUBUNITS_PER_OPD + 1),
            "competencies": N_COMPETENCIES,
            "capacity": CAPACITY,
            "eligibility": "same OPD (unit_scope), senior, level >= required and > current, "
            "not the supervisor",
            "candidates": len(candidates),
            "mentees_with_a_candidate": int(eligible_mentees),
            "positive_benefit_pairs": int((candidates[BENEFIT] > 0).sum()),
        },
        "eligibility_seconds": round(t_elig, 3),
        "exact": row(exact, t_exact, len(candidates)),
        "eligibility_plus_exact_seconds": round(t_elig + t_exact, 3),
        "target_seconds": 60,
        "variants": variants,
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
