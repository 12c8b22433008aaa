"""`dmctl copy|validate|sync` input: bad input gets a clear error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.cli.migrate import UsageError, parse_mappings, parse_target
from datamigration_operator.migration.mapping import MappingError
from datamigration_operator.migration.runs.exit_codes import classify
from datamigration_operator.migration.sink.weaviate_sink import (
    SchemaConflictError,
    TransientSinkError,
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


@pytest.mark.parametrize(
    ("tables", "content", "message"),
    [
        (None, None, "name the tables"),
        (["bad table"], None, "--table bad table"),
        (["t:lowercase"], None, "--table t:lowercase"),
        (["a"], "collections: []", "either --table or --mapping"),
        (None, "collections:\n- table: t\n  collection: T\n  bogus: 1\n", "is invalid"),
    ],
)
def test_bad_mappings_are_refused_with_a_clear_message(
    tmp_path: Path, tables: list[str] | None, content: str | None, message: str
) -> None:
    path = None
    if content is not None:
        path = tmp_path / "m.yaml"
        path.write_text(content)
    with pytest.raises(UsageError, match=message):
        parse_mappings(tables, path)


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
