"""`kompeten plan` over worker processes writes what one process writes, byte for byte.

One small demo (150 employees, every kelurahan made its own planning partition so there are
several), one planner fitted in memory (no MLflow), planned with 1, 2 and 3 jobs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from features import columns as c
from features.build import build_features
from features.plan_input import employee_view
from training_pipeline import batch_plan
from training_pipeline.batch_plan import partitions, plan_partitions, write_plans

POLICY = {"jp_budget": 40, "mentor_capacity": 2, "model_version": "7"}


def _kelurahan_as_partitions(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Hang every kelurahan straight under the city: each becomes its own partition."""
    units = tables[c.UNITS].copy()
    root = units.loc[units[c.PARENT_UNIT_ID].isna(), c.UNIT_ID].iloc[0]
    units.loc[units[c.UNIT_ID].str.startswith("KEL-"), c.PARENT_UNIT_ID] = root
    return {**tables, c.UNITS: units}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from demo_data import generate_demo
    from features.as_of import latest_date
    from training_pipeline.fitting import fit_planner
    from training_pipeline.run_config import TrainConfig

    tables = _kelurahan_as_partitions(generate_demo(n_employees=150, seed=11, years=3).tables)
    as_of = latest_date(tables)
    root = tmp_path_factory.mktemp("batch-plan")
    planner = fit_planner(tables, as_of, TrainConfig(data_dir=root, n_candidates=20))
    view = employee_view(tables, build_features(tables, as_of))
    return {"planner": planner, "view": view, "units": tables[c.UNITS], "root": root}


def _plans(world, jobs: int) -> list[dict]:
    planner, view, units = world["planner"], world["view"], world["units"]
    return list(plan_partitions(planner, view, units, **POLICY, jobs=jobs))


def test_several_partitions_to_spread(world):
    assert len(partitions(world["view"], world["units"])) >= 3


def test_plans_and_their_order_do_not_depend_on_jobs(world):
    one = _plans(world, 1)
    assert len(one) == len(world["view"].employees)
    assert _plans(world, 2) == one
    assert not batch_plan._WORK  # nothing of the run is left for the next one


def test_written_file_is_the_same_for_any_jobs(world):
    files = {}
    for jobs in (1, 2, 3):
        out = world["root"] / f"plans-{jobs}.jsonl"
        counts = write_plans(
            world["planner"], world["view"], world["units"], out, min_jp=20, jobs=jobs, **POLICY
        )
        assert counts.jobs == jobs and counts.plans == len(world["view"].employees)
        files[jobs] = out.read_bytes()
        assert not Path(str(out) + ".tmp").exists()
    assert files[2] == files[1] and files[3] == files[1]
    plans = _plans(world, 1)
    expected = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in plans)
    assert files[1].decode("utf-8") == expected
    assert counts.with_mentor == sum(p["mentor"] is not None for p in plans)
    assert counts.total_jp == sum(p["total_jp"] for p in plans)
    assert counts.reaching_min_jp == sum(p["total_jp"] >= 20 for p in plans)


def test_jobs_beyond_the_partitions_are_not_started(world):
    n = len(partitions(world["view"], world["units"]))
    counts = write_plans(
        world["planner"],
        world["view"],
        world["units"],
        world["root"] / "many.jsonl",
        min_jp=20,
        jobs=n + 5,
        **POLICY,
    )
    assert counts.jobs == n


def test_a_reader_that_stops_early_does_not_wait_or_leak(world):
    plans = plan_partitions(world["planner"], world["view"], world["units"], **POLICY, jobs=2)
    first = next(plans)
    plans.close()
    assert first == _plans(world, 1)[0]
    assert not batch_plan._WORK


def test_jobs_must_be_positive(world):
    with pytest.raises(ValueError, match="jobs"):
        write_plans(
            world["planner"],
            world["view"],
            world["units"],
            world["root"] / "none.jsonl",
            min_jp=20,
            jobs=0,
            **POLICY,
        )


def test_default_jobs_is_the_cpus_available():
    assert 1 <= batch_plan.default_jobs() <= (os.cpu_count() or 1)


def test_cli_plan_takes_jobs_and_refuses_zero(tmp_path):
    from typer.testing import CliRunner

    from kompeten.cli import app

    runner = CliRunner()
    assert "--jobs" in runner.invoke(app, ["plan", "--help"]).output
    refused = runner.invoke(app, ["plan", str(tmp_path), "--jobs", "0"])
    assert refused.exit_code == 2 and "--jobs" in refused.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], {"jp_budget": 25, "mentor_capacity": 5}), (["--jp-budget", "60"], {"jp_budget": 60})],
)
def test_cli_plan_policy_defaults_come_from_settings(tmp_path, monkeypatch, args, expected):
    """--jp-budget / --mentor-capacity default to KOMPETEN_JP_BUDGET / _MENTOR_CAPACITY."""
    from typer.testing import CliRunner

    from features.settings import get_settings
    from kompeten.cli import app

    seen: dict = {}

    def fake_run_plan(data, out_file, settings, **kwargs):
        seen.update(kwargs)
        return {"plans": 0}

    monkeypatch.setattr(batch_plan, "run_plan", fake_run_plan)
    monkeypatch.setenv("KOMPETEN_JP_BUDGET", "25")
    monkeypatch.setenv("KOMPETEN_MENTOR_CAPACITY", "5")
    monkeypatch.setenv("KOMPETEN_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["plan", "--data", str(tmp_path), *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert {k: seen[k] for k in expected} == expected


def test_batch_candidates_are_those_of_the_scored_frame(world):
    """The planner's shortcut (`score_candidates`) gives the arrays the frame route gives."""
    from model.path_inputs import candidates_from_frame

    recommender, catalog = world["planner"].recommender, world["planner"].catalog
    view = world["view"]
    direct = recommender.score_candidates(view, catalog)
    via_frame = candidates_from_frame(recommender.scored_candidates(view), catalog)
    assert list(direct) == list(via_frame) and len(direct) == len(view.employees)
    for nip, got in direct.items():
        want = via_frame[nip]
        for name in ("course_idx", "p_complete", "gain", "score"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (nip, name)
    assert recommender.score_candidates(view.subset([]), catalog) == {}
