"""Outbox capture by SQLite triggers: every insert, update and delete of a mapped table that runs
on the app's engine writes its outbox row inside the same statement, so it commits or rolls
back with the change.

Whatever issued the change is captured: ORM flushes, bulk `session.execute(insert/update/
delete(...))`, `text()` and `exec_driver_sql`, Core statements on `engine.connect()`, UPSERT
(`ON CONFLICT`), `INSERT ... SELECT`, and the rows SQLite's own foreign-key actions delete or
rewrite (`ON DELETE CASCADE`, `ON UPDATE CASCADE`, SET NULL/DEFAULT), which fire triggers too.

The triggers are TEMP: each connection of the app's engine gets its own, and no other process
sees them (the sqlite3 shell, another app: the dual-write phase's sync Job repairs those
writes). Their WHEN clause asks this process's mode (`datamigration_capturing()`, a function
registered on the connection), so capture follows the mounted ConfigMap per process, as a
rolling update needs. Keys are encoded by Python (`datamigration_outbox_key`) exactly as the
outbox reads them back, from SQLite's own values (text as raw bytes, so invalid UTF-8 keeps
its bytes).

A row that `INSERT OR REPLACE` removes because it collides on a UNIQUE column other than the
key fires delete triggers only under `PRAGMA recursive_triggers`, which is turned on when the
database has no triggers of its own (whose behaviour it could change); otherwise such a removal
is not captured (validate reports it, the sync Job repairs it) and a warning says so.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.dualwrite.outbox import encode_key
from datamigration_operator.migration.app_engine import OUTBOX_TABLE
from datamigration_operator.migration.mapping import ROWID, CollectionPlan
from datamigration_operator.migration.mapping.values import InvalidText

log = logging.getLogger(__name__)

CAPTURING_FUNCTION: Final = "datamigration_capturing"
KEY_FUNCTION: Final = "datamigration_outbox_key"
TRIGGER_PREFIX: Final = "datamigration_capture_"
_STATE: Final = "datamigration_capture"
# seconds since the epoch, as time.time() gives them (julianday is UTC)
_NOW: Final = "((julianday('now') - 2440587.5) * 86400.0)"

# engines with an attached capture: two would replace each other's functions and triggers
_attached: weakref.WeakKeyDictionary[sa.Engine, TriggerCapture] = weakref.WeakKeyDictionary()
_attached_lock = threading.Lock()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _key_call(row: str, columns: Sequence[str]) -> str:
    """`datamigration_outbox_key(typeof(c), value, ...)` over OLD or NEW: text goes as its raw
    bytes (the function decodes it, keeping invalid UTF-8 as InvalidText, as the Jobs do)."""
    arguments = []
    for name in columns:
        column = f"{row}.{'rowid' if name == ROWID else _identifier(name)}"
        arguments += [
            f"typeof({column})",
            f"CASE typeof({column}) WHEN 'text' THEN CAST({column} AS BLOB) ELSE {column} END",
        ]
    return f"{KEY_FUNCTION}({', '.join(arguments)})"


def trigger_statements(plan: CollectionPlan, number: int) -> list[str]:
    """CREATE TEMP TRIGGER statements that record every change of `plan.table` in the outbox;
    an update that changes the key records the old key's delete and the new key's upsert."""
    table = _literal(plan.table)
    target = f"main.{_identifier(plan.table)}"
    columns = f'{_identifier(OUTBOX_TABLE)} ("table", "key", "op", "created_at")'
    name = f"{TRIGGER_PREFIX}{number}"
    keys = list(plan.key_columns)
    same_key = " AND ".join(
        f"OLD.{c} IS NEW.{c}" for c in ("rowid" if k == ROWID else _identifier(k) for k in keys)
    )

    def entry(row: str, op: str) -> str:
        return f"INSERT INTO {columns} VALUES ({table}, {_key_call(row, keys)}, '{op}', {_NOW});"

    when = f"WHEN {CAPTURING_FUNCTION}()"
    return [
        f"CREATE TEMP TRIGGER {name}_insert AFTER INSERT ON {target} {when} "
        f"BEGIN {entry('NEW', 'upsert')} END",
        f"CREATE TEMP TRIGGER {name}_update AFTER UPDATE ON {target} {when} BEGIN "
        f"INSERT INTO {columns} SELECT {table}, {_key_call('OLD', keys)}, 'delete', {_NOW} "
        f"WHERE NOT ({same_key}); {entry('NEW', 'upsert')} END",
        f"CREATE TEMP TRIGGER {name}_delete AFTER DELETE ON {target} {when} "
        f"BEGIN {entry('OLD', 'delete')} END",
    ]


def outbox_key(*typed: object) -> str:
    """The outbox's JSON key of (typeof, value) pairs as the triggers pass them."""
    parts: list[object] = []
    for kind, value in zip(typed[::2], typed[1::2], strict=True):
        if kind == "text":
            assert isinstance(value, bytes)
            try:
                parts.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                parts.append(InvalidText(value))
        else:
            parts.append(value)
    return encode_key(tuple(parts))


