"""The copy against the sandbox Weaviate: every row lands, faults lose nothing, a row that keeps
failing fails the run by key, a killed copy resumes from its checkpoint."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE
from datamigration_operator.api.spec import CollectionMapping
from datamigration_operator.migration.mapping import object_uuid
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    DMCTL,
    NAMESPACE,
    RunningWeaviate,
    cli_env,
    parse_json_line,
    run_copy,
    run_diff,
    settings,
)

COLLECTIONS = {"conversations": "Conversation", "messages": "Message", "documents": "Document"}


def _expected_counts(database: SampleDatabase) -> dict[str, int]:
    return {collection: database.counts[table] for table, collection in COLLECTIONS.items()}


def _first_message(database: SampleDatabase) -> tuple[str, str]:
    with sqlite3.connect(database.path) as connection:
        row = connection.execute(
            "SELECT id, conversation_id FROM messages ORDER BY id LIMIT 1"
        ).fetchone()
    return row[0], row[1]


def test_copy_writes_every_row_with_references_and_validates_clean(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch")
    result, reporter = run_copy(weaviate, run)

    assert result.failed_count == 0
    assert result.written == sum(database.counts[t] for t in COLLECTIONS)
    assert weaviate.counts(list(COLLECTIONS.values())) == _expected_counts(database)
    message_id, conversation_id = _first_message(database)
    stored = weaviate.server.database.get("Message").objects[
        str(object_uuid(NAMESPACE, "messages", (message_id,)))
    ]
    target = str(object_uuid(NAMESPACE, "conversations", (conversation_id,)))
    assert stored["properties"]["conversation_id"][0]["beacon"].endswith(target)
    final = reporter.progress[-1]
    assert final.percent == 100
    assert final.rows_done == final.rows_total == result.rows_read
    assert final.checkpoint is not None
    assert sorted(final.checkpoint.tables_done) == sorted(COLLECTIONS)

    diff, _ = run_diff(weaviate, run, repair=False)
    assert (diff.missing, diff.extra, diff.mismatched) == (0, 0, 0)
    assert diff.checked == result.rows_read


def test_failed_objects_and_unavailable_bursts_lose_no_row(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    weaviate.server.faults.update({"fail_fraction": 0.05, "unavailable_bursts": 4, "seed": 3})
    run = settings(database, tmp_path / "scratch")
    result, _ = run_copy(weaviate, run)

    assert result.failed_count == 0
    assert result.retried_objects > 0
    assert weaviate.server.database.stats.failed_objects > 0
    assert weaviate.counts(list(COLLECTIONS.values())) == _expected_counts(database)
    weaviate.server.faults.update({"fail_fraction": 0.0})
    diff, _ = run_diff(weaviate, run, repair=False)
    assert diff.differences == 0


def test_an_object_that_always_fails_fails_the_copy_with_its_key(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    message_id, _ = _first_message(database)
    bad = str(object_uuid("cli", "messages", (message_id,)))
    weaviate.server.faults.update({"always_fail_ids": [bad]})
    argv = [
        *DMCTL, "copy", "--sqlite", str(database.path), "--weaviate", weaviate.url,
        "--grpc-port", str(weaviate.grpc_port), "--table", "conversations:Conversation",
        "--table", "messages:Message", "--namespace", "cli", "--json",
        "--checkpoint-file", str(tmp_path / "copy.ckpt"),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, env=cli_env(), timeout=120, check=False)

    assert done.returncode == NON_RETRYABLE_EXIT_CODE, done.stderr.decode()[-2000:]
    summary = parse_json_line(done.stdout)
    assert summary["failed"] == 1
    assert summary["failedKeys"] == [f'messages/["{message_id}"]: sandbox: injected failure']
    report = Path(summary["report"]).read_text()
    assert message_id in report
    assert "injected failure" in report
    # every other row landed
    assert weaviate.counts(["Message"])["Message"] == database.counts["messages"] - 1


def test_killed_copy_resumes_from_its_checkpoint_resending_at_most_two_batches(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    batch = 100
    checkpoint = tmp_path / "copy.ckpt"
    argv = [
        *DMCTL, "copy", "--sqlite", str(database.path), "--weaviate", weaviate.url,
        "--grpc-port", str(weaviate.grpc_port), "--table", "conversations:Conversation",
        "--table", "messages:Message", "--namespace", "kill", "--json",
        "--batch-size", str(batch), "--concurrency", "2", "--checkpoint-file", str(checkpoint),
    ]  # fmt: skip
    rows = database.counts["conversations"] + database.counts["messages"]
    # 27 batches of 150 ms, two in flight: a copy of ~2 s, time to kill it midway
    weaviate.server.faults.update({"latency_ms": 150})
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, env=cli_env())
    try:
        deadline = time.monotonic() + 60
        while not checkpoint.exists():
            assert time.monotonic() < deadline, "the copy never wrote a checkpoint"
            time.sleep(0.01)
        time.sleep(random.uniform(0.2, 1.2))
    finally:
        process.kill()
        process.wait()
    written_before = weaviate.server.database.stats.objects_written
    assert 0 < written_before < rows, "killed too late to test a resume"

    weaviate.server.faults.update({"latency_ms": 0})
    done = subprocess.run(argv, capture_output=True, env=cli_env(), timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = parse_json_line(done.stdout)

    resent = weaviate.server.database.stats.objects_written - rows
    assert 0 <= resent <= 2 * batch
    assert summary["skippedOnResume"] >= 0
    assert weaviate.counts(["Conversation", "Message"]) == {
        "Conversation": database.counts["conversations"],
        "Message": database.counts["messages"],
    }
    mappings = [
        CollectionMapping(table="conversations", collection="Conversation"),
        CollectionMapping(table="messages", collection="Message"),
    ]
    run = replace(settings(database, tmp_path / "scratch", collections=mappings), namespace="kill")
    diff, _ = run_diff(weaviate, run, repair=False)
    assert diff.differences == 0
