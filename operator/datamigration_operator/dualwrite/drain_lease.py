"""One drainer per database at a time: a lease row in the app's own SQLite file.

During a rolling update two app processes share the database; two drainers could each send a
row state the other already overtook and delete the entry that would have repaired it. The
lease (holder, expiry) is taken and renewed in a write transaction; a holder that dies stops
renewing and another process takes over after `ttl` seconds. Entries written by any process
are drained by whichever holds the lease: the outbox is one table.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Final

import sqlalchemy as sa

from datamigration_operator.dualwrite.outbox import metadata
from datamigration_operator.migration.app_engine import LEASE_TABLE

# How long a SIGKILLed holder blocks the drain. The holder renews every ttl/4, also while a
# batch is in flight (see Drainer.drain_available), so a slow batch never loses it; a clean stop
# releases it at once.
DEFAULT_TTL: Final = 10.0

lease = sa.Table(
    LEASE_TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)


def holder_name() -> str:
    """Unique per process: host (the pod name), pid and a random suffix."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class DrainLease:
    def __init__(self, engine: sa.Engine, *, holder: str | None = None, ttl: float = DEFAULT_TTL):
        if ttl <= 0:
            raise ValueError("the lease ttl must be positive")
        self._engine = engine
        self.holder = holder or holder_name()
        self.ttl = ttl
        self._valid_until = 0.0  # local view: renewed once less than 3/4 of the ttl is left
        lease.create(engine, checkfirst=True)

    @property
    def renew_interval(self) -> float:
        return self.ttl / 4

    def acquire(self, now: float | None = None) -> bool:
        """True when this process holds the lease (taken, renewed or still fresh)."""
        moment = time.time() if now is None else now
        if moment < self._valid_until - self.ttl + self.renew_interval:
            return True
        with self._engine.begin() as connection:
            connection.execute(
                sa.insert(lease)
                .values(id=1, holder=self.holder, expires_at=0.0)
                .prefix_with("OR IGNORE")
            )
            taken = connection.execute(
                sa.update(lease)
                .where(
                    lease.c.id == 1,
                    sa.or_(lease.c.holder == self.holder, lease.c.expires_at < moment),
                )
                .values(holder=self.holder, expires_at=moment + self.ttl)
            ).rowcount
        self._valid_until = moment + self.ttl if taken else 0.0
        return bool(taken)

    def release(self, now: float | None = None) -> None:
        """Lets another process drain at once (on a clean stop); a no-op unless we hold it.
        The expiry becomes the stop time, not zero: the row then still tells the operator
        (status.outbox.leaseExpiresAt) when the app last wrote here and that it stopped."""
        self._valid_until = 0.0
        moment = time.time() if now is None else now
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(lease)
                .where(lease.c.id == 1, lease.c.holder == self.holder)
                .values(expires_at=moment)
            )

    def current_holder(self) -> tuple[str, float] | None:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(lease.c.holder, lease.c.expires_at)).first()
        return None if row is None else (str(row[0]), float(row[1]))
