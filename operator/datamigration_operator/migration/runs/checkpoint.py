"""Resume positions: the table in progress and the key of the last row of the last flushed batch.

The checkpoint lives in status.progress.checkpoint (Jobs) or a JSON file (`dmctl copy
--checkpoint-file`). The status schema allows `int | str`: a single-column integer key is stored
as it is, every other key as the JSON array string of values.key_to_json, which keeps each
part's storage class so the resumed keyset query compares the same way.

A copy with deferred references (a table referencing itself, or a cycle) makes a second pass
once every table is done: there `table` names a table already in tables_done.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from datamigration_operator.api.status import Checkpoint
from datamigration_operator.migration.mapping.values import Key, key_from_json, key_to_json


class CheckpointError(ValueError):
    """A checkpoint that does not fit the tables being copied."""


def encode_key(key: Key) -> int | str:
    if len(key) == 1 and type(key[0]) is int:
        return key[0]
    try:
        return json.dumps(key_to_json(key), separators=(",", ":"))
    except ValueError as error:
        raise CheckpointError(f"cannot checkpoint key: {error}") from None


def decode_key(value: int | str, key_columns: Sequence[str]) -> Key:
    if isinstance(value, int):
        parts: Key = (value,)
    else:
        try:
            decoded = json.loads(value)
            parts = key_from_json(decoded) if isinstance(decoded, list) else ()
        except ValueError:
            parts = ()
    if len(parts) != len(key_columns):
        raise CheckpointError(
            f"checkpoint key {value!r} does not match the key columns {', '.join(key_columns)}"
        )
    return parts


def advance(checkpoint: Checkpoint, table: str, last_key: Key) -> Checkpoint:
    return checkpoint.model_copy(update={"table": table, "last_key": encode_key(last_key)})


def finish_table(checkpoint: Checkpoint, table: str) -> Checkpoint:
    done = [*checkpoint.tables_done, table] if table not in checkpoint.tables_done else None
    return checkpoint.model_copy(
        update={"table": None, "last_key": None, "tables_done": done or checkpoint.tables_done}
    )


def advance_references(checkpoint: Checkpoint, table: str | None) -> Checkpoint:
    """The copy's second pass (deferred references) starts on `table`, or has ended (None).

    The second pass runs once every table is in tables_done, so a checkpoint whose table is
    in tables_done is a position in the second pass; moving to another table starts it from
    its first row, staying on the same one keeps the position.
    """
    if table is not None and checkpoint.table == table:
        return checkpoint
    return checkpoint.model_copy(update={"table": table, "last_key": None})


def resume_after(
    checkpoint: Checkpoint | None, table: str, key_columns: Sequence[str]
) -> Key | None:
    """The key to continue after in `table` (None: from the start)."""
    if checkpoint is None or checkpoint.table != table or checkpoint.last_key is None:
        return None
    return decode_key(checkpoint.last_key, key_columns)


class CheckpointFile:
    """A checkpoint on local disk, replaced atomically so a kill never leaves half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Checkpoint | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return Checkpoint.model_validate_json(text)
        except ValueError as error:
            raise CheckpointError(f"{self.path} is not a checkpoint: {error}") from None

    def save(self, checkpoint: Checkpoint) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(checkpoint.model_dump_json(by_alias=True))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
