"""The app's dual-write outbox, read by the validate and sync Jobs from the live SQLite file.

The app writes an outbox entry in the same transaction as every captured change and deletes it
only after Weaviate took the row's state (see dualwrite). So a difference on a key with a
pending entry is a write in flight, not a lost one; and once the drain has passed the outbox's
high-water mark, every write committed before that mark is in Weaviate. Validation waits on
that, bounded, instead of guessing with a fixed delay.

The tables are a contract between the app's library and the Jobs: their names live here, the
engine side, and dualwrite builds its SQLAlchemy tables on them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.migration.mapping.values import Key, key_from_json
from datamigration_operator.migration.source.snapshot import open_read_only

OUTBOX_TABLE: Final = "datamigration_outbox"
LEASE_TABLE: Final = "datamigration_outbox_lease"
POLL_SECONDS: Final = 0.2


@dataclass(frozen=True)
class OutboxState:
    """What the outbox looked like at one moment."""

    depth: int
    oldest_age: float
    """Seconds since the oldest waiting entry was written (0 when empty)."""
    mark: int
    """High-water mark: the highest entry id ever assigned (ids are never reused)."""
    lowest: int | None
    """Lowest waiting entry id; None when empty."""
    holder: str | None = None
    """Process holding the drain lease, if the lease is unexpired."""
    holder_expires_in: float | None = None
    lease_expires_at: float | None = None
    """The lease row's expiry (epoch seconds), live or lapsed: the drainer's last heartbeat
    into this file plus its ttl, or its clean stop. None when no process ever took it."""

    def drained_past(self, mark: int) -> bool:
        """Every entry with an id up to `mark` has been drained (Weaviate took it)."""
        return self.lowest is None or self.lowest > mark

    def describe(self) -> str:
        if self.depth == 0:
            return "the app's outbox is empty"
        lease = (
            f"drain lease held by {self.holder} (renewal due within {self.holder_expires_in:.0f} s)"
            if self.holder is not None and self.holder_expires_in is not None
            else "no process holds the drain lease (is an app pod running in dual_write?)"
        )
        return (
            f"the app's outbox holds {self.depth} entries, the oldest {self.oldest_age:.0f} s "
            f"old; {lease}"
        )


class OutboxNotDrainingError(Exception):
    """The app's outbox did not drain past a mark within the allowed time."""

    def __init__(self, state: OutboxState, waited: float, purpose: str) -> None:
        self.state = state
        self.waited = waited
        super().__init__(
            f"{purpose}: waited {waited:.0f} s for the app's dual-write outbox to drain; "
            f"{state.describe()}"
        )


class AppOutbox:
    """Read-only view of the outbox in the app's live database file."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._db = open_read_only(path)
        self._clock = clock

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AppOutbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def present(self) -> bool:
        """Whether the app's dual-write library ever ran on this database."""
        found = self._db.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (OUTBOX_TABLE,)
        ).fetchone()
        return found is not None

    def state(self) -> OutboxState:
        db = self._db
        db.execute("BEGIN")  # one read transaction: the figures agree with each other
        try:
            depth, lowest = db.execute(f'SELECT count(*), min(id) FROM "{OUTBOX_TABLE}"').fetchone()
            oldest = None
            if lowest is not None:
                (oldest,) = db.execute(
                    f'SELECT created_at FROM "{OUTBOX_TABLE}" WHERE id = ?', (lowest,)
                ).fetchone()
            sequence = db.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (OUTBOX_TABLE,)
            ).fetchone()
            lease = self._lease(db)
        finally:
            db.execute("COMMIT")
        now = self._clock()
        holder, expires_in = None, None
        if lease is not None and lease[1] > now:
            holder, expires_in = str(lease[0]), float(lease[1]) - now
        return OutboxState(
            depth=int(depth),
            oldest_age=0.0 if oldest is None else max(0.0, now - float(oldest)),
            mark=0 if sequence is None else int(sequence[0]),
            lowest=None if lowest is None else int(lowest),
            holder=holder,
            holder_expires_in=expires_in,
            lease_expires_at=None if lease is None else float(lease[1]),
        )

    @staticmethod
    def _lease(db: sqlite3.Connection) -> tuple[object, float] | None:
        try:
            row = db.execute(f'SELECT holder, expires_at FROM "{LEASE_TABLE}"').fetchone()
        except sqlite3.OperationalError:  # no lease table yet: no drainer ever started
            return None
        return None if row is None else (row[0], float(row[1]))

    def pending_keys(self, table: str) -> list[Key]:
        """Keys of `table` with an entry waiting (any op), oldest first, each once."""
        wanted = fold_sql_name(table)
        rows = self._db.execute(f'SELECT "table", key FROM "{OUTBOX_TABLE}" ORDER BY id')
        keys = [tuple(key_from_json(json.loads(k))) for t, k in rows if fold_sql_name(t) == wanted]
        return list(dict.fromkeys(keys))

    def wait_drained(
        self,
        mark: int,
        deadline: float,
        *,
        purpose: str,
        on_wait: Callable[[OutboxState], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> OutboxState:
        """Waits until every entry up to `mark` is drained; raises OutboxNotDrainingError at
        `deadline` (a time.monotonic() value). `on_wait` sees each state while it waits."""
        started = monotonic()
        while True:
            state = self.state()
            if state.drained_past(mark):
                return state
            if monotonic() >= deadline:
                raise OutboxNotDrainingError(state, monotonic() - started, purpose)
            if on_wait is not None:
                on_wait(state)
            sleep(POLL_SECONDS)
