"""The layout keeps its shape: arrows one way, no circles, MLflow behind two adapters, small
files, every module named in the README's tree, and the packages imported from this checkout.

Read from the source text (imports at any depth, including those inside functions), so a lazy
import that would close a circle counts as much as a top-level one.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "features",
    "model",
    "demo_data",
    "training_pipeline",
    "experiments",
    "serving",
    "kompeten",
)
#: Which packages each package may import (besides itself). Arrows point one way.
ALLOWED = {
    "features": set(),
    "model": {"features"},
    "demo_data": {"features"},
    "training_pipeline": {"features", "model", "demo_data"},
    "experiments": {"features", "model", "demo_data", "training_pipeline"},
    "serving": {"features", "model"},
    "kompeten": {"features", "demo_data", "training_pipeline", "experiments", "serving"},
}
MLFLOW_ADAPTERS = {"training_pipeline/tracking.py", "serving/mlflow_client.py"}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _internal_edges() -> dict[str, set[str]]:
    """module -> the project modules it imports (a `from pkg import mod` names the module)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = {t for t in _imports(path) if t in MODULES and t != name}
        # `from features import columns` also yields "features": keep the package only when
        # nothing more precise was imported from it.
        edges[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return edges


def test_packages_import_only_downward():
    wrong = [
        f"{name} imports {target}"
        for name, targets in _internal_edges().items()
        for target in targets
        if (src := name.split(".")[0]) != (dst := target.split(".")[0]) and dst not in ALLOWED[src]
    ]
    assert wrong == []


def test_no_import_circle():
    edges = _internal_edges()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    # A package's __init__ that its own modules import is not a circle of code.
    real = [c for c in circles if not any(MODULES[m].name == "__init__.py" for m in c)]
    assert real == []


def test_mlflow_is_imported_by_exactly_the_two_adapters():
    importers = {
        str(path.relative_to(ROOT))
        for path in MODULES.values()
        if any(t == "mlflow" or t.startswith("mlflow.") for t in _imports(path))
    }
    assert importers == MLFLOW_ADAPTERS


def test_no_source_file_over_the_size_limit():
    sources = [*MODULES.values(), *(ROOT / "benchmarks").glob("*.py")]
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_readme_tree_names_every_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## Project layout", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"[\w/]+\.py", tree))
    missing = [
        str(p.relative_to(ROOT))
        for p in MODULES.values()
        if p.name != "__init__.py"
        and p.name not in named
        and str(p.relative_to(ROOT)) not in named
        and str(p.relative_to(ROOT / p.parts[len(ROOT.parts)])) not in named
    ]
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_come_from_this_checkout(package):
    module = importlib.import_module(package)
    assert Path(module.__file__).resolve().is_relative_to(ROOT)
