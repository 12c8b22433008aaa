"""The read side of a migration: a SQLite file through SQLAlchemy Core, consistent and paged.

snapshot=True copies the database with the online-backup API into scratch space and reads the
copy; snapshot=False reads the live file inside one read transaction held for the whole run.
Either way every page sees the same state of the database. See snapshot.py for how the file is
opened without writing to it (read-only mounts, WAL).

TEXT values come back as str when they are valid UTF-8 (the fast path) and as InvalidText (raw
bytes) otherwise, which the mapping then reports by key; NUL characters survive either way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, cast

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from datamigration_operator.migration.mapping.model import (
    ROWID,
    CollectionPlan,
    ColumnStats,
    TableInfo,
)
from datamigration_operator.migration.mapping.values import InvalidText, to_date
from datamigration_operator.migration.source.keyset import (
    keyset_condition,
    page_statement,
    selected_columns,
)
from datamigration_operator.migration.source.reflection import quote_identifier, reflect_tables
from datamigration_operator.migration.source.snapshot import (
    SourceError,
    backup_to,
    open_read_only,
    open_snapshot,
)

Row = dict[str, object]
STATS_THREADS = 2
# Cheap pre-filter before every value is parsed: what to_date accepts starts like this.
_DATE_GLOB: Final = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


def _is_date(raw: bytes) -> bool:
    try:
        to_date(raw.decode("utf-8"))
    except ValueError:
        return False
    return True


def decode_text(raw: bytes) -> str | InvalidText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidText(raw)


class SqliteSource:
    """Reads the tables of one SQLite file; not thread-safe (one reader per source)."""

    def __init__(self, path: Path, *, snapshot: bool, scratch_dir: Path | None = None) -> None:
        self.path = path
        self.snapshot_path: Path | None = None
        live = open_read_only(path)
        if snapshot:
            if scratch_dir is None:
                live.close()
                raise SourceError("snapshot=True needs a scratch directory")
            try:
                self.snapshot_path = backup_to(live, scratch_dir)
            finally:
                live.close()
            self._raw = open_snapshot(self.snapshot_path)
        else:
            self._raw = live
        raw = self._raw
        self._engine = sa.create_engine(
            "sqlite+pysqlite://", creator=lambda: raw, poolclass=StaticPool
        )
        self._connection = self._engine.connect()
        # One read transaction for the run: every page sees the same database state.
        self._connection.exec_driver_sql("BEGIN")
        self._tables = reflect_tables(raw)

    def tables(self) -> dict[str, TableInfo]:
        return dict(self._tables)

    def _table(self, name: str) -> TableInfo:
        table = self._tables.get(name)
        if table is None:
            raise SourceError(f"table {name} does not exist in {self.path.name}")
        return table

    def count(self, table: str) -> int:
        name = quote_identifier(self._table(table).name)
        return int(self._connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())

    def column_stats(
        self, table: str, columns: Sequence[str] | None = None
    ) -> dict[str, ColumnStats]:
        """Storage classes and integer range of each column, in one scan of the table.

        On a snapshot (a private copy nobody writes, so any connection sees what ours does)
        the columns are split over STATS_THREADS connections: SQLite runs the scans in
        parallel (no GIL held), which halves the planning time of a large table.
        """
        info = self._table(table)
        names = [c.name for c in info.columns] if columns is None else list(columns)
        if not names:
            return {}
        snapshot = self.snapshot_path
        if snapshot is None or len(names) < 2:
            query = _stats_query(info.name, names)
            return _stats_of(names, tuple(self._connection.exec_driver_sql(query).one()))

        def scan(part: list[str]) -> dict[str, ColumnStats]:
            connection = open_snapshot(snapshot)
            try:
                row = connection.execute(_stats_query(info.name, part)).fetchone()
            finally:
                connection.close()
            return _stats_of(part, tuple(row))

        parts = [names[start::STATS_THREADS] for start in range(STATS_THREADS)]
        with ThreadPoolExecutor(STATS_THREADS, thread_name_prefix="column-stats") as pool:
            found: dict[str, ColumnStats] = {}
            for stats in pool.map(scan, [part for part in parts if part]):
                found.update(stats)
        return {name: found[name] for name in names}

    def date_columns(self, table: str, stats: Mapping[str, ColumnStats]) -> frozenset[str]:
        """The columns holding text only (and some), every value of which to_date converts:
        one scan counts the values shaped like a date in every candidate column, then only
        the columns where all are get their distinct values parsed."""
        name = quote_identifier(self._table(table).name)
        candidates = [
            column
            for column, found in stats.items()
            if found.texts and not (found.integers or found.reals or found.blobs)
        ]
        if not candidates:
            return frozenset()
        counts = ", ".join(
            f"count(CASE WHEN {quote_identifier(c)} GLOB ? THEN 1 END)" for c in candidates
        )
        shaped = self._raw.execute(
            f"SELECT {counts} FROM {name}", [_DATE_GLOB] * len(candidates)
        ).fetchone()
        dates = set()
        for column, count in zip(candidates, shaped, strict=True):
            if count != stats[column].texts:
                continue
            col = quote_identifier(column)
            # As BLOB: text that is not UTF-8 is no date, and must not stop the scan.
            values = self._raw.execute(
                f"SELECT DISTINCT CAST({col} AS BLOB) FROM {name} WHERE {col} NOT NULL"
            )
            if all(_is_date(value) for (value,) in values):
                dates.add(column)
        return frozenset(dates)

    def rows(
        self,
        plan: CollectionPlan,
        *,
        after: tuple[object, ...] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Row]]:
        """Batches of row dicts (key columns included) in key order, after `after` if given."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        table = self._table(plan.table)
        columns = _plan_columns(table, plan)
        while True:
            statement = page_statement(table.name, plan.key_columns, columns, after, batch_size)
            page = self._fetch(statement)
            if not page:
                return
            batch = [dict(zip(columns, values)) for values in page]  # noqa: B905 (same width)
            yield batch
            if len(page) < batch_size:
                return
            after = tuple(page[-1][: len(plan.key_columns)])

    def storage_pages(
        self, plan: CollectionPlan, *, batch_size: int = 1000
    ) -> tuple[list[str], Iterator[list[tuple[object, ...]]]]:
        """Every row of the plan's table as tuples of the returned columns (key columns first),
        in storage order: rowid order for a rowid table, key order for a WITHOUT ROWID table.

        For readers that need every row once but not key order (validation sorts by uuid
        anyway): walking the table's own b-tree skips the key index's lookup per row, a third
        of the cost of rows(). Pages are keyset pages (on the rowid, or on the key) read through
        the sqlite3 connection with one prepared statement; a tuple may hold a trailing rowid.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        table = self._table(plan.table)
        columns = _plan_columns(table, plan)
        rowid = None
        if not table.without_rowid:
            # an alias of the rowid that no column shadows (all three shadowed: use the key)
            aliases = ("_rowid_", "rowid", "oid")
            rowid = next((a for a in aliases if table.column(a) is None), None)
        if rowid is not None:
            order = [rowid]
            selected = ", ".join([*map(quote_identifier, columns), quote_identifier(rowid)])
        else:
            order = list(plan.key_columns)
            selected = ", ".join(map(quote_identifier, columns))
        head = f"SELECT {selected} FROM {quote_identifier(table.name)}"
        tail = f" ORDER BY {', '.join(map(quote_identifier, order))} LIMIT {batch_size}"
        width = len(order)

        def pages() -> Iterator[list[tuple[object, ...]]]:
            page = self._fetch_raw(head + tail, ())
            while page:
                yield page
                if len(page) < batch_size:
                    return
                last = page[-1]
                after = last[-1:] if rowid is not None else last[:width]
                where, params = keyset_condition(order, after)
                page = self._fetch_raw(f"{head} WHERE {where}{tail}", params)

        return columns, pages()

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of `sql` on this source's connection (inside the run's read transaction, on
        the snapshot when there is one)."""
        return self._fetch_raw(sql, params)

    def _fetch_raw(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        """_fetch for SQL text on the sqlite3 connection (which caches the prepared statement)."""
        raw = self._raw
        try:
            return raw.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if "Could not decode" not in str(error):
                raise
        raw.text_factory = decode_text
        try:
            return raw.execute(sql, params).fetchall()
        finally:
            raw.text_factory = str

    def _fetch(self, statement: sa.Select[tuple[object, ...]]) -> list[tuple[object, ...]]:
        try:
            return self._fetch_tuples(statement)
        except (sqlite3.OperationalError, sa.exc.OperationalError) as error:
            # sqlite3 raises it while fetching; SQLAlchemy wraps it when the first row fails.
            if "Could not decode" not in str(error):
                raise
        # A page with TEXT that is not UTF-8: read it again, keeping such values as raw bytes.
        self._raw.text_factory = decode_text
        try:
            return self._fetch_tuples(statement)
        finally:
            self._raw.text_factory = str

    def _fetch_tuples(self, statement: sa.Select[tuple[object, ...]]) -> list[tuple[object, ...]]:
        # The columns are untyped, so SQLAlchemy would not convert anything: take the driver's
        # tuples straight from the cursor and skip building Row objects (a third of the cost).
        result = self._connection.execute(statement)
        try:
            rows = cast(list[tuple[object, ...]], result.cursor.fetchall())
        finally:
            result.close()
        return rows

    def close(self) -> None:
        self._connection.close()
        self._engine.dispose()
        self._raw.close()
        if self.snapshot_path is not None:
            self.snapshot_path.unlink(missing_ok=True)
            self.snapshot_path = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _plan_columns(table: TableInfo, plan: CollectionPlan) -> list[str]:
    """The columns a plan reads, key columns first; SourceError when the table lacks one."""
    planned = [p.column for p in plan.properties] + [r.column for r in plan.references]
    if plan.vector_column is not None:
        planned.append(plan.vector_column)
    columns = selected_columns(plan.key_columns, planned)
    unknown = [c for c in columns if c != ROWID and table.column(c) is None]
    if unknown:
        raise SourceError(f"table {table.name} has no column {', '.join(unknown)}")
    return columns


def _stats_query(table: str, names: Sequence[str]) -> str:
    # count(c) is cheap; TEXT values and NULLs follow from it (a fifth less work than a typeof
    # test each).
    parts = ["count(*)"]
    for name in names:
        col = quote_identifier(name)
        parts += [
            f"count({col})",
            f"sum(typeof({col}) = 'integer')",
            f"sum(typeof({col}) = 'real')",
            f"sum(typeof({col}) = 'blob')",
            f"min(CASE WHEN typeof({col}) = 'integer' THEN {col} END)",
            f"max(CASE WHEN typeof({col}) = 'integer' THEN {col} END)",
        ]
    return f"SELECT {', '.join(parts)} FROM {quote_identifier(table)}"


def _stats_of(names: Sequence[str], row: Sequence[Any]) -> dict[str, ColumnStats]:
    total = row[0]
    stats = {}
    for index, name in enumerate(names):
        values, ints, reals, blobs, low, high = row[1 + index * 6 : 7 + index * 6]
        ints, reals, blobs = ints or 0, reals or 0, blobs or 0
        stats[name] = ColumnStats(
            integers=ints,
            reals=reals,
            texts=values - ints - reals - blobs,
            blobs=blobs,
            nulls=total - values,
            min_integer=low,
            max_integer=high,
        )
    return stats
