"""The validate run's read probe against the sandbox Weaviate: figures for every read kind the
sample app declares, on both stores, and nothing written to either."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from functools import partial
from pathlib import Path

import yaml

from datamigration_operator.api.names import GROUP, PLURAL, VERSION
from datamigration_operator.api.spec import ReadProbeSpec
from datamigration_operator.api.status import ReadPerformance
from datamigration_operator.migration.runs.read_probe import ProbeSettings
from datamigration_sandbox.sample_data import (
    SampleDatabase,
    generate_database,
    sample_collections,
)
from tests.integration.migration.conftest import (
    DMCTL,
    RunningWeaviate,
    cli_env,
    parse_json_line,
    run_copy,
    run_diff,
    settings,
)
from tests.integration.migration.test_job import (
    NAME,
    NS,
    Plane,
    _create_migration,
    _run_job,
    plane,
)

__all__ = ["plane"]  # the sandbox control plane fixture

COLLECTIONS = ["Conversation", "Message", "Document"]


def test_validation_reports_read_figures_of_both_stores_and_writes_nothing(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch")
    copied, _ = run_copy(weaviate, run)
    assert copied.failed_count == 0
    counts = weaviate.counts(COLLECTIONS)
    sqlite_bytes = hashlib.sha256(database.path.read_bytes()).hexdigest()

    probed = dataclasses.replace(run, read_probe=ProbeSettings(requests=30, concurrency=3))
    result, reporter = run_diff(weaviate, probed, repair=False)

    assert result.differences == 0
    report = reporter.validations[-1]
    assert report.passed
    figures = report.read_performance
    assert figures is not None
    assert (figures.requests, figures.concurrency) == (30, 3)
    kinds = {k.kind: k for k in figures.kinds}
    assert list(kinds) == ["byId", "byReference", "bm25", "nearVector"]
    for kind in kinds.values():
        for run_figures in (kind.sequential, kind.concurrent):
            for side in (run_figures.weaviate, run_figures.sqlite):
                assert side is not None, kind
                assert side.errors == 0, kind
                assert 0 < side.requests <= 30, kind
                if side.requests < 30:  # the run's 5 s ran out first: the note says so
                    assert f"{side.requests} of 30 reads in 5 s" in (kind.note or ""), kind
                assert side.p50_ms is not None, kind
                assert side.p99_ms is not None, kind
                assert side.mean_ms is not None, kind
                assert 0 < side.p50_ms <= side.p99_ms, kind
                assert side.mean_ms > 0, kind
    assert "LIKE" in (kinds["bm25"].note or "")
    assert "brute-force" in (kinds["nearVector"].note or "")
    # the probe only reads
    assert weaviate.counts(COLLECTIONS) == counts
    assert hashlib.sha256(database.path.read_bytes()).hexdigest() == sqlite_bytes


def test_without_the_probe_the_report_has_no_read_figures(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    run = settings(database, tmp_path / "scratch")
    run_copy(weaviate, run)
    _, reporter = run_diff(weaviate, run, repair=False)
    assert reporter.validations[-1].passed
    assert reporter.validations[-1].read_performance is None


def test_the_validate_job_writes_the_figures_into_the_datamigration_status(
    plane: Plane, tmp_path: Path
) -> None:
    """Through the status subresource, as the CRD's schema stores them (nothing pruned)."""
    database = generate_database(tmp_path / "app.db", rows=600)
    dm = _create_migration(plane)
    probe = ReadProbeSpec(requests=20, concurrency=2)
    for kind in ("copy", "validate"):
        ended = _run_job(
            plane,
            dm,
            kind,  # type: ignore[arg-type]
            database.path,
            tmp_path / "scratch",
            probe if kind == "validate" else None,
        )
        assert ended.returncode == 0, ended.stdout.decode()[-2000:]
    obj = plane.custom.get_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, NAME)
    validation = obj["status"]["validation"]
    assert validation["passed"] is True
    figures = validation["readPerformance"]
    assert (figures["requests"], figures["concurrency"]) == (20, 2)
    assert [k["kind"] for k in figures["kinds"]] == ["byId", "byReference", "bm25", "nearVector"]
    stored = ReadPerformance.model_validate(figures)
    for kind in stored.kinds:
        assert kind.concurrent.weaviate.p99_ms is not None
        assert kind.concurrent.sqlite is not None
        assert kind.concurrent.sqlite.p99_ms is not None


def test_dmctl_validate_prints_the_figures(
    weaviate: RunningWeaviate, database: SampleDatabase, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    collections = [
        m.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for m in sample_collections()
    ]
    mapping.write_text(yaml.safe_dump({"collections": collections}))
    common = ["--sqlite", str(database.path), "--weaviate", weaviate.url]
    common += ["--grpc-port", str(weaviate.grpc_port), "--mapping", str(mapping)]
    run = partial(subprocess.run, capture_output=True, env=cli_env(), timeout=300, check=False)
    copied = run([*DMCTL, "copy", *common, "--json"])
    assert copied.returncode == 0, copied.stderr.decode()[-2000:]

    probe = ["--recheck-delay", "0", "--read-requests", "20", "--read-concurrency", "2"]
    as_json = run([*DMCTL, "validate", *common, *probe, "--json"])
    assert as_json.returncode == 0, as_json.stderr.decode()[-2000:]
    figures = ReadPerformance.model_validate(parse_json_line(as_json.stdout)["readPerformance"])
    assert [k.kind for k in figures.kinds] == ["byId", "byReference", "bm25", "nearVector"]

    printed = run([*DMCTL, "validate", *common, *probe]).stderr.decode()
    assert "byId (sequential): Weaviate p50 " in printed, printed
    assert "bm25 (2 concurrent): Weaviate p50 " in printed, printed
    assert "| SQLite p50 " in printed

    skipped = run(
        [*DMCTL, "validate", *common, "--recheck-delay", "0", "--no-read-probe", "--json"]
    )
    assert "readPerformance" not in parse_json_line(skipped.stdout)
