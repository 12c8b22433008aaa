"""Issue 4, bad data: every odd value SQLite can hold migrates faithfully or is reported by key,
and validation agrees with what happened.

One table per kind of bad value plus a mixed table (SQLite is dynamically typed, so TEXT sits in
INTEGER columns, BLOBs in TEXT columns, ...). Each row says whether it must be kept or reported;
the check reads the rows back from SQLite itself (raw bytes, storage class) and the objects with
weaviate-client, and decodes both independently of the migration codec.
"""

from __future__ import annotations

import base64
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import kubernetes
import pytest
from kubernetes.config import new_client_from_config

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.api.spec import CollectionMapping, PropertyMapping
from datamigration_operator.builders.job import build_job
from datamigration_operator.migration.mapping import object_uuid
from datamigration_operator.migration.runs.diff import MAX_SAMPLES
from datamigration_operator.migration.runs.report import key_text
from datamigration_operator.migration.runs.run import RunSettings
from datamigration_operator.migration.sink.weaviate_sink import FailedObject, SinkSettings
from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    NAMESPACE,
    RunningWeaviate,
    run_copy,
    run_diff,
)
from tests.integration.operator.conftest import (
    CLAIM,
    CONFIG_MAP,
    GROUP,
    PLURAL,
    ROOT,
    VERSION,
    create_job_access,
    prepare_namespace,
    wait_for,
)

Expect = Literal["kept", "reported"]
FIVE_MB = 5 * 1024 * 1024


@dataclass(frozen=True)
class Sql:
    """A value written as an SQL expression (raw bytes as TEXT, values Python cannot bind)."""

    expression: str


@dataclass(frozen=True)
class Cell:
    value: object
    expect: Expect


def kept(value: object) -> Cell:
    return Cell(value, "kept")


def reported(value: object) -> Cell:
    return Cell(value, "reported")


@dataclass(frozen=True)
class Table:
    name: str
    collection: str
    columns: dict[str, str]  # column -> declared type
    rows: list[dict[str, Cell]]
    data_types: dict[str, str] | None = None  # explicit spec dataType per column


def _single(name: str, declared: str, cells: list[Cell], data_type: str | None = None) -> Table:
    return Table(
        name=name,
        collection=name.title().replace("_", ""),
        columns={"v": declared},
        rows=[{"v": cell} for cell in cells],
        data_types=None if data_type is None else {"v": data_type},
    )


