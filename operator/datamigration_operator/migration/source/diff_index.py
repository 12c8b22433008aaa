"""The SQLite side of a diff: (uuid, content hash, key) of every row, sorted by uuid, on disk.

`index_rows` writes the unsorted entries of one table into a scratch table; SQLite's external
merge sort then orders them with bounded memory. When the source is a private snapshot file,
`SourceIndexProcess` does all of this in a separate process, one table after another, while
the parent reads and hashes the Weaviate side: the two halves of a validation then use both
cores instead of sharing one GIL. The child reads the same snapshot file (nobody writes it),
so it sees exactly the rows the parent would.
"""

from __future__ import annotations

import base64
import json
import pickle
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from hashlib import blake2b
from pathlib import Path
from typing import Any

from datamigration_operator.migration.mapping import (
    CollectionPlan,
    ObjectBuilder,
    RowError,
    object_uuid,
)
from datamigration_operator.migration.mapping.canonical import encode_present, hash_canonical
from datamigration_operator.migration.mapping.values import Key, key_from_json, key_to_json

Entry = tuple[bytes, bytes | None, str | int]
"""(uuid bytes, content hash or None when the row cannot be mapped, key cell)."""
SORT_FETCH = 5_000
# Rows per multi-row INSERT of index_tuples: 300 parameters, far below SQLite's limit (32766).
INSERT_ROWS = 100
# The child's page cache, which also bounds SQLite's in-memory sort (larger sorts spill to
# temp files and merge): small and fixed, so its memory does not grow with the table.
SCRATCH_CACHE_KIB = 4_096


def key_cell(key: Key) -> str | int:
    """The key as stored in the scratch file (untyped columns keep ints as ints). The usual
    one-column text or integer key skips JSON, a tenth of the cost of indexing a row."""
    if len(key) == 1:
        part = key[0]
        if type(part) is str:
            return "s:" + part
        if type(part) is int and -(2**63) <= part < 2**63:
            return part
    return "j:" + json.dumps(key_to_json(key), ensure_ascii=False, separators=(",", ":"))


def key_from(cell: str | int | None) -> Key | None:
    if cell is None:
        return None
    if type(cell) is int:
        return (cell,)
    assert isinstance(cell, str)
    if cell.startswith("s:"):
        return (cell[2:],)
    return key_from_json(json.loads(cell[2:]))


def index_rows(
    db: sqlite3.Connection,
    table: str,
    plan: CollectionPlan,
    pages: Iterator[list[dict[str, Any]]],
    namespace: str,
) -> None:
    """Inserts the entries of every row into `table` (uuid, hash, key), in one transaction."""
    parts_of = ObjectBuilder(plan, migration_namespace=namespace).parts
    db.execute("BEGIN")
    for rows in pages:
        entries: list[Entry] = []
        for row in rows:
            try:
                key, uuid, properties, references, vector = parts_of(row)
            except RowError as error:
                # unmappable: no object can equal it, so it is missing or mismatched
                key = error.key
                uuid = object_uuid(namespace, plan.table, key).bytes
                entries.append((uuid, None, key_cell(key)))
                continue
            content = hash_canonical(properties, references, vector)
            entries.append((uuid, content, key_cell(key)))
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", entries)
    db.execute("COMMIT")


def index_tuples(
    db: sqlite3.Connection,
    table: str,
    plan: CollectionPlan,
    columns: Sequence[str],
    pages: Iterator[list[tuple[object, ...]]],
    namespace: str,
) -> None:
    """index_rows over rows as tuples of `columns` (SqliteSource.storage_pages): the child's
    hot path, the same entries without a dict, a call to parts() or to key_cell per row, and
    INSERT_ROWS rows per INSERT statement (a third of executemany's cost per row)."""
    parts_of = ObjectBuilder(plan, migration_namespace=namespace).tuple_parts(columns)
    statements: dict[int, str] = {}
    db.execute("BEGIN")
    for rows in pages:
        values: list[object] = []  # the entries of the page, flattened for the VALUES list
        extend = values.extend
        for row in rows:
            try:
                key, uuid, properties, references, vector = parts_of(row)
            except RowError as error:
                key = error.key
                extend((object_uuid(namespace, plan.table, key).bytes, None, key_cell(key)))
                continue
            content = blake2b(encode_present(properties, references, vector), digest_size=16)
            part = key[0] if len(key) == 1 else None
            cell = "s:" + part if type(part) is str else key_cell(key)  # key_cell, inlined
            extend((uuid, content.digest(), cell))
        for start in range(0, len(values), 3 * INSERT_ROWS):
            chunk = values[start : start + 3 * INSERT_ROWS]
            count = len(chunk) // 3
            statement = statements.get(count)
            if statement is None:
                places = ", ".join(["(?, ?, ?)"] * count)
                statement = statements[count] = f"INSERT INTO {table} VALUES {places}"
            db.execute(statement, chunk)
    db.execute("COMMIT")


