"""dmctl entry point: wires the command groups together.

Each command's module is imported only when that command runs: `dmctl operator run` must not pay
for weaviate-client, the sandbox servers or SQLAlchemy (start-up time and RSS of the operator).
"""

from __future__ import annotations

import importlib

import typer
import typer.core
import typer.main

# typer vendors its own click; its group API speaks these classes.
from typer._click.core import Command, Context

from datamigration_operator.quiet_authlib import quiet_authlib

# What each top-level command is: (module, attribute), a typer app (group) or a function.
COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("datamigration_operator.cli.sandbox", "sandbox_app"),
    "operator": ("datamigration_operator.cli.operator", "operator_app"),
    "status": ("datamigration_operator.cli.migrations", "status"),
    "advance": ("datamigration_operator.cli.migrations", "advance"),
    "rollback": ("datamigration_operator.cli.migrations", "rollback"),
    "copy": ("datamigration_operator.cli.migrate", "copy_command"),
    "validate": ("datamigration_operator.cli.migrate", "validate_command"),
    "sync": ("datamigration_operator.cli.migrate", "sync_command"),
    "job": ("datamigration_operator.cli.job", "job_app"),
    "sample-db": ("datamigration_operator.cli.sample_db", "sample_db"),
    "sample-app": ("datamigration_operator.cli.sample_app", "sample_app"),
    "bench": ("datamigration_operator.cli.bench", "bench_app"),
}


class LazyCommands(typer.core.TyperGroup):
    """A click group that imports a command's module when the command is looked up."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name]
        target = getattr(importlib.import_module(module_name), attribute)
        # Built exactly as add_typer/command would have built it inside a parent app (a typer
        # app with a single command would otherwise collapse into that command).
        parent = typer.Typer(add_completion=False)
        if isinstance(target, typer.Typer):
            parent.add_typer(target, name=cmd_name)
        else:
            parent.command(cmd_name)(target)
            parent.callback()(lambda: None)  # keeps `parent` a group
        group = typer.main.get_command(parent)
        assert isinstance(group, typer.core.TyperGroup)
        return group.get_command(ctx, cmd_name)


app = typer.Typer(
    name="dmctl",
    cls=LazyCommands,
    help="Migrate an application's data from SQLite to Weaviate with a Kubernetes operator.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Migrate an application's data from SQLite to Weaviate with a Kubernetes operator."""


def main() -> None:
    quiet_authlib()
    app()


if __name__ == "__main__":
    main()
