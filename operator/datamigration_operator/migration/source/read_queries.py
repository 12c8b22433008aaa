"""The SQLite side of the read-performance probe: rows sampled evenly over a table's key order,
and the queries an app answers from SQLite before its reads move (by key, by foreign key, a
LIKE text match, a brute-force vector scan).

Every connection is read-only (the Job's snapshot opened immutable, or the live file with
mode=ro), one per thread, so concurrent requests run in parallel inside SQLite.
"""

from __future__ import annotations

import heapq
import json
import math
import operator
import queue
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from datamigration_operator.migration.mapping.model import CollectionPlan
from datamigration_operator.migration.mapping.values import InvalidText
from datamigration_operator.migration.source.reflection import quote_identifier
from datamigration_operator.migration.source.row_lookup import planned_columns
from datamigration_operator.migration.source.snapshot import open_read_only, open_snapshot
from datamigration_operator.migration.source.sqlite_source import decode_text

Row = dict[str, object]


class SqliteReads:
    """Read-only queries on one SQLite file, from up to `connections` threads at once: each
    query borrows one of the connections opened up front (so no request pays for an open)."""

    def __init__(self, path: Path, *, snapshot: bool, connections: int = 1) -> None:
        # a snapshot is our private copy: immutable is exact; the live file is opened mode=ro
        opener = open_snapshot if snapshot else open_read_only
        self._all: list[sqlite3.Connection] = []
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        try:
            for _ in range(max(1, connections)):
                connection = opener(path)
                connection.text_factory = decode_text
                self._all.append(connection)
                self._idle.put(connection)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for connection in self._all:
            connection.close()
        self._all.clear()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        connection = self._idle.get()
        try:
            yield connection
        finally:
            self._idle.put(connection)

    def _rows(self, sql: str, params: Sequence[object], columns: Sequence[str]) -> list[Row]:
        with self._db() as db:
            return [dict(zip(columns, found, strict=True)) for found in db.execute(sql, params)]

    # ---- sampling -------------------------------------------------------------------------

    def sample(self, plan: CollectionPlan, count: int) -> list[Row]:
        """Up to `count` rows at evenly spaced positions of the key order (deterministic: the
        same data gives the same sample), with the planned columns. A key that is not UTF-8
        text never maps to an object, so it is not sampled."""
        table = quote_identifier(plan.table)
        keys = _select(plan.key_columns)
        picked: list[tuple[object, ...]] = []
        with self._db() as db:
            total = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            if total == 0 or count <= 0:
                return []
            taken = min(count, total)
            wanted = [i * total // taken for i in range(taken)]  # distinct: total >= taken
            cursor = db.execute(f"SELECT {keys} FROM {table} ORDER BY {keys}")
            for position, key in enumerate(cursor):
                if position == wanted[len(picked)]:
                    picked.append(tuple(key))
                    if len(picked) == len(wanted):
                        break
        usable = [k for k in picked if not any(isinstance(part, InvalidText) for part in k)]
        return [row for key in usable if (row := self.by_key(plan, key)) is not None]

    # ---- the reads ------------------------------------------------------------------------

    def by_key(self, plan: CollectionPlan, key: Sequence[object]) -> Row | None:
        columns = planned_columns(plan)
        where = " AND ".join(f"{quote_identifier(c)} = ?" for c in plan.key_columns)
        sql = f"SELECT {_select(columns)} FROM {quote_identifier(plan.table)} WHERE {where}"
        found = self._rows(sql, tuple(key), columns)
        return found[0] if found else None

    def by_column(self, plan: CollectionPlan, column: str, value: object, limit: int) -> list[Row]:
        """Rows whose `column` (a foreign key) equals `value`."""
        columns = planned_columns(plan)
        sql = (
            f"SELECT {_select(columns)} FROM {quote_identifier(plan.table)} "
            f"WHERE {quote_identifier(column)} = ? LIMIT ?"
        )
        return self._rows(sql, (value, limit), columns)

    def text_match(
        self, plan: CollectionPlan, columns: Sequence[str], word: str, limit: int
    ) -> list[Row]:
        """Rows where any of `columns` contains `word` (LIKE: what an app without a full-text
        index runs for a keyword search)."""
        selected = planned_columns(plan)
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = " OR ".join(f"{quote_identifier(c)} LIKE ? ESCAPE '\\'" for c in columns)
        sql = (
            f"SELECT {_select(selected)} FROM {quote_identifier(plan.table)} "
            f"WHERE {matches} LIMIT ?"
        )
        return self._rows(sql, (*([pattern] * len(columns)), limit), selected)

    def vector_count(self, plan: CollectionPlan) -> int:
        """Rows with a stored vector: what one brute-force search scans."""
        assert plan.vector_column is not None
        column = quote_identifier(plan.vector_column)
        sql = f"SELECT count(*) FROM {quote_identifier(plan.table)} WHERE {column} IS NOT NULL"
        with self._db() as db:
            return int(db.execute(sql).fetchone()[0])

    def nearest(
        self, plan: CollectionPlan, vector: Sequence[float], limit: int
    ) -> list[tuple[float, tuple[object, ...]]]:
        """(cosine distance, key) of the `limit` rows nearest `vector`, nearest first: a scan
        of every stored vector, as SQLite has no vector index. Stored vectors that cannot be
        read or have another length are no candidates."""
        assert plan.vector_column is not None
        column = quote_identifier(plan.vector_column)
        query_norm = math.sqrt(sum(x * x for x in vector))
        kept: list[tuple[float, int, tuple[object, ...]]] = []  # min-heap of -distance
        sql = (
            f"SELECT {column}, {_select(plan.key_columns)} FROM {quote_identifier(plan.table)} "
            f"WHERE {column} IS NOT NULL"
        )
        with self._db() as db:
            for index, (stored, *key) in enumerate(db.execute(sql)):
                floats = _floats(stored)
                if floats is None or len(floats) != len(vector):
                    continue
                norms = query_norm * math.sqrt(sum(x * x for x in floats))
                distance = 1.0 - sum(map(operator.mul, vector, floats)) / norms if norms else 1.0
                if len(kept) < limit:
                    heapq.heappush(kept, (-distance, index, tuple(key)))
                elif -distance > kept[0][0]:
                    heapq.heapreplace(kept, (-distance, index, tuple(key)))
        return [(-negated, key) for negated, _, key in sorted(kept, reverse=True)]


def _select(columns: Sequence[str]) -> str:
    return ", ".join(quote_identifier(c) for c in columns)


def _floats(stored: object) -> tuple[float, ...] | None:
    """A stored vector as floats: a float32 BLOB or a JSON array in TEXT; None otherwise."""
    if isinstance(stored, bytes):
        if not stored or len(stored) % 4:
            return None
        return struct.unpack(f"<{len(stored) // 4}f", stored)
    if isinstance(stored, str):
        try:
            items = json.loads(stored)
        except ValueError:
            return None
        if isinstance(items, list) and all(type(i) in (int, float) for i in items):
            return tuple(float(i) for i in items)
    return None
