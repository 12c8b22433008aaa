"""`dmctl copy|sync|validate`: the Jobs' work for a user outside Kubernetes.

    WEAVIATE_API_KEY=... dmctl copy --sqlite app.db --weaviate http://localhost:8080 \\
        --table messages:Message --table "Order Details" --checkpoint-file copy.ckpt

The API key is read from an environment variable (--api-key-env), never from a flag;
--weaviate and --grpc-port default to $DMCTL_WEAVIATE and $DMCTL_GRPC_PORT (which
`dmctl sandbox up` prints). Exit codes: cli.exit_status.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE, JobTarget
from datamigration_operator.api.spec import (
    COLLECTION_PATTERN,
    CollectionMapping,
    DiscoverSpec,
    Endpoint,
    mapping_problems,
)
from datamigration_operator.api.status import (
    Checkpoint,
    OutboxStatus,
    Progress,
    Recreation,
    ValidationReport,
)
from datamigration_operator.cli.exit_status import (
    EXIT_CODES_HELP,
    EXIT_DIFFERENCES,
    EXIT_RETRYABLE,
    EXIT_USAGE,
)
from datamigration_operator.cli.input_errors import one_line_each
from datamigration_operator.cli.progress_bar import RowsBar
from datamigration_operator.cli.read_figures import read_figure_lines
from datamigration_operator.migration.mapping import MappingError
from datamigration_operator.migration.mapping.naming import collection_name
from datamigration_operator.migration.not_retryable import InvalidMappingError
from datamigration_operator.migration.runs.checkpoint import CheckpointFile
from datamigration_operator.migration.runs.exit_codes import classify
from datamigration_operator.migration.runs.read_probe import ProbeSettings
from datamigration_operator.migration.runs.report import failure_line
from datamigration_operator.migration.runs.run import RunSettings, copy_run, diff_run
from datamigration_operator.migration.sink.ownership import (
    common_owner,
    describe_owner,
    read_owners,
)
from datamigration_operator.migration.sink.recreation import describe, droppable_collections
from datamigration_operator.migration.sink.weaviate_sink import (
    SinkSettings,
    WeaviateUnreachableError,
    connect,
)
from datamigration_operator.migration.source.collection_plans import discovered_mappings
from datamigration_operator.migration.source.sqlite_source import SqliteSource

WEAVIATE_ENV = "DMCTL_WEAVIATE"
GRPC_PORT_ENV = "DMCTL_GRPC_PORT"
DEFAULT_GRPC_PORT = 50051
DEFAULT_NAMESPACE = "dmctl"  # the id namespace of CLI runs into collections nobody claimed
console = Console(stderr=True)

SqliteOption = Annotated[
    Path, typer.Option("--sqlite", help="The SQLite database file.", exists=False)
]
WeaviateOption = Annotated[
    str,
    typer.Option(
        "--weaviate", envvar=WEAVIATE_ENV, help="Weaviate REST URL, e.g. http://localhost:8080."
    ),
]
GrpcPortOption = Annotated[
    int,
    typer.Option("--grpc-port", envvar=GRPC_PORT_ENV, min=1, max=65535, help="Weaviate gRPC port."),
]
TableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--table",
        help="TABLE or TABLE:Collection to migrate (repeatable). TABLE is any SQLite name "
        '(quote it: --table "Order Details"); the last ":" splits off a Collection only when '
        "what follows is a collection name (A-Z, then letters, digits, _), so a table whose "
        "name holds a ':' is written with its collection (--table 'a:b:AB'). Default "
        "collection: the table's words in CamelCase (Order Details -> OrderDetails).",
    ),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="YAML file with a spec.collections list (camelCase fields; collection may be left "
        "out and is then derived as for --table).",
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="Object ids are uuid5 of (namespace, table, key). Default: the namespace recorded "
        f"on the collections (the migration that owns them), else {DEFAULT_NAMESPACE!r}.",
        show_default=False,
    ),
]
ApiKeyEnvOption = Annotated[
    str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, max=10_000)]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1, max=64)]
RateOption = Annotated[
    int, typer.Option("--objects-per-second", min=0, help="Write rate limit; 0 = unlimited.")
]
SnapshotOption = Annotated[
    bool, typer.Option("--snapshot/--no-snapshot", help="Read from an online-backup snapshot.")
]
ScratchOption = Annotated[
    Path | None, typer.Option("--scratch-dir", help="Where snapshots and sort files go.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
AllTablesOption = Annotated[
    bool,
    typer.Option(
        "--all-tables",
        help="Every table with a usable key, as dmctl plan proposes it (spec.discover.tables: "
        "all); --table/--mapping entries then override the discovered ones.",
    ),
]
RecreateOption = Annotated[
    bool,
    typer.Option(
        "--recreate",
        help="Drop and recreate the collections this migration owns before copying (e.g. to "
        "switch to references); prints them with their object counts and asks first.",
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --recreate.")]
ForeignKeysOption = Annotated[
    bool,
    typer.Option(
        "--references-from-foreign-keys",
        help="Declared foreign keys between migrated tables become references unless the "
        "entry lists references (spec.discover.references: fromForeignKeys).",
    ),
]


class UsageError(ValueError):
    """Bad command-line input; nothing was changed."""


def split_table(item: str) -> tuple[str, str | None]:
    """`TABLE[:Collection]`: the last ':' splits only when a collection name follows it."""
    table, colon, collection = item.rpartition(":")
    if colon and table and re.fullmatch(COLLECTION_PATTERN, collection):
        return table, collection
    return item, None


def discover_spec(all_tables: bool, foreign_keys: bool) -> DiscoverSpec:
    return DiscoverSpec(
        tables="all" if all_tables else "listed",
        references="fromForeignKeys" if foreign_keys else "listed",
    )


def parse_mappings(
    tables: list[str] | None, mapping: Path | None, *, all_tables: bool = False
) -> list[CollectionMapping]:
    if tables and mapping:
        raise UsageError("use either --table or --mapping, not both")
    if mapping is not None:
        result = _mapping_file(mapping)
    elif not tables:
        if all_tables:
            return []
        raise UsageError(
            "name the tables with --table (repeatable) or a --mapping file, or use --all-tables"
        )
    else:
        result = []
        for item in tables:
            table, collection = split_table(item)
            try:
                result.append(
                    CollectionMapping(table=table, collection=collection or collection_name(table))
                )
            except MappingError as error:
                raise UsageError(f"--table {item}: {error}") from None
            except ValidationError as error:
                raise UsageError(f"--table {item}: {'; '.join(one_line_each(error))}") from None
    for problem in mapping_problems(result, discovered=all_tables):
        hint = ' (--table "TABLE:Collection" names a collection)' if tables else ""
        raise UsageError(problem + hint)
    return result


def _mapping_file(mapping: Path) -> list[CollectionMapping]:
    try:
        document = yaml.safe_load(mapping.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"cannot read mapping {mapping}: {error}") from None
    items = document.get("collections") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise UsageError(f"mapping {mapping}: collections: a list of tables is required")
    for index, item in enumerate(items):
        if (
            isinstance(item, dict)
            and isinstance(item.get("table"), str)
            and "collection" not in item
        ):
            try:
                item["collection"] = collection_name(item["table"])
            except MappingError as error:
                raise UsageError(f"mapping {mapping}: collections[{index}]: {error}") from None
    try:
        return TypeAdapter(list[CollectionMapping]).validate_python(items)
    except ValidationError as error:
        lines = one_line_each(error, "collections")
        raise UsageError(f"mapping {mapping}: " + "\n  ".join(lines)) from None


def parse_target(url: str, grpc_port: int, api_key_env: str) -> JobTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--weaviate must be an http(s) URL like http://localhost:8080, got {url}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    try:
        return JobTarget(
            http=Endpoint(host=parts.hostname, port=port),
            grpc=Endpoint(host=parts.hostname, port=grpc_port),
            tls=tls,
            api_key_env=api_key_env,
        )
    except ValidationError as error:
        raise UsageError(f"--weaviate {url}: {error.errors()[0]['msg']}") from None


def live_bar(as_json: bool) -> AbstractContextManager[RowsBar | None]:
    """`dmctl watch`'s progress bar while stderr is a terminal; None (a line per progress
    report, or nothing with --json) when it is not: a log or CI keeps readable lines."""
    if as_json or not console.is_terminal:
        return nullcontext(None)
    return RowsBar(console, "copy")


class LocalReporter:
    """Progress to the terminal, the checkpoint to a file, the report next to it."""

    def __init__(
        self, checkpoint_file: Path | None, quiet: bool, bar: RowsBar | None = None
    ) -> None:
        self.file = CheckpointFile(checkpoint_file) if checkpoint_file else None
        self.quiet = quiet
        self.bar = bar
        self.report_path: Path | None = None
        self.validation: ValidationReport | None = None

    def load_checkpoint(self) -> Checkpoint | None:
        return self.file.load() if self.file else None

    def publish_progress(self, progress: Progress) -> None:
        if self.file is not None and progress.checkpoint is not None:
            self.file.save(progress.checkpoint)
        if self.quiet:
            return
        if self.bar is not None:
            shown = progress.model_dump(mode="json", by_alias=True, exclude={"checkpoint"})
            self.bar.show(shown, f"copy {progress.table or ''}".strip())
        else:
            console.print(
                f"{progress.table or ''} {progress.rows_done}/{progress.rows_total} rows "
                f"({progress.percent}%), {progress.rows_per_second} rows/s"
            )

    def publish_validation(self, report: ValidationReport) -> None:
        self.validation = report  # printed once at the end

    def publish_outbox(self, outbox: OutboxStatus) -> None:
        if not self.quiet and outbox.waiting:
            console.print(outbox.waiting)

    def load_recreation(self) -> Recreation | None:
        return None  # one drop per command; it asked for confirmation first

    def publish_recreation(self, recreation: Recreation) -> None:
        if recreation.state == "Dropped" and not self.quiet:
            listed = ", ".join(c.name for c in recreation.collections) or "nothing"
            console.print(f"dropped {listed}; recreating", markup=False, highlight=False)

    def write_report(self, lines: list[str], summary: str) -> str | None:
        base = self.file.path if self.file else Path.cwd() / "dmctl"
        path = base.with_name(base.name + ".report.txt")
        path.write_text(summary + "\n" + "\n".join(lines) + "\n")
        self.report_path = path
        return str(path)


def _settings(
    sqlite: Path,
    collections: list[CollectionMapping],
    namespace: str,
    sink: SinkSettings,
    snapshot: bool,
    scratch: Path,
    max_mismatches: int = 0,
    recheck_delay: float = 0.0,
    discover: DiscoverSpec | None = None,
    read_probe: ProbeSettings | None = None,
) -> RunSettings:
    return RunSettings(
        discover=discover or DiscoverSpec(),
        sqlite_path=sqlite,
        snapshot=snapshot,
        scratch_dir=scratch,
        collections=collections,
        namespace=namespace,
        sink=sink,
        max_mismatches=max_mismatches,
        recheck_delay=recheck_delay,
        read_probe=read_probe,
    )


def _execute(kind: str, build: Any, as_json: bool) -> int:
    """Runs `build(scratch_dir)` -> (exit code, result dict); errors become exit codes."""
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="dmctl-") as tmp:
            code, summary = build(Path(tmp))
        summary["seconds"] = round(time.perf_counter() - started, 3)
    except (UsageError, MappingError, InvalidMappingError) as error:
        # the mapping or --table does not fit the database: fix the command, not the data
        console.print(f"[red]error:[/] {error}", markup=False, highlight=False)
        return EXIT_USAGE
    except Exception as error:
        code, reason = cli_exit_code(error)
        console.print(f"{kind} failed ({reason}): {error}", markup=False, highlight=False)
        return code
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        for key, value in summary.items():  # one line each, however narrow the terminal
            console.print(f"{key}: {value}", soft_wrap=True, markup=False, highlight=False)
    return int(code)


def cli_exit_code(error: BaseException) -> tuple[int, str]:
    """The Jobs' classification, except that a Weaviate nobody answers at is "unavailable"
    (1) for a person, who may start it or fix --weaviate/--grpc-port and run again."""
    code, reason = classify(error)
    if isinstance(error, WeaviateUnreachableError):
        return EXIT_RETRYABLE, reason
    return code, reason


def _check_sqlite(sqlite: Path) -> None:
    if not sqlite.is_file():
        raise UsageError(f"--sqlite {sqlite}: no such file")


def _confirm_recreate(client: Any, names: list[str], owner: str, *, yes: bool) -> None:
    """Says what --recreate drops; without --yes asks (and refuses where nobody can answer)."""
    found = droppable_collections(client, names, owner)
    console.print(f"--recreate drops {describe(found)}", markup=False, highlight=False)
    if yes or not found:
        return
    if not sys.stdin.isatty():
        raise UsageError("--recreate asks for confirmation on a terminal; add --yes to go ahead")
    if not typer.confirm("Drop them and copy again?", default=False, err=True):
        raise UsageError("nothing dropped")


def _live_discovery(
    sqlite: Path, collections: list[CollectionMapping], discover: DiscoverSpec
) -> Callable[[], Sequence[CollectionMapping]] | None:
    """The mapping a discovering run will use, read from the live file (for its collection
    names); the run itself discovers again against its snapshot."""
    if discover == DiscoverSpec():
        return None

    def mappings() -> Sequence[CollectionMapping]:
        with SqliteSource(sqlite, snapshot=False) as source:
            return discovered_mappings(source, collections, discover)

    return mappings


def _client(weaviate: str, grpc_port: int, api_key_env: str) -> Any:
    target = parse_target(weaviate, grpc_port, api_key_env)
    return connect(target, os.environ.get(api_key_env) or None)


def _id_namespace(
    client: Any,
    collections: list[CollectionMapping],
    explicit: str | None,
    quiet: bool,
    discovered: Callable[[], Sequence[CollectionMapping]] | None = None,
) -> str:
    """The id namespace of a run: the one asked for (a collection another namespace owns is
    then refused by the run, naming its owner), else the owner's recorded on the collections,
    so a CLI run adds to a migration's objects instead of duplicating them. `discovered`: the
    run's whole mapping when it discovers tables (the collections to look at)."""
    if explicit is not None:
        return explicit
    mappings = collections if discovered is None else discovered()
    owner = common_owner(read_owners(client, [c.collection for c in mappings]))
    if owner is None:
        return DEFAULT_NAMESPACE
    if not quiet:
        console.print(f"[dim]the collections belong to {describe_owner(owner)}: using its ids[/]")
    return owner


