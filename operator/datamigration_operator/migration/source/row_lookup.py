"""Rows by key from the live SQLite file, for the second look of validate and sync's repairs.

Each lookup is its own short read, so it sees what the application committed since the diff's
snapshot; that is the point of looking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datamigration_operator.migration.mapping.model import CollectionPlan
from datamigration_operator.migration.mapping.values import InvalidText, Key
from datamigration_operator.migration.source.keyset import selected_columns
from datamigration_operator.migration.source.reflection import quote_identifier
from datamigration_operator.migration.source.snapshot import open_read_only
from datamigration_operator.migration.source.sqlite_source import decode_text

# SQLite's default limit of bound parameters is 32766; stay well below with composite keys.
MAX_PARAMETERS = 900


def planned_columns(plan: CollectionPlan) -> list[str]:
    columns = [p.column for p in plan.properties] + [r.column for r in plan.references]
    if plan.vector_column is not None:
        columns.append(plan.vector_column)
    return selected_columns(plan.key_columns, columns)


class RowLookup:
    def __init__(self, path: Path) -> None:
        self._db = open_read_only(path)
        self._db.text_factory = decode_text

    def close(self) -> None:
        self._db.close()

    def __call__(self, plan: CollectionPlan, keys: Sequence[Key]) -> dict[Key, dict[str, object]]:
        columns = planned_columns(plan)
        width = len(plan.key_columns)
        select = ", ".join(quote_identifier(c) for c in columns)
        table = quote_identifier(plan.table)
        key_sql = ", ".join(quote_identifier(c) for c in plan.key_columns)
        found: dict[Key, dict[str, object]] = {}
        # a key that is not UTF-8 text never maps to an object; there is nothing to look up
        keys = [k for k in keys if not any(isinstance(part, InvalidText) for part in k)]
        step = max(1, MAX_PARAMETERS // width)
        for start in range(0, len(keys), step):
            chunk = keys[start : start + step]
            one = "(" + ", ".join(["?"] * width) + ")" if width > 1 else "?"
            target = f"({key_sql})" if width > 1 else key_sql
            values = ", ".join([one] * len(chunk))
            where = f"{target} IN (VALUES {values})" if width > 1 else f"{target} IN ({values})"
            params = [part for key in chunk for part in key]
            for values_row in self._db.execute(
                f"SELECT {select} FROM {table} WHERE {where}", params
            ):
                row = dict(zip(columns, values_row, strict=True))
                found[tuple(values_row[:width])] = row
        return found
