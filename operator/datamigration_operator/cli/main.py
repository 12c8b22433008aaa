"""dmctl entry point: wires the command groups together.

Each command's module is imported only when that command runs: `dmctl operator run` must not pay
for weaviate-client, the sandbox servers or SQLAlchemy (start-up time and RSS of the operator).

Other distributions add commands through the `dmctl.plugins` entry-point group (name = the
command, value = `module:attribute` of a typer app or a function): the sandbox adds `sandbox`,
`bench` and `sample-db`, the example chat app `sample-app`. The product names none of them; an
install without them (the operator image) simply has no such commands.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Annotated

import typer
import typer.core
import typer.main

# typer vendors its own click; its group API speaks these classes.
from typer._click.core import Command, Context
from typer._click.exceptions import UsageError
from typer._click.formatting import HelpFormatter

from datamigration_operator import __version__
from datamigration_operator.cli.exit_status import EXIT_CODES_HELP
from datamigration_operator.quiet_authlib import quiet_authlib

# What each top-level command is: (module, attribute), a typer app (group) or a function.
COMMANDS: dict[str, tuple[str, str]] = {
    "operator": ("datamigration_operator.cli.operator", "operator_app"),
    "list": ("datamigration_operator.cli.migrations", "list_command"),
    "status": ("datamigration_operator.cli.migrations", "status"),
    "watch": ("datamigration_operator.cli.migrations", "watch"),
    "advance": ("datamigration_operator.cli.migrations", "advance"),
    "rollback": ("datamigration_operator.cli.migrations", "rollback"),
    "copy": ("datamigration_operator.cli.migrate", "copy_command"),
    "validate": ("datamigration_operator.cli.migrate", "validate_command"),
    "sync": ("datamigration_operator.cli.migrate", "sync_command"),
    "plan": ("datamigration_operator.cli.plan_command", "plan_command"),
    "backup": ("datamigration_operator.cli.backup_command", "backup_app"),
    "job": ("datamigration_operator.cli.job", "job_app"),
}

PLUGIN_GROUP = "dmctl.plugins"


def plugin_commands() -> dict[str, tuple[str, str]]:
    """The commands installed distributions add: name -> (module, attribute).

    Reads only the distributions' metadata (entry_points.txt); nothing is imported. A plugin
    never replaces a built-in command.
    """
    found: dict[str, tuple[str, str]] = {}
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name in COMMANDS or entry.name in found:
            continue
        module_name, _, attribute = entry.value.partition(":")
        found[entry.name] = (module_name.strip(), attribute.strip())
    return found


def all_commands() -> dict[str, tuple[str, str]]:
    return {**COMMANDS, **plugin_commands()}


class FullHelpGroup(typer.core.TyperGroup):
    """Lists each command with the whole first sentence of its help: click would cut it to
    fit the terminal (`Phase, state, mode, progress, validation and conditions of...`)."""

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class LazyCommands(FullHelpGroup):
    """A click group that imports a command's module when the command is looked up."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(all_commands())

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        # The built-ins first: `dmctl operator run` and `dmctl job ...` never scan for plugins.
        found = COMMANDS.get(cmd_name) or plugin_commands().get(cmd_name)
        if found is None:
            return None
        module_name, attribute = found
        target = getattr(importlib.import_module(module_name), attribute)
        # Built exactly as add_typer/command would have built it inside a parent app (a typer
        # app with a single command would otherwise collapse into that command).
        parent = typer.Typer(add_completion=False, rich_markup_mode=None)
        if isinstance(target, typer.Typer):
            parent.add_typer(target, name=cmd_name, cls=FullHelpGroup)
        else:
            parent.command(cmd_name)(target)
            parent.callback()(lambda: None)  # keeps `parent` a group
        group = typer.main.get_command(parent)
        assert isinstance(group, typer.core.TyperGroup)
        return group.get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """An unknown command names the closest ones (`dmctl stauts` -> status)."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)


# Plain click help (rich_markup_mode=None): rich's option tables cut option names at 80
# columns (`--checkpoint-fi…`); click wraps the descriptions and never cuts a name.
app = typer.Typer(
    name="dmctl",
    cls=LazyCommands,
    help="Migrate an application's data from SQLite to Weaviate with a Kubernetes operator.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    add_completion=True,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"dmctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Migrate an application's data from SQLite to Weaviate with a Kubernetes operator."""


def main() -> None:
    quiet_authlib()
    app()


if __name__ == "__main__":
    main()