def copy_command(
    sqlite: SqliteOption,
    weaviate: WeaviateOption,
    grpc_port: GrpcPortOption = DEFAULT_GRPC_PORT,
    table: TableOption = None,
    mapping: MappingOption = None,
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint-file", help="Resume from / save to this file.")
    ] = None,
    namespace: NamespaceOption = None,
    api_key_env: ApiKeyEnvOption = "WEAVIATE_API_KEY",
    batch_size: BatchOption = 500,
    concurrency: ConcurrencyOption = 2,
    objects_per_second: RateOption = 0,
    snapshot: SnapshotOption = True,
    scratch_dir: ScratchOption = None,
    as_json: JsonOption = False,
    all_tables: AllTablesOption = False,
    foreign_keys: ForeignKeysOption = False,
    recreate: RecreateOption = False,
    yes: YesOption = False,
) -> None:
    """Copy tables from SQLite into Weaviate (deterministic ids: a re-run upserts)."""
    discover = discover_spec(all_tables, foreign_keys)

    def build(tmp: Path) -> tuple[int, dict[str, Any]]:
        collections = parse_mappings(table, mapping, all_tables=all_tables)
        _check_sqlite(sqlite)
        sink = SinkSettings(batch_size, concurrency, objects_per_second)
        client = _client(weaviate, grpc_port, api_key_env)
        try:
            ids = _id_namespace(
                client,
                collections,
                namespace,
                as_json,
                _live_discovery(sqlite, collections, discover),
            )
            settings = _settings(
                sqlite, collections, ids, sink, snapshot, scratch_dir or tmp, discover=discover
            )
            if recreate:
                discovered = _live_discovery(sqlite, collections, discover)
                mappings = collections if discovered is None else discovered()
                _confirm_recreate(client, [m.collection for m in mappings], ids, yes=yes)
                settings = replace(settings, recreate_rerun=0)
            with live_bar(as_json) as bar:
                reporter = LocalReporter(checkpoint_file, quiet=as_json, bar=bar)
                result, ref = copy_run(settings, client, reporter)
        finally:
            client.close()
        summary = {
            "rows": result.rows_read,
            "written": result.written,
            "retried": result.retried_objects,
            "skippedOnResume": result.skipped_on_resume,
            "failed": result.failed_count,
            "failedKeys": [failure_line(f) for f in result.failed[:100]],
            "report": ref,
        }
        return (NON_RETRYABLE_EXIT_CODE if result.failed_count else 0), summary

    sys.exit(_execute("copy", build, as_json))


