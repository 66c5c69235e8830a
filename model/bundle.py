"""The fitted planner's file format: one joblib file, the only file model/ reads or writes.

The training side writes it and logs it as the artifact `planner` of the MLflow pyfunc
`kompeten-planner`; the serving side and batch jobs read it back from the model's folder
(`artifacts/planner.joblib`, as MLflow lays out a pyfunc's artifacts). Keeping both directions
here means neither side needs the other's MLflow code to find or open the planner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib

#: Artifact key of the planner inside the pyfunc, and its file name.
PLANNER_ARTIFACT = "planner"
PLANNER_FILE = "planner.joblib"


def save_planner(planner: Any, folder: str | Path) -> Path:
    """Write the fitted planner to `folder/planner.joblib` (compressed) and return the path."""
    path = Path(folder) / PLANNER_FILE
    joblib.dump(planner, path, compress=3)
    return path


def load_planner_file(model_dir: str | Path) -> Any:
    """The planner inside a downloaded pyfunc model folder (or a bare `planner.joblib`)."""
    model_dir = Path(model_dir)
    for path in (model_dir / "artifacts" / PLANNER_FILE, model_dir / PLANNER_FILE, model_dir):
        if path.is_file():
            return joblib.load(path)
    raise FileNotFoundError(f"no {PLANNER_FILE} in {model_dir}")
