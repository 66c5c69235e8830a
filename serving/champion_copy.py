"""A local copy of the served champion (model files + version), so that a restart while the
MLflow registry is unreachable serves the last good model instead of nothing.

The copy lives in `KOMPETEN_HOME/champion/` (`model/` as MLflow downloaded it, `champion.json`
naming the model and version). A new version is downloaded into a staging folder, loaded from
there, and only then swapped in, under a file lock so that several workers starting at once
download it once and never see half a copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger("kompeten.serving")

COPY_DIR = "champion"
MANIFEST = "champion.json"
MODEL_DIR = "model"


@dataclass(frozen=True)
class SavedChampion:
    model_name: str
    model_version: str
    saved_at: str


class ChampionCopy:
    """The local copy under `home`; `fetch(dst)` downloads a version's model files into dst."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / COPY_DIR

    def saved(self, model_name: str) -> SavedChampion | None:
        """The version the copy holds for `model_name` (None: no usable copy)."""
        try:
            manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if manifest.get("model_name") != model_name or not (self.path / MODEL_DIR).is_dir():
            return None
        return SavedChampion(
            str(manifest["model_name"]),
            str(manifest["model_version"]),
            str(manifest.get("saved_at", "")),
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / f".{COPY_DIR}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def load(self, model_name: str, version: str, loader: Callable[[Path], Any]) -> Any | None:
        """`loader(model files)` of the copy if it holds this version, else None."""
        with self._locked():
            saved = self.saved(model_name)
            if saved is None or saved.model_version != version:
                return None
            return loader(self.path / MODEL_DIR)

    def refresh(
        self,
        model_name: str,
        version: str,
        fetch: Callable[[Path], None],
        loader: Callable[[Path], Any],
    ) -> Any:
        """Download `version`, load it, and keep it as the copy; returns what `loader` gave.

        A version that fails to load never replaces the copy.
        """
        with self._locked():
            saved = self.saved(model_name)
            if saved is not None and saved.model_version == version:  # another worker did it
                return loader(self.path / MODEL_DIR)
            staging = Path(tempfile.mkdtemp(prefix=f".{COPY_DIR}-", dir=self.home))
            try:
                fetch(staging / MODEL_DIR)
                loaded = loader(staging / MODEL_DIR)
                manifest = {
                    "model_name": model_name,
                    "model_version": version,
                    "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                (staging / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
                os.chmod(staging, 0o700)
                old = self.home / f".{COPY_DIR}-old"
                shutil.rmtree(old, ignore_errors=True)
                if self.path.exists():
                    self.path.rename(old)
                staging.rename(self.path)
                shutil.rmtree(old, ignore_errors=True)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            logger.info("kept a local copy of %s version %s in %s", model_name, version, self.path)
            return loaded
