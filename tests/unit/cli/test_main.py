"""dmctl loads each command's module only when that command runs, and every command resolves,
its own and those of installed plugins (the sandbox, the example chat app)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datamigration_operator.cli import main
from datamigration_operator.cli.main import COMMANDS, all_commands, app

PLUGINS = {"sandbox", "bench", "sample-db", "sample-app"}


@pytest.mark.parametrize("name", list(all_commands()))
def test_every_command_resolves_with_its_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"dmctl {name}" in result.output


def test_a_group_with_one_command_keeps_its_subcommand() -> None:
    result = CliRunner().invoke(app, ["operator", "run", "--help"])
    assert result.exit_code == 0, result.output
    assert "--all-namespaces" in result.output


def test_starting_dmctl_does_not_import_the_heavy_libraries() -> None:
    probe = (
        "import sys, datamigration_operator.cli.main as m; "
        "print(sorted(n for n in ('weaviate', 'sqlalchemy', 'grpc', 'kopf') if n in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_sample_db_creates_a_database_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "app.db"
    made = CliRunner().invoke(app, ["sample-db", str(target), "--rows", "100"])
    assert made.exit_code == 0, made.output
    assert "messages: 80 rows" in made.output
    again = CliRunner().invoke(app, ["sample-db", str(target), "--rows", "100"])
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_the_sandbox_and_the_example_app_add_their_commands_as_plugins() -> None:
    assert set(all_commands()) >= PLUGINS
    assert not PLUGINS & set(COMMANDS)
    assert all(
        not module.startswith(("datamigration_sandbox", "chat_app"))
        for module, _ in COMMANDS.values()
    )


def test_without_plugins_dmctl_has_only_its_own_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """A product-only install (the operator image): no sandbox, bench or sample commands."""
    monkeypatch.setattr(main, "entry_points", lambda group: [])
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "operator" in result.output
    assert not [name for name in PLUGINS if f" {name} " in result.output]
    missing = CliRunner().invoke(app, ["sandbox", "up"])
    assert missing.exit_code == 2
    assert "No such command 'sandbox'" in missing.output


def test_version_prints_the_package_version_and_runs_no_command() -> None:
    from datamigration_operator import __version__

    for flag in ("--version", "-V"):
        result = CliRunner().invoke(app, [flag])
        assert result.exit_code == 0, result.output
        assert result.output == f"dmctl {__version__}\n"


def _help(*args: str) -> str:
    """Help as a user sees it in an 80-column terminal."""
    done = subprocess.run(
        [sys.executable, "-m", "datamigration_operator.cli.main", *args, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    return done.stdout


def test_help_is_never_cut_at_80_columns() -> None:
    copy_help = _help("copy")
    for option in ("--checkpoint-file", "--objects-per-second", "--grpc-port", "--weaviate"):
        assert option in copy_help
    assert "…" not in copy_help
    assert "DMCTL_WEAVIATE" in copy_help  # the defaults `dmctl sandbox up` exports
    assert "DMCTL_GRPC_PORT" in copy_help
    root = _help()
    commands = root[root.index("Commands:") :]
    assert "..." not in commands  # whole first sentences, not click's cut ones
    assert "…" not in root
    for code in ("0 done", "2 usage", "3 validate", "42 permanent"):
        assert code in " ".join(root.split())
    assert max(len(line) for line in root.splitlines()) <= 80