def _diff_command(
    repair: bool,
    sqlite: Path,
    weaviate: str,
    grpc_port: int,
    table: list[str] | None,
    mapping: Path | None,
    namespace: str | None,
    api_key_env: str,
    batch_size: int,
    max_mismatches: int,
    recheck_delay: float,
    snapshot: bool,
    scratch_dir: Path | None,
    as_json: bool,
    discover: DiscoverSpec,
    recreate: bool = False,
    read_probe: ProbeSettings | None = None,
) -> None:
    def build(tmp: Path) -> tuple[int, dict[str, Any]]:
        if recreate:
            raise UsageError(
                "--recreate is for dmctl copy only: sync and validate run while the app writes "
                "to both stores, and dropping its collections would lose those writes"
            )
        collections = parse_mappings(table, mapping, all_tables=discover.tables == "all")
        _check_sqlite(sqlite)
        reporter = LocalReporter(None, quiet=True)
        sink = SinkSettings(batch_size=batch_size)
        client = _client(weaviate, grpc_port, api_key_env)
        try:
            settings = _settings(
                sqlite,
                collections,
                _id_namespace(
                    client,
                    collections,
                    namespace,
                    as_json,
                    _live_discovery(sqlite, collections, discover),
                ),
                sink,
                snapshot,
                scratch_dir or tmp,
                max_mismatches,
                recheck_delay,
                discover,
                read_probe,
            )
            result = diff_run(settings, client, reporter, repair=repair)
        finally:
            client.close()
        summary = {
            "checked": result.checked,
            "missing": result.missing,
            "extra": result.extra,
            "mismatched": result.mismatched,
            "danglingReferences": result.dangling_references,
            "wrongReferences": result.wrong_references,
            "upserted": result.upserted,
            "deleted": result.deleted,
            "failed": len(result.failed),
            "samples": [
                {"table": d.table, "key": d.key_text, "problem": d.problem, "detail": d.detail}
                for d in result.samples
            ],
        }
        figures = reporter.validation.read_performance if reporter.validation else None
        if figures is not None:
            summary["readPerformance"] = (
                figures.model_dump(mode="json", by_alias=True, exclude_none=True)
                if as_json
                else "".join(f"\n  {line}" for line in read_figure_lines(figures))
            )
        if result.failed:
            return NON_RETRYABLE_EXIT_CODE, summary
        if result.not_concluded is not None:  # the app's outbox did not drain: try again
            summary["notConcluded"] = result.not_concluded
            return EXIT_RETRYABLE, summary
        if not repair and result.differences > max_mismatches:
            return EXIT_DIFFERENCES, summary
        return 0, summary

    sys.exit(_execute("sync" if repair else "validate", build, as_json))


