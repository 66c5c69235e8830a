"""Training paths on demo worlds whose hidden course rules differ from the default one.

As `experiments.mentor_world_variants` does for mentoring: each variant changes one rule of
the generator (`demo_data.truth`, `demo_data.courses`) and reruns
`experiments.benefit_study.run_one` unchanged, so the planner, the content rule, ALS and
popularity are judged against the truth of a world nothing was tuned on, and the estimated
closure (the gate's judge) must still order them as the truth does:

- ``base``: the default world;
- ``flat_band``: a course helps people outside its band almost as much (below-band factor
  0.7 instead of 0.35, above 0.4 instead of 0.1): matching the band matters less;
- ``long_courses_dropped``: each JP above 16 costs 2.4 times as much completion (log-odds
  slope 0.06): length trades against completion more sharply;
- ``engagement_weak``: completion depends far less on the person (engagement weight 0.4
  instead of 1.3): participation risk says little;
- ``popular_is_effective``: the popular modes (seminar, e-learning, classroom) are the
  strongest and the rare ones (coaching, mentoring, magang) the weakest, the reverse of the
  default: popularity is a good guide here.

    .venv/bin/python -m experiments.path_world_variants --sizes 1000 5000 --seeds 1 2 3

writes `experiments/results/path_world_variants.csv`: per variant, size and seed, the planner
against the oracle, the content rule and popularity on the truth, the true and estimated order
of the four policies, and the largest number of plan-rule violations of any policy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

import demo_data.courses as dc
import demo_data.truth as dt
from experiments.benefit_study import run_one, summary
from experiments.world_variants import Patches, variant_world

RESULTS = Path("experiments/results")
_POPULAR_STRONG = {
    "klasikal": 0.45, "e_learning": 0.4, "blended": 0.3, "workshop": 0.3,
    "seminar": 0.5, "coaching": 0.15, "mentoring": 0.15, "magang": 0.12,
}  # fmt: skip
VARIANTS: Mapping[str, Patches] = {
    "base": (),
    "flat_band": ((dt, {"BELOW_BAND_FACTOR": 0.7, "ABOVE_BAND_FACTOR": 0.4}),),
    "long_courses_dropped": ((dt, {"HOURS_SLOPE": 0.06}),),
    "engagement_weak": ((dt, {"ENGAGEMENT_WEIGHT": 0.4}),),
    "popular_is_effective": ((dc, {"_MODE_EFFECT": _POPULAR_STRONG}),),
}


def run_variant(name: str, employees: int, seed: int, workdir: Path) -> dict[str, object]:
    with variant_world(VARIANTS[name]):
        results = run_one(employees, seed, workdir / name)
    (row,) = summary(results).to_dict("records")
    return {"variant": name, **row}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=RESULTS / "path_world_variants.csv")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kompeten-path-variants-") as tmp:
        for name in args.variants:
            for employees in args.sizes:
                for seed in args.seeds:
                    rows.append(run_variant(name, employees, seed, Path(tmp)))
                    r = rows[-1]
                    print(
                        f"{name:>20} {employees:>6} seed {seed}: planner/oracle "
                        f"{r['planner_vs_oracle']:.2f}, /content {r['planner_vs_content']:.2f}, "
                        f"/popularity {r['planner_vs_popularity']:.2f}, order true "
                        f"{r['true_order']}, estimated {r['estimated_order']}",
                        flush=True,
                    )
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.round(6).to_csv(args.out, index=False)
    print(
        table.groupby(["variant", "employees"], sort=False)
        .agg(
            vs_oracle_min=("planner_vs_oracle", "min"),
            vs_content_min=("planner_vs_content", "min"),
            vs_popularity_min=("planner_vs_popularity", "min"),
            same_order=("same_order", "mean"),
            violations=("max_rule_violations", "max"),
        )
        .round(3)
        .to_string()
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
