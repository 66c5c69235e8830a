"""Experiment definitions stay runnable: every variant is a valid training configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from experiments.definitions import EXPERIMENTS
from experiments.runner import run_experiment
from features.settings import Settings
from training_pipeline.train import TrainConfig


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_variant_is_a_valid_config(name):
    base = TrainConfig(data_dir=Path("unused"))
    for overrides in EXPERIMENTS[name].variants.values():
        config = dataclasses.replace(base, register=False, **overrides)
        assert config.register is False


def test_unknown_experiment_is_refused(tmp_path):
    with pytest.raises(KeyError, match="known"):
        run_experiment("nope", TrainConfig(data_dir=tmp_path), Settings(home=tmp_path))