TABLES: list[Table] = [
    _single(
        "invalid_utf8",
        "TEXT",
        [
            kept("plain"),
            reported(Sql("CAST(x'636166e9' AS TEXT)")),  # latin-1 'café'
            reported(Sql("CAST(x'eda080' AS TEXT)")),  # a UTF-16 surrogate encoded as UTF-8
            reported(Sql("CAST(x'c0af' AS TEXT)")),  # overlong '/'
            reported(Sql("CAST(x'80' AS TEXT)")),  # lone continuation byte
            reported(Sql("CAST(x'e282' AS TEXT)")),  # truncated sequence
            kept(Sql("CAST(x'e282ac' AS TEXT)")),  # the same bytes completed: '€'
        ],
    ),
    _single(
        "nul_chars",
        "TEXT",
        [kept("a\x00b"), kept("\x00"), kept("\x00" * 16), kept("tail\x00"), kept("\x01\x1f\x7f")],
    ),
    _single("large_values", "TEXT", [kept("x" * FIVE_MB), kept("é" * (FIVE_MB // 2))]),
    _single(
        "blobs",
        "BLOB",
        [
            kept(b""),
            kept(b"\x00"),
            kept(bytes(range(256))),
            kept(b"\xff" * FIVE_MB),
            kept(b"looks like text"),
        ],
    ),
    _single("nulls", "TEXT", [kept(None), kept(""), kept("NULL"), kept(None)]),
    _single(
        "big_ints",
        "INTEGER",
        [
            kept(2**53),
            kept(2**53 + 1),
            kept(-(2**53) - 1),
            kept(2**63 - 1),
            kept(-(2**63)),
            kept(0),
            # beyond int64: INTEGER affinity turns the literal into the REAL SQLite keeps
            kept(Sql("'123456789012345678901234567890'")),
            kept(Sql("-99999999999999999999")),
        ],
    ),
    _single(
        "exact_ints",
        "INTEGER",
        [kept(2**53), kept(-(2**53)), kept(1), kept(-1), kept(0)],
    ),
    _single(
        "floats",
        "REAL",
        [
            kept(float("nan")),  # SQLite stores NaN as NULL
            reported(math.inf),
            reported(-math.inf),
            kept(-0.0),
            kept(5e-324),
            kept(1.7976931348623157e308),
            kept(0.1),
            kept(2.0**60),
        ],
    ),
    _single(
        "dates",
        "DATETIME",
        [
            kept("2024-02-29"),
            reported("2024-02-30"),
            reported("0000-01-01"),
            reported("2024-13-01T25:61"),
            reported("2024-01-01T25:00"),
            kept("2024-06-01T12:00:00+05:30"),
            kept("2024-06-01 23:30:00-02:00"),
            kept("2024-01-02 03:04:05.123456"),
            kept("1999-12-31T23:59:59Z"),
            kept("0001-01-01"),
            reported("0001-01-01T00:30:00+01:00"),  # before year 1 in UTC
            reported("9999-12-31T23:30:00-01:00"),  # after year 9999 in UTC
            reported(20240101),
            reported(1717243200.5),
            reported("yesterday"),
        ],
        data_type="date",
    ),
    _single(
        "dates_as_text",
        "DATETIME",
        [kept("2024-02-30"), kept("0000-01-01"), kept("2024-13-01T25:61"), kept("2024-06-01")],
    ),
    _single(
        "unicode",
        "TEXT",
        [
            kept("😀👍🏽👨‍👩‍👧"),
            kept("e\u0301 a\u0308\u0323 \u0345"),
            kept("مرحبا بالعالم \u202e gnp.exe"),
            kept("\ufeffBOM and \ufffe \uffff noncharacters"),
            kept("\U0010ffff \U000e0001"),
            kept("\\ud800 looks like a surrogate"),
            kept("Z\u0351\u0364\u033a\u0354a\u0357\u0310lgo"),
        ],
    ),
    Table(
        name="mixed",
        collection="Mixed",
        columns={
            "n": "INTEGER",
            "r": "REAL",
            "t": "TEXT",
            "b": "BLOB",
            "flag": "BOOLEAN",
            "counts": "INTEGER",
        },
        rows=[
            {
                "n": kept(1),
                "r": kept(1.5),
                "t": kept("text"),
                "b": kept(b"\x01"),
                "flag": kept(1),
                "counts": kept(7),
            },
            {  # TEXT in INTEGER, INTEGER in TEXT: the n column becomes text
                "n": kept("not a number"),
                "r": kept(2),
                "t": kept(42),
                "b": kept(b""),
                "flag": kept(0),
                "counts": kept(8),
            },
            {
                "n": kept(2**62),
                "r": kept(None),
                "t": kept(None),
                "b": kept(None),
                "flag": kept(None),
                "counts": reported(b"\x00\x01"),  # a BLOB in an int column
            },
            {
                "n": kept(-3),
                "r": reported(math.inf),
                "t": kept(2.5),
                "b": kept(b"\xff"),
                "flag": reported(2),  # not a boolean
                "counts": kept(9),
            },
            {
                "n": kept(3.25),
                "r": kept(-0.0),
                "t": kept(Sql("CAST(x'e282ac' AS TEXT)")),
                "b": kept(b"\x00" * 3),
                "flag": kept(1),
                "counts": kept(Sql("'12'")),  # INTEGER affinity: stored as 12
            },
            {
                "n": kept(0),
                "r": kept(0.0),
                "t": reported(Sql("CAST(x'ff' AS TEXT)")),
                "b": kept(b"x"),
                "flag": kept(0),
                "counts": kept(10),
            },
        ],
    ),
]


def collections() -> list[CollectionMapping]:
    mappings = []
    for table in TABLES:
        properties = [
            PropertyMapping(column=column, data_type=data_type)  # type: ignore[arg-type]
            for column, data_type in (table.data_types or {}).items()
        ]
        mappings.append(
            CollectionMapping(table=table.name, collection=table.collection, properties=properties)
        )
    return mappings


def build_database(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for table in TABLES:
            columns = ", ".join(f"{name} {declared}" for name, declared in table.columns.items())
            db.execute(f"CREATE TABLE {table.name} (id INTEGER PRIMARY KEY, {columns})")
            for number, row in enumerate(table.rows, start=1):
                names = ["id", *row]
                marks: list[str] = ["?"]
                values: list[object] = [number]
                for cell in row.values():
                    if isinstance(cell.value, Sql):
                        marks.append(cell.value.expression)
                    else:
                        marks.append("?")
                        values.append(cell.value)
                db.execute(
                    f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(marks)})",
                    values,
                )
    db.close()
    return path


# -- reading both sides, independently of the migration codec ---------------------------------


@dataclass(frozen=True)
class Stored:
    storage: str  # SQLite typeof(): null, integer, real, text, blob
    value: object  # text as its raw bytes


def sqlite_rows(path: Path, table: Table) -> dict[int, dict[str, Stored]]:
    db = sqlite3.connect(path)
    db.text_factory = bytes
    try:
        selected = ", ".join(f"{c}, typeof({c})" for c in table.columns)
        rows: dict[int, dict[str, Stored]] = {}
        for row in db.execute(f"SELECT id, {selected} FROM {table.name} ORDER BY id"):
            cells = {}
            for index, column in enumerate(table.columns):
                value, storage = row[1 + 2 * index], row[2 + 2 * index].decode()
                cells[column] = Stored(storage, value)
            rows[row[0]] = cells
        return rows
    finally:
        db.close()


def _sqlite_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def faithful(stored: Stored, data_type: str, read: object) -> bool:
    """Whether the value Weaviate returned is exactly the value SQLite holds."""
    value = stored.value
    if stored.storage == "null":
        return read is None
    if read is None:
        return False
    if data_type == "text":
        if stored.storage == "text":
            assert isinstance(value, bytes)
            try:
                return read == value.decode("utf-8")
            except UnicodeDecodeError:
                return False
        if stored.storage == "integer":
            return read == str(value)  # exact decimal text, beyond 2^53 and int64 alike
        if stored.storage == "real":
            return isinstance(read, str) and float(read) == value
        return False
    if data_type == "int":
        return stored.storage == "integer" and read == value and type(read) is int
    if data_type == "number":
        return stored.storage in ("integer", "real") and read == value
    if data_type == "boolean":
        return stored.storage == "integer" and value in (0, 1) and read is (value == 1)
    if data_type == "blob":
        decoded = base64.b64decode(read) if isinstance(read, str) else read
        return stored.storage == "blob" and decoded == value
    if data_type == "date":
        if stored.storage != "text" or not isinstance(read, datetime):
            return False
        assert isinstance(value, bytes)
        try:
            return read == _sqlite_instant(value.decode())
        except ValueError:
            return False
    raise AssertionError(f"no check for dataType {data_type}")


def weaviate_objects(client: Any, table: Table) -> tuple[dict[str, str], dict[str, Any]]:
    """(property name -> dataType, uuid -> properties) as weaviate-client returns them."""
    collection = client.collections.get(table.collection)
    config = collection.config.get()
    types = {p.name: p.data_type.value for p in config.properties}
    # blob properties come back only when asked for by name
    objects = {str(o.uuid): o.properties for o in collection.iterator(return_properties=[*types])}
    return types, objects


@dataclass
class Outcome:
    """What a copy reported: (table, key) -> message."""

    failures: dict[tuple[str, int], str]

    @classmethod
    def of(cls, failed: list[FailedObject]) -> Outcome:
        found = {}
        for failure in failed:
            assert isinstance(failure.key, tuple)
            (key,) = failure.key
            assert isinstance(key, int)
            found[(failure.table, key)] = failure.message
        return cls(found)


def check_every_row(path: Path, client: Any, outcome: Outcome, namespace: str) -> None:
    """Per row: the object equals the SQLite values, or the key is reported naming the column."""
    problems: list[str] = []
    for table in TABLES:
        types, objects = weaviate_objects(client, table)
        for key, stored_row in sqlite_rows(path, table).items():
            spec_row = table.rows[key - 1]
            uuid = str(object_uuid(namespace, table.name, (key,)))
            message = outcome.failures.get((table.name, key))
            expected_bad = [c for c, cell in spec_row.items() if cell.expect == "reported"]
            where = f"{table.name}/{key}"
            if expected_bad:
                if message is None:
                    problems.append(f"{where}: expected a report naming {expected_bad}")
                elif not any(f"column {column}:" in message for column in expected_bad):
                    problems.append(f"{where}: report {message!r} names none of {expected_bad}")
                if uuid in objects:
                    problems.append(f"{where}: reported, yet written to Weaviate")
                continue
            if message is not None:
                problems.append(f"{where}: reported although every value is storable: {message}")
                continue
            if uuid not in objects:
                problems.append(f"{where}: neither written nor reported")
                continue
            properties = objects[uuid]
            for column, stored in stored_row.items():
                read = properties.get(column)
                if not faithful(stored, types[column], read):
                    shown = repr(read)[:80]
                    problems.append(f"{where} {column}: SQLite {stored.storage}, read {shown}")
        extra = set(objects) - {
            str(object_uuid(namespace, table.name, (k,))) for k in range(1, len(table.rows) + 1)
        }
        if extra:
            problems.append(f"{table.name}: objects of no row {sorted(extra)}")
    assert not problems, "\n".join(problems)


def expected_reports() -> set[tuple[str, int]]:
    return {
        (table.name, number)
        for table in TABLES
        for number, row in enumerate(table.rows, start=1)
        if any(cell.expect == "reported" for cell in row.values())
    }


# -- the run through the Jobs' entry points (copy_run / diff_run) ---------------------------


@pytest.fixture
def bad_database(tmp_path: Path) -> SampleDatabase:
    path = build_database(tmp_path / "bad.db")
    counts = {t.name: len(t.rows) for t in TABLES}
    return SampleDatabase(path=path, counts=counts)


def _settings(database: SampleDatabase, scratch: Path) -> RunSettings:
    return RunSettings(
        sqlite_path=database.path,
        snapshot=True,
        scratch_dir=scratch,
        collections=collections(),
        namespace=NAMESPACE,
        # batches larger than a table: the 5 MB values travel together (~20 MB, under the
        # ~100 MB gRPC message limit Weaviate announces)
        sink=SinkSettings(batch_size=100, concurrency=2, base_delay=0.01, max_delay=0.2),
        job="bad-data",
    )


def test_bad_data_migrates_faithfully_or_is_reported_and_validation_agrees(
    weaviate: RunningWeaviate, bad_database: SampleDatabase, tmp_path: Path
) -> None:
    run = _settings(bad_database, tmp_path / "scratch")
    result, reporter = run_copy(weaviate, run)

    outcome = Outcome.of(result.failed)
    assert result.failed_count == len(result.failed) == len(outcome.failures)
    assert set(outcome.failures) == expected_reports()
    assert result.written + result.failed_count == sum(bad_database.counts.values())
    (lines, summary), *_ = reporter.reports
    assert summary == f"{result.failed_count} objects failed"
    assert {line.split(":", 1)[0] for line in lines} == {
        f"{table}/{key_text((key,))}" for table, key in outcome.failures
    }
    final = reporter.progress[-1]
    assert final.failed == result.failed_count
    client = weaviate.client()
    try:
        check_every_row(bad_database.path, client, outcome, NAMESPACE)
    finally:
        client.close()

    diff, validation = run_diff(weaviate, run, repair=False)

    assert diff.checked == sum(bad_database.counts.values())
    assert (diff.missing, diff.extra, diff.mismatched) == (result.failed_count, 0, 0)
    sampled = {(d.table, d.key) for d in diff.samples}
    assert len(sampled) == min(MAX_SAMPLES, result.failed_count)
    assert sampled <= {(table, (key,)) for table, key in outcome.failures}
    for sample in diff.samples:  # missing, with the reason the copy gave
        assert sample.problem == "missing"
        assert sample.key is not None
        (key,) = sample.key
        reason = outcome.failures[(sample.table, key)].removeprefix("column ")
        assert sample.detail == f"in SQLite, not in Weaviate ({reason})"
    report = validation.validations[-1]
    assert (report.missing, report.mismatched, report.extra) == (result.failed_count, 0, 0)
    assert report.passed is False


def test_bad_data_copy_is_idempotent_on_a_rerun(
    weaviate: RunningWeaviate, bad_database: SampleDatabase, tmp_path: Path
) -> None:
    run = _settings(bad_database, tmp_path / "scratch")
    first, _ = run_copy(weaviate, run)
    second, _ = run_copy(weaviate, run)

    assert Outcome.of(second.failed) == Outcome.of(first.failed)
    assert second.written == first.written
    client = weaviate.client()
    try:
        check_every_row(bad_database.path, client, Outcome.of(second.failed), NAMESPACE)
    finally:
        client.close()


# -- one run through a real Job on the sandbox (RBAC on, the Job's own ServiceAccount) --------

JOB_NS, DM_NAME, JOB_NAME = "bad-data", "bad-data", "bad-data-migrate-1"


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[ControlPlane, Any, tuple[int, int]]]:
    plane = ControlPlane(tmp_path / "sandbox", crd_dir=ROOT / "crds", rbac=True)
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = new_client_from_config(config_file=str(info.kubeconfig))
    try:
        yield plane, api, (info.weaviate_http_port, info.weaviate_grpc_port)
    finally:
        api.close()
        thread.stop()


def test_a_real_copy_job_fails_with_the_bad_rows_in_status_and_its_report(
    plane: tuple[ControlPlane, Any, tuple[int, int]],
) -> None:
    control, api, (http, grpc) = plane
    prepare_namespace(api, JOB_NS, config_map_data={"migration_mode": "sqlite_only"})
    build_database(control.runner.claim_dir(JOB_NS, CLAIM) / "app.db")
    custom = kubernetes.client.CustomObjectsApi(api)
    core = kubernetes.client.CoreV1Api(api)
    spec = {
        "phase": "migrate",
        "source": {"claimName": CLAIM, "path": "app.db"},
        "target": {
            "http": {"host": "127.0.0.1", "port": http},
            "grpc": {"host": "127.0.0.1", "port": grpc},
        },
        "collections": [
            m.model_dump(mode="json", by_alias=True, exclude_none=True) for m in collections()
        ],
        "app": {"configMapRef": {"name": CONFIG_MAP}},
    }
    created = custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        JOB_NS,
        PLURAL,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DataMigration",
            "metadata": {"name": DM_NAME},
            "spec": spec,
        },
    )
    dm = DataMigration.model_validate(created)
    account = create_job_access(api, created)  # as the operator does before the first Job
    job = build_job(
        dm,
        kind="copy",
        name=JOB_NAME,
        phase="migrate",
        generation=1,
        image="dmctl",
        service_account=account,
    )
    kubernetes.client.BatchV1Api(api).create_namespaced_job(JOB_NS, job)

    def finished() -> Any:
        got = kubernetes.client.BatchV1Api(api).read_namespaced_job(JOB_NAME, JOB_NS)
        conditions = {c.type: c.status for c in got.status.conditions or []}
        return got if "True" in (conditions.get("Failed"), conditions.get("Complete")) else None

    job_obj = wait_for(finished, "the copy Job to finish", 180)
    conditions = {c.type: c for c in job_obj.status.conditions}
    assert conditions["Failed"].status == "True"
    pods = core.list_namespaced_pod(JOB_NS, label_selector=f"job-name={JOB_NAME}").items
    assert len(pods) == 1  # exit 42 fails the Job at once (podFailurePolicy)
    terminated = pods[0].status.container_statuses[0].state.terminated
    assert terminated.exit_code == NON_RETRYABLE_EXIT_CODE

    status = custom.get_namespaced_custom_object_status(GROUP, VERSION, JOB_NS, PLURAL, DM_NAME)[
        "status"
    ]
    progress = status["progress"]
    wanted = expected_reports()
    assert progress["failed"] == len(wanted)
    named = {line.split(":", 1)[0] for line in progress["failedKeys"]}
    assert named == {f"{table}/{key_text((key,))}" for table, key in wanted}
    attempt = pods[0].metadata.name.rsplit("-", 1)[1]
    assert progress["reportRef"] == f"{JOB_NAME}-report-{attempt}"
    report = core.read_namespaced_config_map(progress["reportRef"], JOB_NS)
    report_keys = {line.split(":", 1)[0] for line in report.data["keys"].splitlines()}
    assert report_keys == named
    assert report.metadata.owner_references[0].uid == created["metadata"]["uid"]
    assert report.metadata.labels["migrations.gremlins.ai/datamigration"] == DM_NAME
    # the app's ConfigMap is as it was (the Job may only create ConfigMaps)
    app = core.read_namespaced_config_map(CONFIG_MAP, JOB_NS)
    assert app.data == {"migration_mode": "sqlite_only"}