@dataclass
class _ConnectionState:
    """Which capture installed one DBAPI connection's triggers, at which schema version."""

    capture: TriggerCapture
    schema_version: int = -1


class TriggerCapture:
    """Installs the capture triggers on every connection of `engine` while attached.

    It listens on the pool's checkout (once per Session transaction), not on the Connection's
    begin/commit: Connection events put every statement of the app on SQLAlchemy's slower
    dispatching path (about 20 us of CPU per transaction here, with the app in sqlite_only).
    """

    def __init__(
        self,
        engine: sa.Engine,
        plans: Mapping[str, CollectionPlan],
        capturing: Callable[[], bool],
        *,
        on_capture: Callable[[], None] | None = None,
    ) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError(f"outbox capture needs a SQLite engine, not {engine.url!r}")
        self.engine = engine
        self._plans = list(plans.values())
        self._capturing = capturing
        self._on_capture = on_capture
        self._attached = False
        self._warned = False

    def attach(self) -> None:
        with _attached_lock:
            other = _attached.get(self.engine)
            if other is not None and other is not self:
                raise ValueError("this engine is already captured by another DualWrite")
            _attached[self.engine] = self
        event.listen(self.engine, "checkout", self._checkout)
        self._attached = True

    def detach(self) -> None:
        """Stops capturing: the connections' triggers stay, but their WHEN is false from now on
        and the next capture attached to the engine replaces them."""
        self._attached = False
        event.remove(self.engine, "checkout", self._checkout)
        with _attached_lock:
            if _attached.get(self.engine) is self:
                del _attached[self.engine]

    def _checkout(self, dbapi: Any, record: Any, _proxy: Any) -> None:
        state: _ConnectionState | None = record.info.get(_STATE)
        if state is None or state.capture is not self:
            state = record.info[_STATE] = _ConnectionState(self)
            self._register_functions(dbapi)
        version = int(dbapi.execute("PRAGMA main.schema_version").fetchone()[0])
        if version != state.schema_version:
            # first use, or the schema changed (a table re-created by a migration tool takes
            # its triggers with it): (re)install for the mapped tables that exist now
            self._install(dbapi)
            state.schema_version = version

    # --- installation ---------------------------------------------------------------------

    def _register_functions(self, dbapi: Any) -> None:
        def capturing() -> int:
            if self._attached and self._capturing():
                if self._on_capture is not None:
                    # the drainer lingers before it reads: by then this transaction committed
                    # (if not, the entry is drained at its next look, an idle interval later)
                    self._on_capture()
                return 1
            return 0

        dbapi.create_function(CAPTURING_FUNCTION, 0, capturing)
        dbapi.create_function(KEY_FUNCTION, -1, outbox_key, deterministic=True)

    def _install(self, dbapi: Any) -> None:
        existing = {
            fold_sql_name(str(row[0]))
            for row in dbapi.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")
        }
        statements = [
            f"DROP TRIGGER IF EXISTS temp.{_identifier(str(row[0]))}"
            for row in dbapi.execute(
                "SELECT name FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE ?",
                (TRIGGER_PREFIX + "%",),
            )
        ]
        for number, plan in enumerate(self._plans):
            if fold_sql_name(plan.table) in existing:
                statements += trigger_statements(plan, number)
            else:
                log.warning("dual-write: table %s does not exist (yet); not captured", plan.table)
        for statement in statements:
            dbapi.execute(statement)
        self._let_replace_fire_delete_triggers(dbapi)

    def _let_replace_fire_delete_triggers(self, dbapi: Any) -> None:
        """recursive_triggers on, unless the app's own triggers could behave differently."""
        if not dbapi.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'trigger'").fetchone():
            dbapi.execute("PRAGMA recursive_triggers = ON")
        elif not self._warned:
            self._warned = True
            log.warning(
                "dual-write: the database has triggers of its own, so recursive_triggers stays "
                "as it is; a row INSERT OR REPLACE removes under another key is not captured"
            )
