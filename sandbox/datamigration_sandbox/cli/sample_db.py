"""`dmctl sample-db PATH`: a generated GremlinsAI-shaped SQLite database to try a migration on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sample_db(
    path: Annotated[Path, typer.Argument(help="Where to create the database (never overwritten).")],
    rows: Annotated[
        int, typer.Option(min=3, help="About this many rows over all tables.")
    ] = 10_000,
    bad_data: Annotated[
        bool, typer.Option(help="Add the edge cases (invalid UTF-8, huge integers, BLOBs, ...).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Same seed, same database.")] = 7,
) -> None:
    """Create conversations, messages (referencing conversations) and documents (with vectors)."""
    from datamigration_sandbox.sample_data import generate_database

    try:
        database = generate_database(path, rows=rows, bad_data=bad_data, seed=seed)
    except (FileExistsError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    for table, count in sorted(database.counts.items()):
        typer.echo(f"{table}: {count} rows")
