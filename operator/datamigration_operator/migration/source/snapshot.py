"""Opening the SQLite file without writing to it, and snapshotting it with the online-backup API.

The source is opened read-only (`file:...?mode=ro`): the Job mounts the claim read-only and must
never change the app's database. A WAL database on a read-only directory whose -shm file does not
exist cannot be opened that way; then, and only when no unmerged -wal content exists, it is
opened with `immutable=1` (SQLite then skips locking, which is safe only for a file nobody
writes). A non-empty -wal there is refused: immutable would silently skip its transactions.

The snapshot is one `Connection.backup` step (pages=-1): a single read transaction, so the copy
is consistent; in WAL mode writers keep going meanwhile (a rollback-journal database blocks them
for the copy's duration).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from urllib.parse import quote


class SourceError(RuntimeError):
    """The SQLite file cannot be opened or snapshotted; the message says why (no data in it)."""


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the database at `path` (autocommit mode; see module doc)."""
    if not path.is_file():
        raise SourceError(f"SQLite file {path} does not exist")
    try:
        connection = _connect(_uri(path, mode="ro"))
        connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        return connection
    except sqlite3.DatabaseError as error:
        first_error = error
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise SourceError(
            f"cannot open {path} read-only ({first_error}); its write-ahead log {wal.name} holds "
            "transactions that an immutable open would skip: mount the claim so the -shm file "
            "can be read, or checkpoint the database"
        )
    try:
        connection = _connect(_uri(path, mode="ro", immutable="1"))
        connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.DatabaseError as error:
        raise SourceError(f"cannot open {path} as a SQLite database: {error}") from None
    return connection


def _connect(uri: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN ourselves, so one read transaction spans the run.
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def backup_to(source: sqlite3.Connection, scratch_dir: Path) -> Path:
    """Copies `source` into a new file under `scratch_dir` in one read transaction."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    target_path = scratch_dir / f"snapshot-{uuid.uuid4().hex}.sqlite"
    target = sqlite3.connect(target_path)
    # Scratch: a crash restarts the Job with a new snapshot, so skip the fsync (~20% of the copy).
    target.execute("PRAGMA synchronous = OFF")
    try:
        source.backup(target, pages=-1)
    except sqlite3.DatabaseError as error:
        target.close()
        target_path.unlink(missing_ok=True)
        raise SourceError(f"snapshot into {scratch_dir} failed: {error}") from None
    # The copy inherits WAL mode; a rollback journal leaves no -wal/-shm files beside it.
    target.execute("PRAGMA journal_mode = DELETE")
    target.close()
    return target_path


def open_snapshot(path: Path) -> sqlite3.Connection:
    """Our private copy: nobody else writes it, so immutable (no locks, no -shm) is exact."""
    try:
        connection = _connect(_uri(path, mode="ro", immutable="1"))
        connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.DatabaseError as error:
        raise SourceError(f"cannot open the snapshot {path.name}: {error}") from None
    return connection
