"""One migration per collection (issue 11, cases 1 and 2): a second migration naming the same
collections is refused before it writes or deletes anything, and a CLI run adopts the id
namespace recorded on the collections instead of duplicating every row."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.migration.sink.ownership import CollectionOwnedByOtherError
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    DMCTL,
    RunningWeaviate,
    cli_env,
    parse_json_line,
    run_copy,
    run_diff,
    settings,
)

COLLECTIONS = ["Conversation", "Message", "Document"]


def test_a_second_migration_neither_writes_nor_deletes_the_first_ones_objects(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    base = dataclasses.replace(settings(database, tmp_path), namespace="base/happy")
    tb = dataclasses.replace(base, namespace="tb/happy2")
    copied, _ = run_copy(weaviate, base)
    before = weaviate.counts(COLLECTIONS)

    for attempt in (lambda: run_copy(weaviate, tb), lambda: run_diff(weaviate, tb, repair=True)):
        with pytest.raises(CollectionOwnedByOtherError, match="DataMigration base/happy"):
            attempt()
    with pytest.raises(CollectionOwnedByOtherError, match="DataMigration base/happy"):
        run_diff(weaviate, tb, repair=False)

    assert weaviate.counts(COLLECTIONS) == before
    result, _ = run_diff(weaviate, base, repair=False)
    assert (result.checked, result.differences) == (copied.rows_read, 0)


def _dmctl(
    command: str, database: SampleDatabase, weaviate: RunningWeaviate, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    argv = [
        *DMCTL, command, "--sqlite", str(database.path), "--weaviate", weaviate.url,
        "--grpc-port", str(weaviate.grpc_port), "--table", "conversations:Conversation",
        "--table", "messages:Message", "--json", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, env=cli_env(), timeout=120, check=False)


def test_the_cli_adopts_the_owners_ids_or_refuses_never_duplicates(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    plain = [
        CollectionMapping(table="conversations", collection="Conversation"),
        CollectionMapping(table="messages", collection="Message"),
    ]  # what `--table` maps
    owner = dataclasses.replace(
        settings(database, tmp_path, collections=plain), namespace="apps/chat"
    )
    run_copy(weaviate, owner)
    before = weaviate.counts(["Conversation", "Message"])

    again = _dmctl("copy", database, weaviate)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert parse_json_line(again.stdout)["written"] == sum(before.values())
    assert weaviate.counts(["Conversation", "Message"]) == before  # upserted, not duplicated
    checked = _dmctl("validate", database, weaviate)
    assert checked.returncode == 0, checked.stdout.decode()[-2000:]
    assert parse_json_line(checked.stdout)["missing"] == 0

    other = _dmctl("copy", database, weaviate, "--namespace", "cli")
    assert other.returncode == NON_RETRYABLE_EXIT_CODE
    assert "belongs to DataMigration apps/chat" in " ".join(other.stderr.decode().split())
    assert weaviate.counts(["Conversation", "Message"]) == before
