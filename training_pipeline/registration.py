"""Register the trained planner: the pyfunc's input example (NIPs pseudonymised), its
params, the pinned requirements, the models-from-code file, and the promotion gate that
moves the aliases last, so a failed run never changes what the service loads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from features import columns as c
from features.build import build_features
from features.plan_input import AS_OF, employee_view, to_plan_input
from features.pseudonym import pseudonymize_many
from features.settings import Settings
from model.bundle import PLANNER_ARTIFACT, save_planner
from training_pipeline.run_config import TrainConfig


def pyfunc_params(planner: Any) -> dict[str, Any]:
    """The plan policy a pyfunc caller may change per call, with the trained defaults
    (an empty `model_version` means "none stated")."""
    return {
        "jp_budget": int(planner.jp_budget),
        "mentor_capacity": int(planner.mentor_capacity),
        "with_mentors": True,
        "model_version": "",
    }


#: The models-from-code file MLflow stores as the planner pyfunc (logged by path, not pickled).
PLANNER_MODEL_CODE = Path(__file__).with_name("planner_model.py")


def register_planner(
    planner: Any,
    example: pd.DataFrame,
    settings: Settings,
    config: TrainConfig,
    metrics: Mapping[str, float],
    tracking: Any,
) -> tuple[str, Any]:
    """Log the pyfunc, register a version, alias it challenger, then apply the gate."""
    params = pyfunc_params(planner)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_planner(planner, tmp)
        version = tracking.log_pyfunc_model(
            PLANNER_MODEL_CODE,
            {PLANNER_ARTIFACT: str(path)},
            example,
            planner.plan_frame(example, **params),
            settings.model_name,
            pip_requirements=_requirements(),
            metadata={"as_of": str(example[AS_OF].iloc[0])},
            params=params,
        )
    name = settings.model_name
    champion = tracking.alias_version(name, tracking.CHAMPION)
    champion_metrics = tracking.version_metrics(champion) if champion is not None else None
    decision = tracking.decide_gate(
        metrics,
        champion_metrics,
        None if champion is None else str(champion.version),
        config.gate_metric,
        config.gate_tolerance,
    )
    # The decision is recorded before any alias moves: aliases are the very last step, so a
    # run that fails anywhere earlier never changes what the service loads.
    tracking.log_dict(decision.as_dict(), "gate_decision.json")
    tracking.log_metrics(decision.as_metrics())
    tracking.set_tags(
        {
            "gate.promote": str(decision.promote),
            "gate.reason": decision.reason,
            "gate.metric": decision.metric,
        }
    )
    tracking.set_alias(name, tracking.CHALLENGER, version.version)
    if decision.promote:
        tracking.set_alias(name, tracking.CHAMPION, version.version)
    return str(version.version), decision


def input_example(
    tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, settings: Settings
) -> pd.DataFrame:
    """Three employees in the pyfunc's input format, with NIPs pseudonymised."""
    fs = build_features(tables, as_of)
    view = employee_view(tables, fs)
    nips = view.employees[c.NIP].head(3).tolist()
    frame = to_plan_input(view.subset(nips))
    for col in (c.NIP, c.SUPERVISOR_NIP):
        frame[col] = pseudonymize_many(frame[col].fillna(""), settings.pseudonym_key)
        frame.loc[frame[col] == pseudonymize_many([""], settings.pseudonym_key)[0], col] = None
    return frame


def _requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ["scikit-learn", "pandas", "numpy", "scipy", "joblib", "pyarrow"]
    return [f"{p}=={version(p)}" for p in pkgs]
