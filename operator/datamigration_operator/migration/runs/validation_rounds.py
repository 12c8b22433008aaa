"""Validation's later looks: a difference is counted only when no write in flight explains it.

After the first pass every difference is looked at again against the live row and object, in
rounds. A difference whose key has an entry in the app's outbox (before or after the look) is a
dual write not yet drained: it waits for the next round, which starts once the drain has passed
the outbox's high-water mark. A difference with nothing pending is counted when a second look
finds it the same way: between one look's outbox read and its object read, a write could be
committed and drained at once, and only a second look tells that from a lasting difference.
Writes that never touch the outbox (a process without the capture) get the fixed recheck delay
between the two looks instead.

The wait is bounded: when the outbox does not drain, validation ends with
OutboxNotDrainingError, never with the in-flight rows counted as missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol
from uuid import UUID

from datamigration_operator.migration.mapping import CollectionPlan, object_uuid
from datamigration_operator.migration.mapping.values import Key
from datamigration_operator.migration.runs.diff import (
    RECHECK_CHUNK,
    Differ,
    Difference,
    DiffResult,
    RowLookup,
    RowSource,
    Scratch,
)
from datamigration_operator.migration.source.app_outbox import (
    AppOutbox,
    OutboxNotDrainingError,
    OutboxState,
)


class PendingWrites(Protocol):
    """The app's writes not yet in Weaviate."""

    def state(self) -> OutboxState: ...

    def pending(self, plan: CollectionPlan) -> dict[UUID, Key]:
        """Object id -> key of every row of `plan` with a write waiting."""
        ...

    def wait_drained(self, mark: int, deadline: float, *, purpose: str) -> OutboxState: ...


class NoOutbox:
    """An app database the dual-write library never ran on: nothing is ever pending."""

    def state(self) -> OutboxState:
        return OutboxState(depth=0, oldest_age=0.0, mark=0, lowest=None)

    def pending(self, plan: CollectionPlan) -> dict[UUID, Key]:
        return {}

    def wait_drained(self, mark: int, deadline: float, *, purpose: str) -> OutboxState:
        return self.state()


@dataclass
class OutboxWrites:
    """The outbox of the app's live database, its keys turned into the migration's object ids."""

    outbox: AppOutbox
    namespace: str
    on_wait: Callable[[OutboxState], None] | None = None

    def state(self) -> OutboxState:
        return self.outbox.state()

    def pending(self, plan: CollectionPlan) -> dict[UUID, Key]:
        return {
            object_uuid(self.namespace, plan.table, key): key
            for key in self.outbox.pending_keys(plan.table)
        }

    def wait_drained(self, mark: int, deadline: float, *, purpose: str) -> OutboxState:
        return self.outbox.wait_drained(mark, deadline, purpose=purpose, on_wait=self.on_wait)


@dataclass(frozen=True)
class RoundSettings:
    recheck_delay: float
    deadline: float
    """time.monotonic() value after which waiting for the outbox ends validation."""


def confirm_differences(
    differ: Differ,
    scratch: Scratch,
    result: DiffResult,
    lookup: RowLookup,
    *,
    live_source: RowSource,
    writes: PendingWrites,
    settings: RoundSettings,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Looks at the first pass's differences in rounds until each is settled or counted."""
    round_ = 0
    while True:
        started = monotonic()
        hot, quiet = _look(differ, scratch, result, lookup, live_source, writes, round_)
        if not hot and not quiet:
            return
        if hot:
            if monotonic() >= settings.deadline:
                raise OutboxNotDrainingError(
                    writes.state(),
                    settings.deadline - started,
                    f"validation could not conclude: {hot} differences still have dual "
                    "writes pending",
                )
            writes.wait_drained(
                writes.state().mark,
                settings.deadline,
                purpose=f"validation could not conclude on {hot} differences",
            )
        if quiet:
            sleep(max(0.0, settings.recheck_delay - (monotonic() - started)))
        round_ += 1


def _look(
    differ: Differ,
    scratch: Scratch,
    result: DiffResult,
    lookup: RowLookup,
    live_source: RowSource,
    writes: PendingWrites,
    round_: int,
) -> tuple[int, int]:
    """One round over every plan; returns how many differences wait for the next round
    because a write was pending (hot) or for a second quiet look (quiet)."""
    hot = quiet = 0
    for plan in differ.plans:
        sorter = _Sorter(scratch, result, writes, plan, round_)
        differ.look(
            scratch, plan, round_, result, lookup, live_source=live_source, found=sorter.add
        )
        sorter.flush()
        hot, quiet = hot + sorter.hot, quiet + sorter.quiet
    return hot, quiet


class _Sorter:
    """Sorts one plan's still-differing records of a round: counted, or queued for the next."""

    def __init__(
        self,
        scratch: Scratch,
        result: DiffResult,
        writes: PendingWrites,
        plan: CollectionPlan,
        round_: int,
    ) -> None:
        self.scratch, self.result, self.writes, self.plan = scratch, result, writes, plan
        self.round = round_
        self.before = writes.pending(plan)  # read before any object or row of this round
        self.found: list[Difference] = []
        self.hot = self.quiet = 0

    def add(self, difference: Difference) -> None:
        self.found.append(difference)
        if len(self.found) >= RECHECK_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.found:
            return
        after = self.writes.pending(self.plan)  # read after the objects and rows
        for difference in self.found:
            key = self.before.get(difference.uuid, after.get(difference.uuid))
            if key is not None:
                self.scratch.defer(replace(difference, key=key), self.round + 1, quiet=False)
                self.hot += 1
            elif self.round > 0 and self.scratch.was_quiet(self.round, difference):
                self.result.count(difference)
            else:
                self.scratch.defer(difference, self.round + 1, quiet=True)
                self.quiet += 1
        self.found.clear()
