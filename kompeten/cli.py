"""The `kompeten` command line: one entry point composed of each package's own commands.

Each package keeps its commands next to its code (`features.cli`, `demo_data.cli`,
`training_pipeline.cli`, `experiments.cli`, `serving.cli`); this module only puts them under one
name, so no package has to import another's commands. Heavy libraries (mlflow, sklearn,
fastapi) are imported inside the commands that need them, so `kompeten validate`
and `kompeten --help` stay fast.
"""

from __future__ import annotations

import sys

import typer

from demo_data import cli as demo_data_cli
from experiments import cli as experiments_cli
from features import cli as features_cli
from features.cli_support import console
from serving import cli as serving_cli
from training_pipeline import cli as training_cli

app = typer.Typer(
    name="kompeten",
    help=(
        "kompeten: competency-development recommendations for ASN (civil servants).\n\n"
        "Turns HR data (the dataset contract, see docs/data-contract.md) into development plans: "
        "training paths that close competency gaps within the JP budget, mentor pairings, and "
        "participation risk. Configuration comes from KOMPETEN_* environment variables and "
        "MLFLOW_TRACKING_URI (see README)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for package_app in (
    features_cli.app,
    demo_data_cli.app,
    training_cli.app,
    experiments_cli.app,
    serving_cli.app,
):
    app.add_typer(package_app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
