"""Rows pointing at rows of their own table and a cycle of two tables, copied, synced and
validated against the real Weaviate, which refuses a reference to an object it does not hold
yet: a forward management chain longer than a batch, a loop closing it, a team led by one of
its members."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from weaviate.classes.query import QueryReference

from datamigration_operator.migration.mapping import object_uuid
from datamigration_operator.migration.runs.run import RunSettings, copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_sandbox.sample_data import SampleDatabase
from tests.integration.migration.conftest import NAMESPACE, RecordingReporter, settings
from tests.integration.migration.self_referencing_db import (
    EMPLOYEES,
    TEAMS,
    make_self_referencing_database,
    self_referencing_collections,
)
from tests.real.conftest import WEAVIATE_API_KEY, RealCluster


@pytest.fixture
def real_weaviate(real_cluster: RealCluster) -> Iterator[Any]:
    target = real_cluster.weaviate_target
    client = connect(target, WEAVIATE_API_KEY)
    try:
        yield client
    finally:
        for name in ("Employee", "Team"):
            client.collections.delete(name)
        client.close()


def _manager(client: Any, key: int) -> list[str]:
    employees = client.collections.get("Employee")
    found = employees.query.fetch_object_by_id(
        object_uuid(NAMESPACE, "employees", (key,)),
        return_references=QueryReference(link_on="manager_id", return_properties=["name"]),
    )
    reference = found.references.get("manager_id") if found.references else None
    return [str(o.uuid) for o in reference.objects] if reference else []


def test_self_references_and_cycles_copy_sync_and_validate_on_the_real_weaviate(
    real_weaviate: Any, tmp_path: Path
) -> None:
    path = make_self_referencing_database(tmp_path / "org.db")
    database = SampleDatabase(path, {"employees": EMPLOYEES, "teams": TEAMS})
    run: RunSettings = settings(
        database, tmp_path / "scratch", collections=self_referencing_collections(), batch_size=50
    )
    copied, _ = copy_run(run, real_weaviate, RecordingReporter())
    assert copied.failed_count == 0, copied.failed[:3]
    assert copied.written == EMPLOYEES + TEAMS
    assert _manager(real_weaviate, 1) == [str(object_uuid(NAMESPACE, "employees", (2,)))]

    # rows the copy never saw: a chain over more than one repair chunk closing a loop, and a
    # team led by one of them
    with sqlite3.connect(path) as db:
        start = EMPLOYEES + 1
        added = [(n, f"new {n}", n + 1, None) for n in range(start, start + 700)]
        added[-1] = (added[-1][0], added[-1][1], start, TEAMS + 1)
        db.executemany("INSERT INTO employees VALUES (?, ?, ?, ?)", added)
        db.execute("INSERT INTO teams VALUES (?, ?, ?)", (TEAMS + 1, "new team", start + 5))
    synced = diff_run(run, real_weaviate, RecordingReporter(), repair=True)
    assert synced.failed == []
    assert synced.missing == 701

    validated = diff_run(run, real_weaviate, RecordingReporter(), repair=False)
    assert validated.differences == 0, validated.samples
    assert validated.checked == EMPLOYEES + TEAMS + 701
    assert _manager(real_weaviate, start + 699) == [
        str(object_uuid(NAMESPACE, "employees", (start,)))
    ]