def sorted_entries(db: sqlite3.Connection, query: str) -> Iterator[Entry]:
    cursor = db.execute(query)
    while chunk := cursor.fetchmany(SORT_FETCH):
        yield from chunk


def open_scratch(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA temp_store=FILE")
    db.execute(f"PRAGMA cache_size=-{SCRATCH_CACHE_KIB}")
    return db


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _index_tables(
    sqlite_path: Path,
    plans: Sequence[CollectionPlan],
    namespace: str,
    batch_size: int,
    paths: Sequence[Path],
    report: Callable[[str], None],
) -> None:
    """The child: each table into its own file, table `sorted` in uuid order (rowid order)."""
    from datamigration_operator.migration.source.sqlite_source import SqliteSource

    source = SqliteSource(sqlite_path, snapshot=False)
    try:
        for index, (plan, path) in enumerate(zip(plans, paths, strict=True)):
            db = open_scratch(path)
            try:
                db.execute("CREATE TABLE source (uuid BLOB, hash BLOB, key)")
                columns, pages = source.storage_pages(plan, batch_size=batch_size)
                index_tuples(db, "source", plan, columns, pages, namespace)
                db.execute("CREATE TABLE sorted (uuid BLOB, hash BLOB, key)")
                db.execute("INSERT INTO sorted SELECT * FROM source ORDER BY uuid")
                db.execute("DROP TABLE source")
            finally:
                db.close()
            report(f"done {index}")
    finally:
        source.close()


def child_main() -> None:
    """`python -m datamigration_operator.migration.source.diff_index`: the job arrives pickled on
    stdin; "done N" lines (then "error" and a pickled exception, base64) go to stdout."""
    out = sys.stdout

    def report(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    try:
        job = pickle.loads(sys.stdin.buffer.read())
        _index_tables(**job, report=report)
    except BaseException as error:
        try:
            payload = pickle.dumps(error)
        except Exception:  # an unpicklable error still reaches the parent as text
            payload = pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))
        report("error " + base64.b64encode(payload).decode("ascii"))


class SourceIndexProcess:
    """Indexes the tables of a snapshot file in a child process; `sorted(index)` streams one
    table's entries in uuid order once the child has finished it."""

    def __init__(
        self,
        sqlite_path: Path,
        plans: Sequence[CollectionPlan],
        *,
        namespace: str,
        batch_size: int,
        scratch_dir: Path,
    ) -> None:
        stamp = time.time_ns()
        self.paths = [scratch_dir / f"source-{stamp}-{i}.sqlite" for i in range(len(plans))]
        self._finished: set[int] = set()
        job = {
            "sqlite_path": sqlite_path,
            "plans": list(plans),
            "namespace": namespace,
            "batch_size": batch_size,
            "paths": self.paths,
        }
        # a fresh interpreter, not fork: the parent holds gRPC channels and threads
        self._process = subprocess.Popen(
            [sys.executable, "-m", _MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(pickle.dumps(job))
        self._process.stdin.close()

    def _wait(self, index: int) -> None:
        assert self._process.stdout is not None
        while index not in self._finished:
            line = self._process.stdout.readline().decode("ascii").strip()
            if not line:
                code = self._process.wait()
                raise RuntimeError(f"the SQLite indexing process exited with code {code}")
            kind, _, value = line.partition(" ")
            if kind == "error":
                raise pickle.loads(base64.b64decode(value))
            self._finished.add(int(value))

    def sorted(self, index: int) -> Iterator[Entry]:
        self._wait(index)
        db = sqlite3.connect(self.paths[index])
        try:
            yield from sorted_entries(db, "SELECT uuid, hash, key FROM sorted ORDER BY rowid")
        finally:
            db.close()
            _remove(self.paths[index])

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        for path in self.paths:
            _remove(path)


_MODULE = "datamigration_operator.migration.source.diff_index"

if __name__ == "__main__":
    child_main()
