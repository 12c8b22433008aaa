"""Keys survive the diff's scratch file exactly, storage class included."""

from __future__ import annotations

import sqlite3

import pytest

from datamigration_operator.migration.mapping.values import InvalidText
from datamigration_operator.migration.source.diff_index import key_cell as _key_cell
from datamigration_operator.migration.source.diff_index import key_from as _key_from

KEYS = [
    ("msg-1",),
    ("s:looks-tagged",),
    ("j:[1]",),
    ("",),
    (0,),
    (-(2**63),),
    (2**63 - 1,),
    (2**63,),
    (2**80,),
    (1.5,),
    (b"\x00\xff",),
    (InvalidText(b"\xff"),),
    ("a", 1),
    (1, "a", b"x", None),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_a_key_round_trips_through_the_scratch_file(key: tuple[object, ...]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (key)")
    db.execute("INSERT INTO t VALUES (?)", (_key_cell(key),))
    (cell,) = db.execute("SELECT key FROM t").fetchone()
    restored = _key_from(cell)
    assert restored == key
    assert [type(part) for part in restored or ()] == [type(part) for part in key]


def test_no_key_stays_no_key() -> None:
    assert _key_from(None) is None
