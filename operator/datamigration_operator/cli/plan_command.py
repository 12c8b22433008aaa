"""`dmctl plan --sqlite app.db`: a proposed spec.collections for every table of a database.

    dmctl plan --sqlite app.db > mapping.yaml   # review, then
    dmctl copy --sqlite app.db --mapping mapping.yaml

The YAML is `collections:` as a DataMigration's spec takes it (camelCase, defaults left out);
what was skipped or decided, and why, are YAML comments. `-o json` prints the same mapping
with the notes as fields (--mapping reads it too).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.cli.exit_status import EXIT_CODES_HELP, EXIT_PERMANENT, EXIT_USAGE
from datamigration_operator.cli.migrate import UsageError, parse_mappings
from datamigration_operator.migration.mapping import MappingError
from datamigration_operator.migration.mapping.discovery import Discovery, discover
from datamigration_operator.migration.source.collection_plans import LIBRARY_TABLES
from datamigration_operator.migration.source.snapshot import SourceError
from datamigration_operator.migration.source.survey import survey_database

console = Console(stderr=True)


class OutputFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


def plan_command(
    sqlite: Annotated[Path, typer.Option("--sqlite", help="The SQLite database file.")],
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="yaml (with notes as comments) or json.")
    ] = OutputFormat.YAML,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="Overrides (a spec.collections list, as --mapping of copy takes): printed "
            "merged with the discovered mapping, as a DataMigration with spec.discover runs it.",
        ),
    ] = None,
) -> None:
    """Print a proposed mapping of every table (spec.collections, or a --mapping file)."""
    if not sqlite.is_file():
        console.print(f"error: --sqlite {sqlite}: no such file", markup=False, highlight=False)
        sys.exit(EXIT_USAGE)
    try:
        overrides = [] if mapping is None else parse_mappings(None, mapping, all_tables=True)
        surveys, not_tables = survey_database(sqlite)
        found = discover(surveys, not_tables, explicit=overrides, reserved_tables=LIBRARY_TABLES)
    except (UsageError, SourceError) as error:
        console.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(EXIT_USAGE)
    except MappingError as error:
        if mapping is not None:  # an override that does not fit the database
            console.print(f"error: {error}", markup=False, highlight=False)
            sys.exit(EXIT_USAGE)
        # a plan the copy would refuse: a bug in the discovery
        console.print(f"plan failed: {error}", markup=False, highlight=False)
        sys.exit(EXIT_PERMANENT)
    print(render_json(found) if output is OutputFormat.JSON else render_yaml(found, sqlite.name))


plan_command.__doc__ = f"{plan_command.__doc__}\n\n{EXIT_CODES_HELP}"


def mapping_document(mapping: CollectionMapping) -> dict[str, Any]:
    return mapping.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def render_json(found: Discovery) -> str:
    return json.dumps(
        {
            "collections": [mapping_document(m) for m in found.collections],
            "notes": {table: list(notes) for table, notes in found.notes.items() if notes},
            "skipped": {s.name: s.reason for s in found.skipped},
        },
        ensure_ascii=False,
        indent=2,
    )


def render_yaml(found: Discovery, source: str) -> str:
    lines = [
        f"# dmctl plan of {source}: {len(found.collections)} tables mapped, "
        f"{len(found.skipped)} skipped"
    ]
    lines += [_comment(f"skipped {s.name!r}: {s.reason}") for s in found.skipped]
    lines.append("collections:" if found.collections else "collections: []")
    for mapping in found.collections:
        lines += [_comment(note, "  ") for note in found.notes.get(mapping.table, ())]
        item = yaml.safe_dump(
            [mapping_document(mapping)], sort_keys=False, allow_unicode=True, width=1000
        )
        lines += ["  " + line for line in item.splitlines()]
    return "\n".join(lines)


def _comment(text: str, indent: str = "") -> str:
    return indent + "# " + " ".join(text.splitlines())