MaxMismatchesOption = Annotated[int, typer.Option("--max-mismatches", min=0)]
RecheckOption = Annotated[
    float, typer.Option("--recheck-delay", min=0, help="Seconds before differences are re-checked.")
]
ReadProbeOption = Annotated[
    bool,
    typer.Option(
        "--read-probe/--no-read-probe",
        help="After the diff, time the app's reads (by id, by reference, BM25, near-vector) on "
        "Weaviate and on SQLite, one at a time and concurrently; reads only.",
    ),
]
ReadRequestsOption = Annotated[
    int, typer.Option("--read-requests", min=10, max=10_000, help="Reads per kind, store and run.")
]
ReadConcurrencyOption = Annotated[
    int,
    typer.Option(
        "--read-concurrency", min=1, max=64, help="Reads in flight in the concurrent run."
    ),
]


def validate_command(
    sqlite: SqliteOption,
    weaviate: WeaviateOption,
    grpc_port: GrpcPortOption = DEFAULT_GRPC_PORT,
    table: TableOption = None,
    mapping: MappingOption = None,
    namespace: NamespaceOption = None,
    api_key_env: ApiKeyEnvOption = "WEAVIATE_API_KEY",
    max_mismatches: MaxMismatchesOption = 0,
    recheck_delay: RecheckOption = 5.0,
    snapshot: SnapshotOption = True,
    scratch_dir: ScratchOption = None,
    as_json: JsonOption = False,
    read_probe: ReadProbeOption = True,
    read_requests: ReadRequestsOption = 200,
    read_concurrency: ReadConcurrencyOption = 4,
    all_tables: AllTablesOption = False,
    foreign_keys: ForeignKeysOption = False,
    recreate: Annotated[bool, typer.Option("--recreate", hidden=True)] = False,
) -> None:
    """Compare every row with its Weaviate object (content hashes); exit 3 on differences.
    Then time the app's reads on both stores (readPerformance; --no-read-probe skips it)."""
    probe = ProbeSettings(read_requests, read_concurrency) if read_probe else None
    _diff_command(
        False, sqlite, weaviate, grpc_port, table, mapping, namespace, api_key_env, 500,
        max_mismatches, recheck_delay, snapshot, scratch_dir, as_json,
        discover_spec(all_tables, foreign_keys), recreate, probe,
    )  # fmt: skip


