"""Where the planner loses against the oracle: its inputs swapped, one at a time, for the truth.

For every (employees, seed) a demo world is drawn and the planner fitted as in
`experiments.benefit_study`. Its candidates then go to the same path builder with, in turn,
the true completion probabilities, the true gains if completed, the true current levels (the
gaps the builder aims at, instead of the planner's E[level | measured]), all three, and
finally the oracle (`evaluate.oracle_paths`, which also chooses its candidates from the whole
catalog by the truth). Each gain prior of the ranker (`model.ranker.GAIN_PRIORS`) is also
forced in turn (`prior_<name>`), whichever the planner chose (`chosen_prior`), to show what
each would give. Each row is the true gap
closed per employee of those paths. A diagnostic of what to improve, not a policy: only this
experiment feeds the truth to the path builder.

    .venv/bin/python -m experiments.oracle_gap --sizes 1000 --seeds 1 2 3 4 5

writes `experiments/results/oracle_gap.csv`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="kompeten-oracle-gap-"))
os.environ.setdefault("KOMPETEN_HOME", str(_TMP))
os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{_TMP / 'mlflow.db'}")

import pandas as pd  # noqa: E402

from demo_data import write_demo  # noqa: E402
from demo_data.truth import (  # noqa: E402
    GAIN_IF_COMPLETED,
    TRUE_LEVEL,
    TRUE_LEVELS,
    expected_outcomes,
    load_truth,
)
from features import columns as c  # noqa: E402
from features.build import build_features  # noqa: E402
from features.io import load_dataset  # noqa: E402
from features.plan_input import employee_view  # noqa: E402
from model.path_builder import build_paths  # noqa: E402
from model.path_inputs import (  # noqa: E402
    EXPECTED_GAIN,
    P_COMPLETE,
    EmployeeState,
    candidates_from_frame,
    paths_to_frame,
)
from model.planner import employee_states_from_view, with_expected_levels  # noqa: E402
from model.ranker import GAIN_PRIORS  # noqa: E402
from training_pipeline import evaluate, train  # noqa: E402
from training_pipeline.holdout import evaluation_view  # noqa: E402

RESULTS = Path("experiments/results")


def run_one(employees: int, seed: int, workdir: Path) -> dict[str, float]:
    data_dir = workdir / f"demo-{employees}-{seed}"
    truth_dir = workdir / f"demo-{employees}-{seed}-truth"
    write_demo(data_dir, n_employees=employees, seed=seed, truth_dir=truth_dir, fmt="parquet")
    tables = load_dataset(data_dir)
    truth = load_truth(truth_dir)
    as_of = train.latest_date(tables)
    config = train.TrainConfig(data_dir=data_dir, ablations=False, register=False, seed=seed)
    planner = train.fit_planner(tables, as_of, config)
    view = evaluation_view(employee_view(tables, build_features(tables, as_of)), tables, config)
    catalog = planner.catalog
    scored = planner.recommender.scored_candidates(view)
    risks = {k: float(v) for k, v in planner.risks(view).items() if pd.notna(v)}
    states = with_expected_levels(employee_states_from_view(view), planner.level_drift)
    level = truth[TRUE_LEVELS].set_index([c.NIP, c.COMPETENCY_ID])[TRUE_LEVEL]
    true_states = [
        EmployeeState(
            s.nip,
            {
                k: (float(level.get((s.nip, k), c.MIN_LEVEL_VALUE)), req)
                for k, (_, req) in s.gaps.items()
            },
            s.completed,
            s.ongoing,
        )
        for s in states
    ]
    keys = [c.NIP, c.COURSE_ID, c.COMPETENCY_ID]
    outcome = expected_outcomes(truth, scored[[c.NIP, c.COURSE_ID]].drop_duplicates())
    true_p = outcome.drop_duplicates([c.NIP, c.COURSE_ID])[[c.NIP, c.COURSE_ID, P_COMPLETE]]
    true_gain = outcome[[*keys, GAIN_IF_COMPLETED]].rename(
        columns={GAIN_IF_COMPLETED: EXPECTED_GAIN}
    )
    with_p = scored.drop(columns=[P_COMPLETE]).merge(true_p, on=[c.NIP, c.COURSE_ID])
    with_gain = scored.drop(columns=[EXPECTED_GAIN]).merge(true_gain, on=keys)
    with_both = with_p.drop(columns=[EXPECTED_GAIN]).merge(true_gain, on=keys)
    nips = [s.nip for s in states]

    def closure(st, frame, risk) -> float:
        paths = build_paths(
            st, candidates_from_frame(frame, catalog), catalog,
            jp_budget=config.jp_budget, min_jp=config.min_jp, risks=risk,
        )  # fmt: skip
        frame = paths_to_frame(nips, paths)
        return evaluate.gap_closure_with_truth(truth, tables, frame)["true_gap_closed_per_employee"]

    oracle = evaluate.oracle_paths(truth, view, catalog, config.jp_budget, config.min_jp)
    recommender = planner.recommender
    chosen = recommender.gain_prior_
    forced = {}
    for prior in GAIN_PRIORS:
        recommender.gain_prior_ = prior
        forced[f"prior_{prior}"] = closure(states, recommender.scored_candidates(view), risks)
    recommender.gain_prior_ = chosen
    return {
        "employees": employees,
        "seed": seed,
        "planner": closure(states, scored, risks),
        "true_p_complete": closure(states, with_p, None),
        "true_gain": closure(states, with_gain, risks),
        "true_levels": closure(true_states, scored, risks),
        "all_three": closure(true_states, with_both, None),
        "oracle": evaluate.gap_closure_with_truth(truth, tables, oracle)[
            "true_gap_closed_per_employee"
        ],
        **forced,
        "chosen_prior": chosen,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=RESULTS / "oracle_gap.csv")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kompeten-oracle-gap-data-") as tmp:
        for employees in args.sizes:
            for seed in args.seeds:
                rows.append(run_one(employees, seed, Path(tmp)))
                print(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()},
                    flush=True,
                )
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.round(6).to_csv(args.out, index=False)
    print(table.round(3).to_string(index=False))
    print(f"written {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
