"""Mentor pairing on demo worlds whose hidden mentoring rules differ from the default one.

The product is judged on worlds it has never seen, so one demo world proves little: a scorer
tuned, even unknowingly, to its hidden rules could lose to the simple rules elsewhere. Each
variant changes one rule of `demo_data.truth` (the constants the generator and the truth read)
and reruns `experiments.mentor_pairing_study.run_one` unchanged:

- ``base``: the default world;
- ``homogeneous_skill``: mentors differ little (`SKILL_SIGMA` 0.3 instead of 1.0): a track
  record is mostly noise and the lead decides;
- ``no_reputation``: who is asked to mentor says nothing about skill (`REPUTATION_WEIGHT` 0);
- ``slow_saturation``: returns in the lead diminish three times more slowly (`LEAD_SCALE`
  1.5): the most senior mentor is worth more, which favours the highest-level rule;
- ``small_gains``: mentorships teach less (`MENTOR_GAIN_SCALE` 0.2 instead of 0.5), so each
  observed gain is more noise than signal.

    .venv/bin/python -m experiments.mentor_world_variants --sizes 1000 5000 --seeds 1 2 3

writes `experiments/results/mentor_world_variants.csv`: per variant, size and seed, the share
of the optimum on the truth reached by the product, the highest-level rule and a random
eligible mentor, the product against the highest-level rule, the chosen scorer, and the share
of pairs whose mentor is truly not ahead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

import demo_data.truth as dt
from experiments.mentor_pairing_study import run_one
from experiments.world_variants import Patches, variant_world

RESULTS = Path("experiments/results")
VARIANTS: Mapping[str, Patches] = {
    "base": (),
    "homogeneous_skill": ((dt, {"SKILL_SIGMA": 0.3}),),
    "no_reputation": ((dt, {"REPUTATION_WEIGHT": 0.0}),),
    "slow_saturation": ((dt, {"LEAD_SCALE": 1.5}),),
    "small_gains": ((dt, {"MENTOR_GAIN_SCALE": 0.2}),),
}


def run_variant(name: str, employees: int, seed: int) -> dict[str, object]:
    with variant_world(VARIANTS[name]):
        row = run_one(employees, seed)
    optimum = max(float(row["optimum_true_benefit"]), 1e-9)  # type: ignore[arg-type]
    return {
        "variant": name,
        "employees": employees,
        "seed": seed,
        "scorer": row["scorer"],
        "product_share_of_optimum": row["product_share_of_optimum"],
        "highest_level_share_of_optimum": float(row["highest_level_true_benefit"]) / optimum,  # type: ignore[arg-type]
        "random_share_of_optimum": float(row["random_true_benefit"]) / optimum,  # type: ignore[arg-type]
        "product_vs_highest_level": row["product_vs_highest_level"],
        "product_truly_below_share": row["product_truly_below_share"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=RESULTS / "mentor_world_variants.csv")
    args = parser.parse_args(argv)
    rows = []
    for name in args.variants:
        for employees in args.sizes:
            for seed in args.seeds:
                rows.append(run_variant(name, employees, seed))
                r = rows[-1]
                print(
                    f"{name:>17} {employees:>6} seed {seed}: of optimum product "
                    f"{r['product_share_of_optimum']:.2f}, highest level "
                    f"{r['highest_level_share_of_optimum']:.2f}, random "
                    f"{r['random_share_of_optimum']:.2f} | x highest "
                    f"{r['product_vs_highest_level']:.2f}, scorer {r['scorer']}",
                    flush=True,
                )
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.round(6).to_csv(args.out, index=False)
    summary = table.groupby(["variant", "employees"], sort=False).agg(
        product_share_min=("product_share_of_optimum", "min"),
        x_highest_min=("product_vs_highest_level", "min"),
        x_highest_max=("product_vs_highest_level", "max"),
        below_max=("product_truly_below_share", "max"),
    )
    print(summary.round(3).to_string())
    print(f"written {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
