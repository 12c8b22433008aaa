"""`dmctl backup verify|restore|list`: the SQLite backups copy Jobs keep (spec.backup).

Run them where the backup's claim is mounted (a pod with the claim, or the sandbox's folder).
Exit codes: 0 done; 1 a file could not be read or written; 2 usage (no such file, a target that
exists without --force, no checksum to verify against); 3 the backup does not verify.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datamigration_operator.cli.exit_status import (
    EXIT_DIFFERENCES,
    EXIT_OK,
    EXIT_RETRYABLE,
    EXIT_USAGE,
)
from datamigration_operator.migration.runs.backup_check import (
    BackupUsageError,
    Verification,
    restore_backup,
    verify_backup,
)
from datamigration_operator.migration.runs.backup_manifest import manifests_in

backup_app = typer.Typer(
    add_completion=False,
    help="Verify, restore and list the SQLite backups the copy Job keeps (spec.backup).",
    no_args_is_help=True,
)

Sha256 = Annotated[
    str | None,
    typer.Option(
        "--sha256",
        help="Expected SHA-256 (status.backup.sha256); default: the manifest beside FILE.",
    ),
]


def _say(text: str) -> None:
    typer.echo(text)


def _report(result: Verification) -> int:
    if result.expected_sha256 is None:
        _say(f"sha256: {result.sha256} (nothing recorded to compare with: pass --sha256)")
    else:
        same = result.sha256 == result.expected_sha256
        _say(f"sha256: {result.sha256} {'matches' if same else 'DIFFERS'}")
    _say(f"size: {result.size_bytes} bytes")
    _say(f"integrity_check: {'ok' if result.integrity == ['ok'] else 'FAILED'}")
    for table, expected, actual in result.rows:
        found = "missing" if actual is None else str(actual)
        _say(f"rows {table}: {found} (copy recorded {expected})")
    problems = result.problems
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    return EXIT_DIFFERENCES if problems else EXIT_OK


@backup_app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(help="The backup file (.sqlite).")],
    sha256: Sha256 = None,
) -> None:
    """Recompute the checksum, run PRAGMA integrity_check and compare the rows per table with
    what the copy recorded. Exit 3 when anything differs."""
    try:
        result = verify_backup(file, sha256=sha256)
    except BackupUsageError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as error:
        typer.echo(f"error: cannot read {file}: {error.strerror or error}", err=True)
        raise typer.Exit(EXIT_RETRYABLE) from None
    if result.expected_sha256 is None and not result.rows:
        _report(result)
        typer.echo(
            f"error: {file} has no complete manifest beside it: pass --sha256 "
            "(kubectl get dm NAME -o jsonpath='{.status.backup.sha256}')",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(_report(result))


@backup_app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="The backup file (.sqlite).")],
    to: Annotated[Path, typer.Option("--to", help="The database file to write.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the content of an existing database at --to."),
    ] = False,
    sha256: Sha256 = None,
) -> None:
    """Verify FILE, then copy it into --to with SQLite's online-backup API (a new file appears
    whole or not at all; an existing one is refused unless --force). Stop the app's writers
    before restoring over its database."""
    try:
        before = verify_backup(file, sha256=sha256)
        if before.problems:
            _report(before)
            typer.echo(f"error: {file} does not verify; nothing was restored", err=True)
            raise typer.Exit(EXIT_DIFFERENCES)
        restore_backup(file, to, replace=force)
        after = verify_backup(to, sha256=None, expected_rows=[])
    except BackupUsageError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as error:
        typer.echo(f"error: restore to {to} failed: {error.strerror or error}", err=True)
        raise typer.Exit(EXIT_RETRYABLE) from None
    if after.integrity != ["ok"]:
        typer.echo(f"error: {to} fails integrity_check after the restore", err=True)
        raise typer.Exit(EXIT_DIFFERENCES)
    _say(f"restored {file} -> {to} (integrity_check ok)")


@backup_app.command("list")
def list_command(
    folder: Annotated[Path, typer.Argument(help="A backup folder (spec.backup.path).")],
    output: Annotated[str, typer.Option("-o", "--output", help="text or json")] = "text",
) -> None:
    """The backups in FOLDER with their manifests: whose, when, size, checksum."""
    if not folder.is_dir():
        typer.echo(f"error: {folder} is not a folder", err=True)
        raise typer.Exit(EXIT_USAGE)
    found = manifests_in(folder)
    if output == "json":
        rows = [m.model_dump(mode="json", by_alias=True, exclude_none=True) for m in found]
        _say(json.dumps(rows, indent=2))
        return
    for m in sorted(found, key=lambda m: m.taken_at, reverse=True):
        state = "complete" if m.complete else "UNFINISHED"
        _say(
            f"{m.file}  {m.datamigration}  {m.taken_at:%Y-%m-%dT%H:%M:%SZ}  "
            f"{m.size_bytes if m.size_bytes is not None else '-'} bytes  {state}  "
            f"sha256 {m.sha256 or '-'}"
        )
