"""`dmctl copy|validate|sync` input: bad input gets a clear error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.cli.exit_status import (
    EXIT_CODES_HELP,
    EXIT_PERMANENT,
    EXIT_RETRYABLE,
    EXIT_USAGE,
)
from datamigration_operator.cli.migrate import UsageError, _execute, parse_mappings, parse_target
from datamigration_operator.migration.mapping import MappingError
from datamigration_operator.migration.not_retryable import InvalidMappingError
from datamigration_operator.migration.runs.exit_codes import classify
from datamigration_operator.migration.sink.weaviate_sink import (
    EndpointUnreachableError,
    SchemaConflictError,
    TransientSinkError,
    WeaviateAuthError,
    WeaviateUnreachableError,
)


def test_tables_map_to_camel_case_collections_unless_named() -> None:
    mappings = parse_mappings(["chat_messages", "docs:Document"], None)
    assert [(m.table, m.collection) for m in mappings] == [
        ("chat_messages", "ChatMessages"),
        ("docs", "Document"),
    ]


def test_a_mapping_file_holds_spec_collections(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "collections:\n- table: messages\n  collection: Message\n  references:\n"
        "  - column: conversation_id\n    targetTable: conversations\n"
        "- table: conversations\n  collection: Conversation\n"
    )
    mappings = parse_mappings(None, path)
    assert mappings[0].references[0].target_table == "conversations"


def test_any_sqlite_name_is_a_table_and_the_last_colon_splits_only_before_a_collection() -> None:
    items = ["Order Details", "order-items:Items", 'quo"te', "Größe", "select", "a:b", "x:y:XY"]
    mappings = parse_mappings(items, None)
    assert [(m.table, m.collection) for m in mappings] == [
        ("Order Details", "OrderDetails"),
        ("order-items", "Items"),
        ('quo"te', "QuoTe"),
        ("Größe", "Grosse"),
        ("select", "Select"),
        ("a:b", "AB"),  # 'b' is no collection name: the whole item is the table
        ("x:y", "XY"),
    ]


@pytest.mark.parametrize(
    ("tables", "content", "message"),
    [
        (None, None, "name the tables"),
        (["日本"], None, '--table 日本: .*name the collection: --table "日本:Name"'),
        (["a"], "collections: []", "either --table or --mapping"),
        (
            ["Order Details", "order_details"],
            None,
            "collection OrderDetails is used more than once \\(tables 'Order Details', "
            "'order_details'\\).*--table \"TABLE:Collection\"",
        ),
        (
            None,
            "collections:\n- table: t\n  collection: T\n  bogus: 1\n",
            "collections\\[0\\].bogus: unknown field$",
        ),
        (
            None,
            "collections:\n- table: t\n  vectorColumn: id\n",
            "collections\\[0\\]: vectorColumn must differ from idColumn$",
        ),
        (
            None,
            "collections:\n- table: t\n  collection: lower\n",
            "collections\\[0\\].collection: 'lower' is not allowed: a Weaviate collection name "
            "starts with A-Z",
        ),
        (None, "collections:\n- {}\n", "collections\\[0\\].table: required\n  collections"),
    ],
)
def test_bad_mappings_are_refused_with_one_line_per_problem(
    tmp_path: Path, tables: list[str] | None, content: str | None, message: str
) -> None:
    path = None
    if content is not None:
        path = tmp_path / "m.yaml"
        path.write_text(content)
    with pytest.raises(UsageError, match=message) as raised:
        parse_mappings(tables, path)
    assert "validation error" not in str(raised.value)
    assert "pydantic" not in str(raised.value)


def test_weaviate_urls() -> None:
    target = parse_target("https://weaviate.example:8443", 50051, "KEY")
    assert (target.http.port, target.grpc.port, target.tls) == (8443, 50051, True)
    assert parse_target("http://localhost", 1, "K").http.port == 80
    with pytest.raises(UsageError, match="http\\(s\\) URL"):
        parse_target("weaviate:8080", 50051, "KEY")


def test_failures_a_retry_cannot_fix_exit_42_the_others_1() -> None:
    assert classify(MappingError("no table x")) == (NON_RETRYABLE_EXIT_CODE, "InvalidMapping")
    assert classify(SchemaConflictError("a"))[0] == NON_RETRYABLE_EXIT_CODE
    assert classify(TransientSinkError("down")) == (1, "WeaviateUnavailable")
    assert classify(RuntimeError("?")) == (1, "Unexpected")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidMappingError("table Orders does not exist in the SQLite database"), EXIT_USAGE),
        (MappingError("idColumn x: table t has no such column"), EXIT_USAGE),
        (UsageError("--sqlite x.db: no such file"), EXIT_USAGE),
        (EndpointUnreachableError("gRPC 127.0.0.1:1: connection refused"), EXIT_RETRYABLE),
        (WeaviateUnreachableError("nobody at http://127.0.0.1:1"), EXIT_RETRYABLE),
        (TransientSinkError("down"), EXIT_RETRYABLE),
        (SchemaConflictError("body is int, not text"), EXIT_PERMANENT),
        (WeaviateAuthError("Weaviate refused the API key"), EXIT_PERMANENT),
    ],
)
def test_each_failure_has_its_documented_exit_code(error: Exception, code: int) -> None:
    def build(_tmp: Path) -> tuple[int, dict[str, object]]:
        raise error

    assert _execute("copy", build, as_json=True) == code
    assert f"{code} " in EXIT_CODES_HELP


def test_the_permanent_exit_code_is_the_jobs() -> None:
    assert EXIT_PERMANENT == NON_RETRYABLE_EXIT_CODE
