"""`dmctl operator run`: the operator process (its entry point lives with the handlers)."""

from __future__ import annotations

import typer

from datamigration_operator.handlers.command import run

operator_app = typer.Typer(
    add_completion=False, help="Run the DataMigration operator.", no_args_is_help=True
)
operator_app.command("run")(run)
