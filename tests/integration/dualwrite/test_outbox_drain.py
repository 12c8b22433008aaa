"""Dual-write against the sandbox Weaviate: outages, a killed app, ordering and mode flips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from datamigration_operator.dualwrite.drainer import (
    SCRAPE_CACHE_SECONDS,
    DrainError,
    DrainSettings,
)
from datamigration_operator.dualwrite.integration import DualWrite
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.dualwrite.outbox import outbox
from datamigration_operator.migration.mapping import object_uuid
from datamigration_operator.migration.sink.weaviate_sink import connect
from tests.integration.dualwrite.conftest import (
    RestartableWeaviate,
    RunningWeaviate,
    differences,
    wait_for,
)
from tests.integration.dualwrite.notes_app import (
    MAPPINGS,
    NAMESPACE,
    Note,
    dual_write,
    open_database,
    target,
)

ROOT = Path(__file__).resolve().parents[3]
# Seconds of Weaviate outage under ~100 writes/s: the acceptance's 60 s in every run
# (DUALWRITE_OUTAGE_SECONDS=5 for a quick local loop).
OUTAGE_SECONDS = float(os.environ.get("DUALWRITE_OUTAGE_SECONDS", "60"))
DOWN_SECONDS = 3.0  # Weaviate stopped, ports closed
# An app write never waits for Weaviate: while it is down the app keeps at least this share of
# the write rate it had with Weaviate up, measured in the same run (a write that waited for a
# connection would fall to a few per second). A ratio, so a busy machine does not fail it.
KEPT_WRITE_RATE = 0.5


def _outbox_ops(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [row.op for row in session.execute(sa.select(outbox).order_by(outbox.c.id))]


def write_notes(sessions: sessionmaker[Session], seconds: float) -> tuple[int, int]:
    """~100 app writes/s (inserts, updates, deletes) for `seconds`; (written, failed)."""
    failed_writes = 0
    written = 0
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        time.sleep(max(0.0, start + written * 0.01 - time.monotonic()))
        try:
            with sessions.begin() as session:
                note = Note(title=f"note {written}", body="x" * (written % 50), stars=1)
                session.add(note)
                session.flush()
                if written % 3 == 1:
                    session.get(Note, note.id - 1).stars = 5  # type: ignore[union-attr]
                if written % 7 == 6:
                    session.delete(session.get(Note, note.id - 2))
            written += 1
        except Exception:
            failed_writes += 1
    return written, failed_writes


def test_outage_under_load_loses_no_write(tmp_path: Path, weaviate: RunningWeaviate) -> None:
    sessions = open_database(tmp_path / "app.db")
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    registry = CollectorRegistry()
    with dual_write(
        sessions, mode, weaviate.http_port, weaviate.grpc_port, registry=registry
    ) as dual:
        up_written, _ = write_notes(sessions, 1.0)
        weaviate.server.faults.unavailable_bursts = 10**9  # every gRPC request: UNAVAILABLE
        written, failed_writes = write_notes(sessions, OUTAGE_SECONDS)
        depth, age = dual.outbox_stats()
        assert depth > 0
        assert age > 0
        assert registry.get_sample_value("datamigration_dualwrite_outbox_depth") == depth
        weaviate.server.faults.unavailable_bursts = 0
        recovered = time.monotonic()
        wait_for(lambda: dual.outbox_stats()[0] == 0, timeout=60 + OUTAGE_SECONDS)
        drained_in = time.monotonic() - recovered
    assert failed_writes == 0
    assert written / OUTAGE_SECONDS >= KEPT_WRITE_RATE * up_written, (written, up_written)
    print(f"outage {OUTAGE_SECONDS}s: {written} writes, drained {drained_in:.1f}s after recovery")
    assert differences(dual, sessions, weaviate) == []


def test_weaviate_down_and_back_on_its_ports_loses_no_write(
    tmp_path: Path, restartable_weaviate: RestartableWeaviate
) -> None:
    weaviate = restartable_weaviate
    sessions = open_database(tmp_path / "app.db")
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    registry = CollectorRegistry()

    def sample(name: str) -> float:
        return registry.get_sample_value(f"datamigration_dualwrite_{name}") or 0.0

    with dual_write(
        sessions, mode, weaviate.http_port, weaviate.grpc_port, registry=registry
    ) as dual:
        up_written, failed_writes = write_notes(sessions, 1.0)  # drained while up
        wait_for(lambda: dual.outbox_stats()[0] == 0)
        weaviate.down()  # connection refused on both ports, the drainer's client included
        down_written, down_failed = write_notes(sessions, DOWN_SECONDS)
        # the drainer's failures and the outbox's growth show while Weaviate is down
        assert sample("drain_failures_total") > 0
        assert sample("outbox_depth") == dual.outbox_stats()[0] > 0
        age = sample("outbox_oldest_age_seconds")
        time.sleep(SCRAPE_CACHE_SECONDS + 0.2)
        assert sample("outbox_oldest_age_seconds") > age > 0
        weaviate.up()
        recovered = time.monotonic()
        wait_for(lambda: dual.outbox_stats()[0] == 0, timeout=60)
        lag = time.monotonic() - recovered
    assert (failed_writes, down_failed) == (0, 0)
    assert down_written / DOWN_SECONDS >= KEPT_WRITE_RATE * up_written, (down_written, up_written)
    print(f"down {DOWN_SECONDS}s: {down_written} writes, drained {lag:.1f}s after it came back")
    assert differences(dual, sessions, weaviate) == []


def test_insert_update_delete_in_quick_succession_end_in_the_final_state(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = open_database(tmp_path / "app.db")
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    dual = dual_write(sessions, mode, weaviate.http_port, weaviate.grpc_port).start(drain=False)
    try:
        with sessions.begin() as session:
            session.add_all([Note(id=1, title="kept"), Note(id=2, title="gone")])
        with sessions.begin() as session:
            session.get(Note, 1).title = "updated"  # type: ignore[union-attr]
            session.delete(session.get(Note, 2))
        with sessions.begin() as session:
            session.add(Note(id=3, title="third"))
        with sessions.begin() as session:
            session.get(Note, 3).stars = 4  # type: ignore[union-attr]
        assert _outbox_ops(sessions) == ["upsert"] * 2 + ["upsert", "delete"] + ["upsert"] * 2
        assert dual.drainer.drain_once() == 6
        assert differences(dual, sessions, weaviate) == []
        # a delete of an object Weaviate holds removes it
        with sessions.begin() as session:
            session.delete(session.get(Note, 1))
        dual.drainer.drain_once()
        assert differences(dual, sessions, weaviate) == []
        assert len(weaviate.server.database.get("Note").objects) == 1
    finally:
        dual.stop()


def test_rolled_back_transaction_leaves_no_outbox_entry(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = open_database(tmp_path / "app.db")
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    dual = dual_write(sessions, mode, weaviate.http_port, weaviate.grpc_port).start(drain=False)
    try:
        with sessions() as session:
            session.add(Note(title="never"))
            session.flush()
            inside = session.scalar(sa.select(sa.func.count()).select_from(outbox))
            session.rollback()
        assert inside == 1  # written in the app's transaction...
        assert _outbox_ops(sessions) == []  # ...and gone with it
    finally:
        dual.stop()


def test_killed_app_outbox_drains_after_restart(tmp_path: Path, weaviate: RunningWeaviate) -> None:
    path = tmp_path / "app.db"
    sessions = open_database(path)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.dualwrite.notes_app",
            str(path),
            str(weaviate.http_port),
            str(weaviate.grpc_port),
            "200",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        # the checkout first (`tests.`), then whatever source tree this run uses
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "committed"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    with dual_write(sessions, mode, weaviate.http_port, weaviate.grpc_port) as dual:
        wait_for(lambda: dual.outbox_stats()[0] == 0)
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Note)) == 200
    assert differences(dual, sessions, weaviate) == []


def test_mode_flips_through_the_mounted_file(tmp_path: Path, weaviate: RunningWeaviate) -> None:
    sessions = open_database(tmp_path / "app.db")
    mode_file = tmp_path / "migration_mode"
    mode_file.write_text("sqlite_only")
    mode = ModeSource(path=mode_file, registry=CollectorRegistry(), poll_interval=0.05)
    changed = threading.Event()
    mode.on_change(lambda _old, _new: changed.set())
    dual = dual_write(sessions, mode, weaviate.http_port, weaviate.grpc_port).start(drain=False)
    captured: dict[str, int] = {}
    try:
        for step, name in enumerate(
            ["sqlite_only", "dual_write", "weaviate_primary", "sqlite_only"]
        ):
            if step:
                changed.clear()
                mode_file.write_text(name)
                assert changed.wait(10)
            assert mode.current() == name
            before = len(_outbox_ops(sessions))
            with sessions.begin() as session:
                session.add(Note(title=f"in {name}"))
            captured[f"{step}:{name}"] = len(_outbox_ops(sessions)) - before
    finally:
        dual.stop()
    assert captured == {
        "0:sqlite_only": 0,
        "1:dual_write": 1,
        "2:weaviate_primary": 1,
        "3:sqlite_only": 0,
    }


def test_refused_objects_stay_in_the_outbox_until_weaviate_takes_them(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = open_database(tmp_path / "app.db")
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    dual = dual_write(sessions, mode, weaviate.http_port, weaviate.grpc_port).start(drain=False)
    try:
        with sessions.begin() as session:
            session.add_all([Note(id=1, title="one"), Note(id=2, title="two")])
        refused = object_uuid(NAMESPACE, "notes", (2,))
        weaviate.server.faults.always_fail_ids = {str(refused)}
        with pytest.raises(DrainError, match="refused 1 objects of Note"):
            dual.drainer.drain_once()
        assert _outbox_ops(sessions) == ["upsert", "upsert"]
        weaviate.server.faults.always_fail_ids = set()
        assert dual.drainer.drain_once() == 2
        assert dual.outbox_stats() == (0, 0.0)
        assert differences(dual, sessions, weaviate) == []
    finally:
        dual.stop()


def test_bare_engine_captures_only_its_own_sessions(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = open_database(tmp_path / "app.db")
    other = open_database(tmp_path / "other.db")
    engine = sessions.kw["bind"]
    mode = ModeSource(fixed="dual_write", registry=CollectorRegistry())
    dual = DualWrite(
        engine,
        MAPPINGS,
        mode,
        lambda: connect(target(weaviate.http_port, weaviate.grpc_port), None),
        NAMESPACE,
        registry=CollectorRegistry(),
    ).start(drain=False)
    try:
        with Session(engine) as session, session.begin():
            session.add(Note(title="captured"))
        with other.begin() as session:
            session.add(Note(title="another database"))
        assert _outbox_ops(sessions) == ["upsert"]
    finally:
        dual.stop()
    with Session(engine) as session, session.begin():
        session.add(Note(title="after stop"))
    assert _outbox_ops(sessions) == ["upsert"]


def test_drainer_retries_until_weaviate_can_be_reached(
    tmp_path: Path, weaviate: RunningWeaviate
) -> None:
    sessions = open_database(tmp_path / "app.db")
    attempts: list[int] = []

    def client() -> object:
        attempts.append(1)
        if len(attempts) <= 2:
            raise ConnectionError("Weaviate is not ready")
        return connect(target(weaviate.http_port, weaviate.grpc_port), None)

    registry = CollectorRegistry()
    mode = ModeSource(fixed="weaviate_primary", registry=registry)
    dual = DualWrite(
        sessions,
        MAPPINGS,
        mode,
        client,
        NAMESPACE,
        registry=registry,
        drain_settings=DrainSettings(base_delay=0.05, max_delay=0.2, idle_interval=0.05),
    )
    with dual:
        with sessions.begin() as session:
            session.add(Note(title="waits for Weaviate"))
        wait_for(lambda: dual.outbox_stats()[0] == 0)
    assert registry.get_sample_value("datamigration_dualwrite_drain_failures_total") == 2
    assert registry.get_sample_value("datamigration_dualwrite_drained_total") == 1
    assert differences(dual, sessions, weaviate) == []
