"""Reference integrity against the real weaviate-server, the oracle of the emulator: the real
server refuses to write a dangling reference, so the case deletes the target after the copy,
and repoints another reference with reference replace. Validation must find the same two
problems there as on the emulator, through the engine and through `dmctl validate`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datamigration_operator.cli.exit_status import EXIT_DIFFERENCES
from datamigration_operator.migration.runs.run import RunSettings, copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import SinkSettings, connect
from tests.integration.migration.conftest import RecordingReporter
from tests.integration.migration.reference_integrity_case import (
    COLLECTIONS,
    DANGLING_BOOK,
    GONE_AUTHOR,
    NAMESPACE,
    NULL_BOOK,
    SECOND_BOOK,
    WRONG_BOOK,
    break_references,
    dmctl_validate,
    hide_dangling_references,
    make_library,
    uuid_of,
)
from tests.real.conftest import WEAVIATE_API_KEY, RealCluster


@pytest.fixture
def real_weaviate(real_cluster: RealCluster) -> Iterator[Any]:
    target = real_cluster.weaviate_target
    client = connect(target, WEAVIATE_API_KEY)
    try:
        yield client
    finally:
        for mapping in COLLECTIONS:  # other tests of the session use other collections
            client.collections.delete(mapping.collection)
        client.close()


def _copied(real_weaviate: Any, tmp_path: Path) -> tuple[Path, RunSettings]:
    db = tmp_path / "library.db"
    make_library(db)
    run = RunSettings(
        sqlite_path=db,
        snapshot=True,
        scratch_dir=tmp_path / "scratch",
        collections=COLLECTIONS,
        namespace=NAMESPACE,
        sink=SinkSettings(batch_size=50, base_delay=0.01, max_delay=0.2),
        job="test-job",
    )
    copied, _ = copy_run(run, real_weaviate, RecordingReporter())
    assert (copied.written, copied.failed_count) == (8, 0)
    return db, run


def test_validate_finds_a_dangling_and_a_wrong_reference_on_the_real_weaviate(
    real_cluster: RealCluster, real_weaviate: Any, tmp_path: Path
) -> None:
    db, run = _copied(real_weaviate, tmp_path)
    clean = diff_run(run, real_weaviate, RecordingReporter(), repair=False)
    assert (clean.checked, clean.differences) == (8, 0)

    break_references(db, real_weaviate)
    reporter = RecordingReporter()
    diff = diff_run(run, real_weaviate, reporter, repair=False)

    assert (diff.missing, diff.extra, diff.mismatched) == (0, 0, 0)
    assert (diff.dangling_references, diff.wrong_references) == (1, 1)
    samples = {s.problem: s for s in diff.samples}
    assert samples["danglingReference"].key_text == f'["{DANGLING_BOOK}"]'
    assert str(uuid_of("authors", GONE_AUTHOR)) in samples["danglingReference"].detail
    assert samples["wrongReference"].key_text == f'["{WRONG_BOOK}"]'
    assert reporter.validations[-1].passed is False

    ports = real_cluster.plane.ports
    env = {**os.environ, "WEAVIATE_API_KEY": WEAVIATE_API_KEY, "NO_PROXY": "127.0.0.1"}
    code, summary = dmctl_validate(
        db, f"http://127.0.0.1:{ports.weaviate_http}", ports.weaviate_grpc, env
    )
    assert code == EXIT_DIFFERENCES, summary
    assert (summary["danglingReferences"], summary["wrongReferences"]) == (1, 1)


def test_dangling_references_a_real_read_leaves_out_are_found_by_their_stored_count(
    real_weaviate: Any, tmp_path: Path
) -> None:
    """The real server counts a dangling reference in the reference count filter, though its
    reads leave it out: what the sweep relies on."""
    _, run = _copied(real_weaviate, tmp_path)
    hide_dangling_references(real_weaviate)
    diff = diff_run(run, real_weaviate, RecordingReporter(), repair=False)
    assert (diff.missing, diff.extra, diff.mismatched, diff.wrong_references) == (0, 0, 0, 0)
    assert diff.dangling_references == 2
    assert {s.key_text for s in diff.samples} == {f'["{NULL_BOOK}"]', f'["{SECOND_BOOK}"]'}
