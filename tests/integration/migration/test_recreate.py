"""A rerun that drops and recreates the migration's own collections (issue 14, item 3):
switching an existing copy to references, once per rerun, never another owner's collection
nor an unclaimed one holding objects, and only from dmctl copy."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from datamigration_operator.api.spec import CollectionMapping, DiscoverSpec
from datamigration_operator.migration.sink.ownership import CollectionOwnedByOtherError
from datamigration_operator.migration.sink.weaviate_sink import SchemaConflictError
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    DMCTL,
    RecordingReporter,
    RunningWeaviate,
    cli_env,
    parse_json_line,
    run_copy,
    run_diff,
    settings,
)

# messages.conversation_id as a text property: the copy before references
WITHOUT_REFERENCES = [
    CollectionMapping(table="conversations", collection="Conversation"),
    CollectionMapping(table="messages", collection="Message"),
]
COLLECTIONS = ["Conversation", "Message"]


def test_a_rerun_switches_a_copy_to_references_once(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    plain = settings(database, tmp_path, collections=WITHOUT_REFERENCES)
    run_copy(weaviate, plain)
    before = weaviate.counts(COLLECTIONS)
    with_references = dataclasses.replace(
        plain, discover=DiscoverSpec(references="fromForeignKeys")
    )
    # without a recreate the existing schema refuses the reference, and nothing is dropped
    with pytest.raises(SchemaConflictError, match="conversation_id"):
        run_copy(weaviate, with_references)
    assert weaviate.counts(COLLECTIONS) == before

    recreate = dataclasses.replace(with_references, recreate_rerun=1)
    result, reporter = run_copy(weaviate, recreate)
    # status said what goes before it went, with the object counts
    assert [(r.rerun, r.state) for r in reporter.recreations] == [(1, "Dropping"), (1, "Dropped")]
    told = {c.name: c.objects for c in reporter.recreations[0].collections}
    assert told == before
    assert result.failed_count == 0
    assert result.skipped_on_resume == 0  # the recreated collections are filled from row 0
    assert reference_names(weaviate, "Message") == {"conversation_id"}  # a reference now
    checked, _ = run_diff(weaviate, recreate, repair=False)
    assert (checked.checked, checked.differences) == (result.rows_read, 0)

    # a retried Job of the same rerun (status says Dropped) resumes: nothing is dropped again
    marker = weaviate.server.database.get("Conversation")
    marker_ids = set(marker.objects)
    again, retried = run_copy(
        weaviate, recreate, RecordingReporter(recreations=reporter.recreations)
    )
    assert len(retried.recreations) == 2  # nothing new announced
    assert set(weaviate.server.database.get("Conversation").objects) == marker_ids
    assert weaviate.server.database.get("Conversation") is marker  # the same collection
    assert again.failed_count == 0


def reference_names(weaviate: RunningWeaviate, collection: str) -> set[str]:
    client = weaviate.client()
    try:
        return {r.name for r in client.collections.export_config(collection).references}
    finally:
        client.close()


def test_a_recreate_never_drops_what_is_not_the_migrations(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    theirs = dataclasses.replace(
        settings(database, tmp_path, collections=WITHOUT_REFERENCES), namespace="other/dm"
    )
    run_copy(weaviate, theirs)
    before = weaviate.counts(COLLECTIONS)
    mine = dataclasses.replace(theirs, namespace="mine/dm", recreate_rerun=1)
    with pytest.raises(CollectionOwnedByOtherError, match="DataMigration other/dm"):
        run_copy(weaviate, mine)
    assert weaviate.counts(COLLECTIONS) == before

    # an unclaimed collection holding objects (written by someone else): refused too
    client = weaviate.client()
    try:
        client.collections.create_from_dict({"class": "Loose", "vectorizer": "none"})
        client.collections.get("Loose").data.insert({"note": "not ours"})
    finally:
        client.close()
    loose = dataclasses.replace(
        mine, collections=[CollectionMapping(table="conversations", collection="Loose")]
    )
    with pytest.raises(CollectionOwnedByOtherError, match="Loose holds 1 objects no migration"):
        run_copy(weaviate, loose)
    assert weaviate.counts(["Loose"]) == {"Loose": 1}


def _dmctl(
    command: str, database: SampleDatabase, weaviate: RunningWeaviate, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    argv = [
        *DMCTL, command, "--sqlite", str(database.path), "--weaviate", weaviate.url,
        "--grpc-port", str(weaviate.grpc_port), "--table", "conversations:Conversation",
        "--table", "messages:Message", "--json", *extra,
    ]  # fmt: skip
    return subprocess.run(
        argv, capture_output=True, env=cli_env(), timeout=120, check=False, stdin=subprocess.DEVNULL
    )


def test_dmctl_copy_recreate_says_what_it_drops_and_asks(
    weaviate: RunningWeaviate, database: SampleDatabase
) -> None:
    first = _dmctl("copy", database, weaviate)
    assert first.returncode == 0, first.stderr.decode()
    before = weaviate.counts(COLLECTIONS)

    unasked = _dmctl("copy", database, weaviate, "--recreate", "--references-from-foreign-keys")
    err = unasked.stderr.decode()
    assert unasked.returncode == 2, err
    assert (
        f"--recreate drops Conversation ({before['Conversation']} objects), "
        f"Message ({before['Message']} objects)"
    ) in err
    assert "add --yes" in err
    assert weaviate.counts(COLLECTIONS) == before  # nothing dropped

    done = _dmctl(
        "copy", database, weaviate, "--recreate", "--yes", "--references-from-foreign-keys"
    )
    assert done.returncode == 0, done.stderr.decode()
    assert parse_json_line(done.stdout)["written"] == sum(before.values())
    assert reference_names(weaviate, "Message") == {"conversation_id"}
    checked = _dmctl("validate", database, weaviate, "--references-from-foreign-keys")
    assert checked.returncode == 0, checked.stderr.decode()

    for command in ("sync", "validate"):
        refused = _dmctl(command, database, weaviate, "--recreate")
        assert refused.returncode == 2
        assert "--recreate is for dmctl copy only" in refused.stderr.decode()
    assert weaviate.counts(COLLECTIONS) == before
