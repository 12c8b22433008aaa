"""The Jobs' read-only view of the app's outbox: marks, pending keys and the bounded wait."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from datamigration_operator.dualwrite.drain_lease import DrainLease
from datamigration_operator.dualwrite.outbox import create_outbox, delete_through, encode_key
from datamigration_operator.migration.source.app_outbox import AppOutbox, OutboxNotDrainingError


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_outbox(engine)
    return engine


def write(engine: sa.Engine, table: str, key: tuple[object, ...], at: float) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            'INSERT INTO datamigration_outbox ("table", key, op, created_at) VALUES (?, ?, ?, ?)',
            (table, encode_key(key), "upsert", at),
        )


def test_an_empty_database_has_no_outbox(tmp_path: Path) -> None:
    sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}").connect().close()
    (tmp_path / "plain.db").touch()
    with AppOutbox(tmp_path / "plain.db") as outbox:
        assert not outbox.present()


def test_state_marks_and_pending_keys(engine: sa.Engine, tmp_path: Path) -> None:
    with AppOutbox(tmp_path / "app.db", clock=lambda: 1_000.0) as outbox:
        assert outbox.present()
        empty = outbox.state()
        assert (empty.depth, empty.mark, empty.lowest) == (0, 0, None)
        assert empty.drained_past(0)
        write(engine, "Notes", (1,), 990.0)
        write(engine, "notes", ("a", 2), 995.0)
        write(engine, "notes", (1,), 996.0)
        write(engine, "other", (7,), 997.0)
        state = outbox.state()
        assert (state.depth, state.mark, state.lowest, state.oldest_age) == (4, 4, 1, 10.0)
        assert not state.drained_past(1)
        # case-insensitive table names, each key once, in outbox order
        assert outbox.pending_keys("NOTES") == [(1,), ("a", 2)]
        with engine.begin() as connection:
            delete_through(connection, 2)
        drained = outbox.state()
        assert drained.drained_past(2)
        assert not drained.drained_past(3)
        assert drained.mark == 4  # the high-water mark never goes back
        with engine.begin() as connection:
            delete_through(connection, 4)
        assert outbox.state().mark == 4
        assert outbox.state().drained_past(4)


def test_the_description_names_depth_age_and_the_lease_holder(
    engine: sa.Engine, tmp_path: Path
) -> None:
    write(engine, "notes", (1,), 900.0)
    with AppOutbox(tmp_path / "app.db", clock=lambda: 1_000.0) as outbox:
        text = outbox.state().describe()
        assert "1 entries, the oldest 100 s old" in text
        assert "no process holds the drain lease" in text
        lease = DrainLease(engine, holder="chat-app-7f9/12/ab", ttl=10)
        assert lease.acquire(now=995.0)
        held = outbox.state()
        assert held.holder == "chat-app-7f9/12/ab"
        assert "held by chat-app-7f9/12/ab" in held.describe()


def test_the_lease_expiry_is_reported_live_or_lapsed(engine: sa.Engine, tmp_path: Path) -> None:
    """status.outbox.leaseExpiresAt: the drainer's last heartbeat into this file, also once it
    stopped (the holder is reported only while the lease is live)."""
    with AppOutbox(tmp_path / "app.db", clock=lambda: 1_000.0) as outbox:
        assert outbox.state().lease_expires_at is None  # no drainer ever ran
        lease = DrainLease(engine, holder="app/1/aa", ttl=10)
        assert lease.acquire(now=995.0)
        live = outbox.state()
        assert (live.holder, live.lease_expires_at) == ("app/1/aa", 1_005.0)
        lease.release(now=998.0)
        lapsed = outbox.state()
        assert (lapsed.holder, lapsed.lease_expires_at) == (None, 998.0)


def test_wait_drained_gives_up_at_the_deadline_with_the_state(
    engine: sa.Engine, tmp_path: Path
) -> None:
    write(engine, "notes", (1,), 900.0)
    clock = [0.0]
    seen: list[int] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    with AppOutbox(tmp_path / "app.db") as outbox:
        with pytest.raises(OutboxNotDrainingError) as raised:
            outbox.wait_drained(
                1,
                deadline=1.0,
                purpose="validation did not start",
                on_wait=lambda state: seen.append(state.depth),
                sleep=sleep,
                monotonic=lambda: clock[0],
            )
        assert raised.value.state.depth == 1
        assert str(raised.value).startswith("validation did not start: waited 1 s")
        assert seen == [1] * 5
        # the drain passes the mark: the wait returns at once
        with engine.begin() as connection:
            delete_through(connection, 1)
        assert outbox.wait_drained(1, deadline=0.0, purpose="x").depth == 0


def test_keys_are_decoded_as_the_drainer_decodes_them(engine: sa.Engine, tmp_path: Path) -> None:
    key = (1.5, b"\x00\xff", "é")
    write(engine, "t", key, 1.0)
    with AppOutbox(tmp_path / "app.db") as outbox:
        assert outbox.pending_keys("t") == [key]
    assert json.loads(encode_key(key))  # the stored form is JSON
