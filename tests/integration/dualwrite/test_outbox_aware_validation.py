"""Validation against an app whose dual writes are still in its outbox: it waits for the drain,
never counts a write in flight as missing, and ends with OutboxNotDraining when the drain is
stuck."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from datamigration_operator.api import reasons
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.runs.run import diff_run
from datamigration_operator.migration.sink.weaviate_sink import connect
from tests.integration.dualwrite.conftest import RunningWeaviate, wait_for
from tests.integration.dualwrite.engine_runs import Reporter, engine_copy, run_settings
from tests.integration.dualwrite.notes_app import (
    MAPPINGS,
    NAMESPACE,
    Note,
    dual_write,
    open_database,
    target,
)


def _app(path: Path, weaviate: RunningWeaviate) -> DualWrite:
    registry = CollectorRegistry()
    return dual_write(
        open_database(path),
        ModeSource(fixed="dual_write", registry=registry),
        weaviate.http_port,
        weaviate.grpc_port,
        registry=registry,
    )


def _validate(weaviate: RunningWeaviate, path: Path, scratch: Path, **changes: float) -> Reporter:
    reporter = Reporter()
    settings = replace(run_settings(path, scratch, MAPPINGS, NAMESPACE), **changes)
    client = connect(target(weaviate.http_port, weaviate.grpc_port), None)
    try:
        diff_run(settings, client, reporter, repair=False)
    finally:
        client.close()
    return reporter


def _copied_app_with_pending_writes(
    tmp_path: Path, weaviate: RunningWeaviate, pending: int
) -> DualWrite:
    """A copied database, then `pending` captured writes that nobody drains yet."""
    path = tmp_path / "app.db"
    sessions = open_database(path)
    with sessions() as session, session.begin():
        session.add_all([Note(title=f"copied {i}", stars=i) for i in range(200)])
    engine_copy(weaviate, run_settings(path, tmp_path / "copy", MAPPINGS, NAMESPACE))
    app = _app(path, weaviate).start(drain=False)  # the drainer is stuck
    with Session(app.engine) as session, session.begin():
        session.add_all([Note(title=f"in flight {i}") for i in range(pending)])
        for note in session.query(Note).filter(Note.id <= 10):
            note.body = "changed while the drain is stuck"
    assert app.outbox_stats()[0] == pending + 10
    return app


def test_a_stuck_drain_ends_validation_with_outbox_not_draining_never_a_row_count(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    app = _copied_app_with_pending_writes(tmp_path, weaviate, pending=40)
    try:
        reporter = _validate(weaviate, tmp_path / "app.db", tmp_path / "v", drain_timeout=1.0)
        report = reporter.validations[-1]
        assert report.finished_at is not None
        assert report.passed is False
        assert report.reason == reasons.OUTBOX_NOT_DRAINING
        assert report.message is not None
        assert "50 entries" in report.message
        assert "no process holds the drain lease" in report.message
        assert report.differences == 0  # no row counted as missing or mismatched
        assert reporter.outboxes[-1].depth == 50

        app.drainer.start()  # the drain resumes: a rerun passes
        reporter = _validate(weaviate, tmp_path / "app.db", tmp_path / "again", drain_timeout=30.0)
        report = reporter.validations[-1]
        assert report.reason is None
        assert report.passed is True, report
        assert report.outbox_mark is not None
        assert report.outbox_drained is True
        assert reporter.outboxes[-1].depth == 0
    finally:
        app.stop()


def test_validation_waits_for_a_late_drain_instead_of_counting_writes_in_flight(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    app = _copied_app_with_pending_writes(tmp_path, weaviate, pending=30)
    resumes = threading.Timer(2.0, app.drainer.start)  # e.g. a new pod takes the lease over
    started = time.monotonic()
    resumes.start()
    try:
        reporter = _validate(weaviate, tmp_path / "app.db", tmp_path / "v", drain_timeout=30.0)
        assert time.monotonic() - started >= 2.0
        report = reporter.validations[-1]
        assert report.reason is None
        assert (report.missing, report.extra, report.mismatched) == (0, 0, 0)
        assert report.checked == 230
        assert report.passed is True
        waiting = [o for o in reporter.outboxes if o.waiting]
        assert waiting, "status.outbox never said the Job waits"
        assert "40 entries" in (waiting[0].waiting or "")
        assert reporter.outboxes[-1].waiting is None, "status must stop saying it waits"
        assert reporter.outboxes[-1].depth == 0
    finally:
        resumes.cancel()
        app.stop()


def test_writes_in_flight_during_the_diff_wait_for_the_drain_and_are_not_counted(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    """Writes land between the snapshot and the second look while the drain lags: the
    differences they cause are settled by the rounds, whatever the recheck delay."""
    path = tmp_path / "app.db"
    sessions = open_database(path)
    with sessions() as session, session.begin():
        session.add_all([Note(title=f"copied {i}", stars=i) for i in range(300)])
    engine_copy(weaviate, run_settings(path, tmp_path / "copy", MAPPINGS, NAMESPACE))
    app = _app(path, weaviate).start()
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            with Session(app.engine) as session, session.begin():
                note = session.get(Note, 1 + n % 300)
                assert note is not None
                note.stars += 1
                session.add(Note(title=f"live {n}"))
            n += 1
            time.sleep(0.005)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.5)
        reporter = _validate(weaviate, path, tmp_path / "v", recheck_delay=0.0, drain_timeout=30.0)
    finally:
        stop.set()
        writer.join()
    try:
        wait_for(lambda: app.outbox_stats()[0] == 0, timeout=30)
        report = reporter.validations[-1]
        assert report.reason is None
        assert report.differences == 0, report.samples
        assert report.passed is True
    finally:
        app.stop()
