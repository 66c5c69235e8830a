"""True mentoring benefit of the product's pairing against the simple rules and the optimum.

For every (employees, seed) a demo dataset is drawn (`training_pipeline.demo_data`), the mentor
scorer is fitted and chosen exactly as `kompeten train` does (`training_pipeline.train.
fit_mentor_scorer`: candidates judged by held-out assignment benefit), and four pairings of the
same mentees, on the same eligible candidates and the same capacities (3, ongoing mentorships
counted), are scored with the generator's hidden truth (`demo_truth.expected_mentor_gain`):

- product: the exact assignment on the chosen scorer's predicted gain (`pair_mentors`);
- highest_level: each mentee's eligible mentor with the highest assessed level, most highly
  assessed mentors handed out first while room lasts (`highest_level_pairing`);
- random: a random eligible mentor with room (`random_pairing`);
- optimum: the exact assignment on the true gain (what full knowledge would reach).

Two references on the way to the optimum show where the rest is lost (truth used to *choose*,
so no method can be expected to reach them): ``known_skill`` assigns on the true mentor skill x
the estimated headroom (levels still estimated), ``observed_skill`` does so only for mentors with
an observed mentee gain and gives every other mentor the pool's estimated effect (what a
perfect track record could reach; mentors never seen mentoring stay unknown).

Also the share of pairs whose mentor is, in truth, not above the mentee in the focus
competency. Models never read the truth; it is only used here, to score.

    .venv/bin/python -m experiments.mentor_pairing_study --sizes 1000 5000 --seeds 1 2 3 4 5

writes `experiments/results/mentor_pairing.csv` (one row per size and seed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from demo_data import generate_demo
from demo_data.truth import MENTOR_QUALITY, QUALITY, expected_mentor_gain, true_lead
from features import columns as c
from features import mentor_vectors as mv
from features.as_of import latest_date
from features.build import build_features
from features.mentor_pair_features import HEADROOM, mentor_pair_features
from features.plan_input import EmployeeView, employee_view
from model import mentor_pairing as mp
from model.assignment import BENEFIT, DEFAULT_CAPACITY, assign
from training_pipeline import fitting, train

RESULTS = Path("experiments/results")
PAIRINGS = ("product", "highest_level", "random", "optimum")
REFERENCES = ("observed_skill", "known_skill")


def run_one(employees: int, seed: int, capacity: int = DEFAULT_CAPACITY) -> dict[str, object]:
    """One demo world: true benefit, pairs and truly-below share of each pairing."""
    demo = generate_demo(employees, seed=seed)
    tables, truth = demo.tables, demo.truth
    as_of = latest_date(tables)
    t0 = time.perf_counter()
    dates = train.snapshot_dates(train.earliest_date(tables), as_of)
    scorer = fitting.fit_mentor_scorer(tables, dates, seed)
    fit_seconds = time.perf_counter() - t0
    view = employee_view(tables, build_features(tables, as_of))
    t0 = time.perf_counter()
    candidates = mp.candidate_pairs(view, scorer)
    free = mp.remaining_capacity(view, capacity)
    product = assign(candidates, free)
    pair_seconds = time.perf_counter() - t0
    on_truth = candidates.assign(**{BENEFIT: expected_mentor_gain(truth, candidates)})
    pairings = {
        "product": product,
        "highest_level": mp.highest_level_pairing(candidates, free),
        "random": mp.random_pairing(candidates, free, seed=seed),
        "optimum": assign(on_truth, free),
        **_skill_references(view, truth, candidates, free, scorer.mean_effect_),
    }
    row: dict[str, object] = {
        "employees": employees,
        "seed": seed,
        "scorer": scorer.model_name_,
        "mentees_with_candidates": int(candidates["mentee_nip"].nunique()),
    }
    benefit: dict[str, float] = {}
    for name, pairs in pairings.items():
        if name in REFERENCES:
            row[f"{name}_share_of_optimum"] = float(
                np.nansum(expected_mentor_gain(truth, pairs))
            ) / max(benefit["optimum"], 1e-9)
            continue
        benefit[name] = float(np.nansum(expected_mentor_gain(truth, pairs)))
        row[f"{name}_true_benefit"] = benefit[name]
        row[f"{name}_pairs"] = len(pairs)
        lead = true_lead(truth, pairs)
        row[f"{name}_truly_below_share"] = float((lead <= 0).mean()) if len(pairs) else 0.0
    row["product_vs_highest_level"] = benefit["product"] / benefit["highest_level"]
    row["product_share_of_optimum"] = benefit["product"] / benefit["optimum"]
    for name, value in scorer.candidate_benefit_.items():
        row[f"heldout_{name}"] = value
    row["fit_seconds"] = fit_seconds
    row["pair_seconds"] = pair_seconds
    return row


def _skill_references(
    view: EmployeeView,
    truth: Mapping[str, pd.DataFrame],
    candidates: pd.DataFrame,
    free: dict[str, int],
    pool_effect: float,
) -> dict[str, pd.DataFrame]:
    """Assignments on the true mentor skill x estimated headroom: for every mentor
    (``known_skill``) or only for mentors with an observed track record (``observed_skill``)."""
    room = mentor_pair_features(view, candidates)[HEADROOM].to_numpy(dtype=np.float64)
    skill = (
        truth[MENTOR_QUALITY].set_index(c.NIP)[QUALITY].reindex(candidates[c.MENTOR_NIP])
    ).to_numpy(dtype=np.float64)
    stats = view.employees.set_index(c.NIP)
    seen = stats[mv.N_MENTEE_CHANGE].reindex(candidates[c.MENTOR_NIP]).to_numpy() > 0
    effect = stats[mv.MENTEE_GAIN_PER_HEADROOM].reindex(candidates[c.MENTOR_NIP]).to_numpy()
    # the seen mentors' true skill on the scale of their estimated effect
    scale = np.nanmean(effect[seen]) / np.nanmean(skill[seen]) if seen.any() else 1.0
    observed = np.where(seen, skill * scale, pool_effect)
    return {
        "observed_skill": assign(candidates.assign(**{BENEFIT: observed * room + 1e-9}), free),
        "known_skill": assign(candidates.assign(**{BENEFIT: skill * room + 1e-9}), free),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=RESULTS / "mentor_pairing.csv")
    args = parser.parse_args(argv)

    rows = []
    for employees in args.sizes:
        for seed in args.seeds:
            t0 = time.perf_counter()
            row = run_one(employees, seed)
            rows.append(row)
            print(
                f"{employees:>6} employees, seed {seed}: "
                + ", ".join(f"{p} {row[f'{p}_true_benefit']:.1f}" for p in PAIRINGS)
                + f" | x highest {row['product_vs_highest_level']:.2f}, "
                f"of optimum {row['product_share_of_optimum']:.2f}, "
                f"below {row['product_truly_below_share']:.3f}, scorer {row['scorer']}, "
                f"observed/known skill {row['observed_skill_share_of_optimum']:.2f}/"
                f"{row['known_skill_share_of_optimum']:.2f} of optimum"
                f"  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    results = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results.round(6).to_csv(args.out, index=False)
    table = results[
        ["employees", "seed", "scorer"]
        + [f"{p}_true_benefit" for p in PAIRINGS]
        + ["product_vs_highest_level", "product_share_of_optimum", "product_truly_below_share"]
        + [f"{r}_share_of_optimum" for r in REFERENCES]
    ]
    print(table.round(3).to_string(index=False))
    print(f"written {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
