"""Rows that point at rows of their own table, or close a cycle of tables, against a Weaviate
that refuses a reference to an object it does not hold yet (the emulator does, as the real
server does: tests/real/test_crd_and_weaviate.py): the copy writes them without those
references first and with them in a second pass, resumably; sync repairs them likewise."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from datamigration_operator.api.status import Checkpoint
from datamigration_operator.migration.mapping import CollectionPlan, object_uuid
from datamigration_operator.migration.runs import copy as copy_module
from datamigration_operator.migration.runs import run as run_module
from datamigration_operator.migration.runs.progress import ProgressTracker
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import (
    NAMESPACE,
    RecordingReporter,
    RunningWeaviate,
    run_copy,
    run_diff,
    settings,
)
from tests.integration.migration.self_referencing_db import (
    EMPLOYEES,
    TEAMS,
    make_self_referencing_database,
    self_referencing_collections,
)

BATCH = 50


@pytest.fixture
def database(tmp_path: Path) -> SampleDatabase:
    path = make_self_referencing_database(tmp_path / "org.db")
    return SampleDatabase(path, {"employees": EMPLOYEES, "teams": TEAMS})


def _run(database: SampleDatabase, tmp_path: Path) -> Any:
    return settings(
        database,
        tmp_path / "scratch",
        collections=self_referencing_collections(),
        batch_size=BATCH,
        concurrency=2,
    )


def _beacon_ids(weaviate: RunningWeaviate, collection: str, table: str, key: int) -> dict[str, Any]:
    stored = weaviate.server.database.get(collection).objects[
        str(object_uuid(NAMESPACE, table, (key,)))
    ]
    return {
        name: [value["beacon"].rsplit("/", 1)[-1] for value in values]
        for name, values in stored["properties"].items()
        if isinstance(values, list) and values and isinstance(values[0], dict)
    }


def test_forward_chains_and_cycles_copy_whole_and_validate(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = _run(database, tmp_path)
    result, reporter = run_copy(weaviate, run)

    assert result.failed_count == 0, result.failed[:3]
    assert result.written == EMPLOYEES + TEAMS  # each object counted once
    assert weaviate.counts(["Employee", "Team"]) == {"Employee": EMPLOYEES, "Team": TEAMS}
    first = _beacon_ids(weaviate, "Employee", "employees", 1)
    assert first == {
        "manager_id": [str(object_uuid(NAMESPACE, "employees", (2,)))],
        "team_id": [str(object_uuid(NAMESPACE, "teams", (2,)))],
    }
    last = _beacon_ids(weaviate, "Employee", "employees", EMPLOYEES)
    assert last == {"manager_id": [str(object_uuid(NAMESPACE, "employees", (EMPLOYEES - 1,)))]}
    assert _beacon_ids(weaviate, "Team", "teams", 3) == {
        "lead_id": [str(object_uuid(NAMESPACE, "employees", (3,)))]
    }
    final = reporter.progress[-1]
    assert (final.percent, final.rows_done) == (100, final.rows_total)
    diff, _ = run_diff(weaviate, run, repair=False)
    assert diff.checked == EMPLOYEES + TEAMS
    assert diff.differences == 0, diff.samples


def test_a_self_reference_to_no_row_is_reported_by_key_and_the_rest_lands(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    with sqlite3.connect(database.path) as db:
        db.execute("UPDATE employees SET manager_id = 9999 WHERE id = 7")
    result, _ = run_copy(weaviate, _run(database, tmp_path))

    assert [(f.table, f.key) for f in result.failed] == [("employees", (7,))]
    assert "no object with id" in result.failed[0].message
    assert weaviate.counts(["Employee", "Team"]) == {"Employee": EMPLOYEES, "Team": TEAMS}
    # its row's data is there, without the reference Weaviate refused
    assert _beacon_ids(weaviate, "Employee", "employees", 7) == {
        "team_id": [str(object_uuid(NAMESPACE, "teams", (8,)))]
    }


class _KilledInSecondPassError(Exception):
    pass


def test_a_copy_killed_in_its_second_pass_resumes_there(
    weaviate: RunningWeaviate,
    database: SampleDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _run(database, tmp_path)
    reads: list[str] = []
    original = copy_module.build_objects

    def counting(plan: CollectionPlan, rows: Any, namespace: str) -> Any:
        reads.append(plan.table)
        # pass one: teams (1 batch), employees (6); pass two: teams, employees again
        if len(reads) == 12:
            raise _KilledInSecondPassError
        return original(plan, rows, namespace)

    monkeypatch.setattr(copy_module, "build_objects", counting)
    # every flushed batch published (the Job publishes every 2 s)
    monkeypatch.setattr(run_module, "ProgressTracker", partial(ProgressTracker, interval=0.0))
    reporter = RecordingReporter()
    with pytest.raises(_KilledInSecondPassError):
        run_copy(weaviate, run, reporter)
    checkpoints = [p.checkpoint for p in reporter.progress if p.checkpoint is not None]
    killed_at: Checkpoint = checkpoints[-1]
    assert killed_at.table == "employees"
    assert set(killed_at.tables_done) == {"employees", "teams"}
    assert isinstance(killed_at.last_key, int)
    assert killed_at.last_key >= BATCH

    written = weaviate.server.database.stats.objects_written
    reads.clear()
    result, _ = run_copy(weaviate, run, RecordingReporter(checkpoint=killed_at))

    assert result.failed_count == 0
    assert set(reads) == {"employees"}  # the first pass is not repeated
    rewritten = weaviate.server.database.stats.objects_written - written
    assert 0 < rewritten <= EMPLOYEES - killed_at.last_key + 2 * BATCH
    diff, _ = run_diff(weaviate, run, repair=False)
    assert diff.differences == 0, diff.samples


def test_sync_repairs_missing_chains_and_cycles(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = _run(database, tmp_path)
    run_copy(weaviate, run)
    # rows the copy never saw: a whole chain (each row pointing at the next, the next missing
    # as well) over more than one repair chunk, and a new cycle across both tables
    with sqlite3.connect(database.path) as db:
        start = EMPLOYEES + 1
        added = [(n, f"new {n}", n + 1, None) for n in range(start, start + 1200)]
        added[-1] = (added[-1][0], added[-1][1], start, TEAMS + 1)  # the chain closes a loop
        db.executemany("INSERT INTO employees VALUES (?, ?, ?, ?)", added)
        db.execute("INSERT INTO teams VALUES (?, ?, ?)", (TEAMS + 1, "new team", start + 5))
    repaired, _ = run_diff(weaviate, run, repair=True)

    assert repaired.failed == []
    assert repaired.missing == 1201
    validated, _ = run_diff(weaviate, replace(run), repair=False)
    assert validated.differences == 0, validated.samples
    assert validated.checked == EMPLOYEES + TEAMS + 1201
