"""The drain lease: one holder at a time, taken over only after expiry or release."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from datamigration_operator.dualwrite.drain_lease import DrainLease


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")


def test_one_holder_until_the_lease_expires(engine: sa.Engine) -> None:
    old, new = DrainLease(engine, holder="old", ttl=10), DrainLease(engine, holder="new", ttl=10)
    assert old.acquire(now=100)
    assert not new.acquire(now=103)
    assert old.acquire(now=102)  # under a quarter of the ttl gone: fresh locally, no write
    assert new.current_holder() == ("old", 110)
    assert old.acquire(now=104)  # a quarter gone: renewed
    assert new.current_holder() == ("old", 114)
    assert not new.acquire(now=113.9)
    assert new.acquire(now=114.1)  # old stopped renewing (a killed pod)
    assert new.current_holder() == ("new", 124.1)
    assert not old.acquire(now=115)  # its local view is stale: the row says otherwise


def test_renewal_keeps_the_lease_past_its_first_expiry(engine: sa.Engine) -> None:
    holder, other = DrainLease(engine, holder="a", ttl=10), DrainLease(engine, holder="b", ttl=10)
    for now in (0, 3, 6, 9, 12, 15, 18, 21, 24):
        assert holder.acquire(now=now)
        assert not other.acquire(now=now + 0.5)
    assert holder.current_holder() == ("a", 34)


def test_release_hands_over_at_once(engine: sa.Engine) -> None:
    first, second = DrainLease(engine, holder="1", ttl=30), DrainLease(engine, holder="2", ttl=30)
    assert first.acquire(now=50)
    first.release(now=50.5)
    assert second.acquire(now=51)
    second.release(now=51.5)
    second.release(now=51.6)  # idempotent; releasing a lease held by another changes nothing
    assert first.acquire(now=52)
    second.release(now=53)
    assert first.current_holder() == ("1", 82)


def test_release_records_the_stop_time(engine: sa.Engine) -> None:
    """The lapsed row still says when the app last wrote here: the operator's rollback
    readiness tells a stopped drainer from a file no app process writes."""
    lease = DrainLease(engine, holder="app", ttl=10)
    assert lease.acquire(now=1_000)
    lease.release(now=1_004.5)
    assert lease.current_holder() == ("app", 1_004.5)


def test_ttl_must_be_positive(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="ttl"):
        DrainLease(engine, ttl=0)


def test_the_holder_renews_every_quarter_ttl(engine: sa.Engine) -> None:
    lease = DrainLease(engine, holder="a", ttl=8)
    assert lease.renew_interval == 2
    assert lease.acquire(now=0)
    assert lease.acquire(now=1.9)
    assert lease.current_holder() == ("a", 8)
    assert lease.acquire(now=2.0)
    assert lease.current_holder() == ("a", 10)