def sync_command(
    sqlite: SqliteOption,
    weaviate: WeaviateOption,
    grpc_port: GrpcPortOption = DEFAULT_GRPC_PORT,
    table: TableOption = None,
    mapping: MappingOption = None,
    namespace: NamespaceOption = None,
    api_key_env: ApiKeyEnvOption = "WEAVIATE_API_KEY",
    batch_size: BatchOption = 500,
    snapshot: SnapshotOption = True,
    scratch_dir: ScratchOption = None,
    as_json: JsonOption = False,
    all_tables: AllTablesOption = False,
    foreign_keys: ForeignKeysOption = False,
    recreate: Annotated[bool, typer.Option("--recreate", hidden=True)] = False,
) -> None:
    """Diff and repair: upsert missing and changed objects from SQLite, delete extra ones."""
    _diff_command(
        True, sqlite, weaviate, grpc_port, table, mapping, namespace, api_key_env, batch_size,
        0, 0.0, snapshot, scratch_dir, as_json, discover_spec(all_tables, foreign_keys),
        recreate,
    )  # fmt: skip


# Each command's help ends with the exit codes (`dmctl copy --help`).
for _command in (copy_command, validate_command, sync_command):
    _command.__doc__ = f"{_command.__doc__}\n\n{EXIT_CODES_HELP}"
