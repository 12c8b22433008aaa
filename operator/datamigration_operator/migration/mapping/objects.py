"""Rows -> Weaviate objects and Weaviate reads -> the same objects (pure).

Object ids are UUIDv5: uuid5(uuid5(OBJECT_ID_NAMESPACE, migration namespace), name) where the
name is the lower-cased table, a unit separator and the JSON key (key_to_json), so a re-run and
the app-side dual-write library derive the same id for the same row.
"""

from __future__ import annotations

import contextlib
import json
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha1
from typing import Final, NamedTuple, TypeVar
from uuid import UUID, SafeUUID, uuid5

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.migration.mapping.model import CollectionPlan
from datamigration_operator.migration.mapping.values import (
    INT64_MAX,
    INT64_MIN,
    Converter,
    affinity,
    converter_from_weaviate,
    converter_to_weaviate,
    describe,
    key_to_json,
    to_text,
    vector_from_sqlite,
)

# Fixed forever: changing it would give every migrated object a new id.
OBJECT_ID_NAMESPACE: Final = UUID("6f1c2a52-8d0e-5b7a-9c3e-2a4d5e6f7a81")
_INTEGER_TEXT: Final = re.compile(r"[+-]?[0-9]+")
# RFC 4122 version 5 and variant bits over a 128-bit integer.
_CLEAR_VERSION: Final = ~(0xF000 << 64) & ~(0xC000 << 48) & (2**128 - 1)
_VERSION_5: Final = (5 << 76) | (0x8000 << 48)
_UNKNOWN_SAFETY: Final = SafeUUID.unknown
# Small: the copy keeps one builder per plan for the whole run, so this is resident memory
# (~250 bytes an entry); keys in key order reference their targets at random anyway.
_REFERENCE_CACHE_SIZE: Final = 8_192
# tuple_parts' reference-id cache (validation's child, one short-lived builder at a time): ~200
# bytes an entry, so <= ~13 MB; it holds every target of a referenced table of up to 64k rows,
# which rows may reference in any order (in rowid order often round-robin, where a cache
# smaller than the target table never hits).
_REFERENCE_BYTES_CACHE_SIZE: Final = 65_536
_json_key = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_json_string: Final = json.encoder.encode_basestring


@dataclass(frozen=True, slots=True)
class MigrationObject:
    uuid: UUID
    properties: dict[str, object]
    references: dict[str, tuple[UUID, ...]]
    vector: bytes | None  # float32 little-endian


_Id = TypeVar("_Id", UUID, bytes)  # a referenced object's id: as a UUID, or its 16 bytes


class ObjectParts(NamedTuple):
    """What ObjectBuilder.parts gives: the row's key and its object's content, ids as bytes."""

    key: tuple[object, ...]
    uuid: bytes
    properties: dict[str, object]
    references: dict[str, list[bytes]] | None
    vector: bytes | None


PartsTuple = tuple[
    tuple[object, ...], bytes, dict[str, object], dict[str, list[bytes]] | None, bytes | None
]
"""ObjectParts as a plain tuple (what ObjectBuilder.tuple_parts gives)."""


class RowError(ValueError):
    """A row that cannot be represented faithfully in Weaviate; reported by its key."""

    def __init__(self, key: tuple[object, ...], column: str, message: str, table: str = "") -> None:
        self.key = key
        self.column = column
        self.message = message
        self.table = table
        where = f"{table} " if table else ""
        super().__init__(f"{where}row {list(key)!r} column {column}: {message}")


@lru_cache(maxsize=64)
def migration_uuid_namespace(migration_namespace: str) -> UUID:
    return uuid5(OBJECT_ID_NAMESPACE, migration_namespace)


def object_uuid(migration_namespace: str, table: str, key: tuple[object, ...]) -> UUID:
    return _uuid_from(_name_prefix(migration_namespace, table), key)


def _name_prefix(migration_namespace: str, table: str) -> bytes:
    """The bytes uuid5 hashes before the key: namespace id, the table with its ASCII letters
    lower-cased (one table however the spec spells it, as SQLite folds names), unit separator."""
    folded = fold_sql_name(table).encode()
    return migration_uuid_namespace(migration_namespace).bytes + folded + b"\x1f"


def _uuid_from(prefix: bytes, key: tuple[object, ...]) -> UUID:
    """uuid5 over prefix + JSON key, as uuid.uuid5 computes it but without its per-call
    overhead (this runs once or twice per row)."""
    uid = object.__new__(UUID)
    object.__setattr__(uid, "int", _uuid_int(prefix, key))
    object.__setattr__(uid, "is_safe", _UNKNOWN_SAFETY)
    return uid


def _uuid_int(prefix: bytes, key: tuple[object, ...]) -> int:
    if len(key) == 1 and type(key[0]) is int:
        encoded = b"[%d]" % key[0]  # exactly what the JSON encoder gives
    elif len(key) == 1 and type(key[0]) is str:
        encoded = f"[{_json_string(key[0])}]".encode("utf-8", "surrogatepass")
    else:
        encoded = _json_key(key_to_json(key)).encode("utf-8", "surrogatepass")
    digest = sha1(prefix + encoded).digest()
    return (int.from_bytes(digest[:16]) & _CLEAR_VERSION) | _VERSION_5


def _reference_key(target_key_type: str) -> Converter:
    """Coerces a foreign-key value the way the target key column's affinity would store it."""
    key_affinity = affinity(target_key_type)

    def to_integer(value: object) -> object:
        # SQLite's INTEGER affinity: text that reads as an integer, or as a real with no
        # fraction, becomes that integer ("007", " 7 ", "7.0", "7e0" -> 7).
        if type(value) is str:
            text = value.strip()
            if _INTEGER_TEXT.fullmatch(text):
                number = int(text)
                return number if INT64_MIN <= number <= INT64_MAX else value
            try:
                real = float(text)
            except ValueError:
                return value
            value = real
        if type(value) is float and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value

    def to_text(value: object) -> object:
        return str(value) if type(value) is int else value

    if key_affinity == "INTEGER":
        return to_integer
    if key_affinity == "TEXT":
        return to_text
    return lambda value: value


class ObjectBuilder:
    """row_to_object for one plan, with its converters resolved once."""

    def __init__(self, plan: CollectionPlan, *, migration_namespace: str) -> None:
        self.plan = plan
        self._prefix = _name_prefix(migration_namespace, plan.table)
        # Many rows point at the same parent (messages -> conversation): keep recent ids.
        self._reference_ids: dict[tuple[bytes, type[object], object], UUID] = {}
        self._reference_id_bytes: dict[tuple[bytes, type[object], object], bytes] = {}
        self._key_columns = plan.key_columns
        self._properties = tuple(
            (
                p.column,
                p.name,
                converter_to_weaviate(p.data_type, numbers_as_text=p.numbers_as_text),
            )
            for p in plan.properties
        )
        self._references = tuple(
            (
                r.column,
                r.name,
                _name_prefix(migration_namespace, r.target_table),
                _reference_key(r.target_key_type),
            )
            for r in plan.references
        )
        self._vector_column = plan.vector_column

    def key_of(self, row: Mapping[str, object]) -> tuple[object, ...]:
        if len(self._key_columns) == 1:
            return (row.get(self._key_columns[0]),)
        return tuple([row.get(column) for column in self._key_columns])

    def build(self, row: Mapping[str, object]) -> MigrationObject:
        key, properties, references, vector = self._values(row, self._reference_uuid)
        as_tuples: dict[str, tuple[UUID, ...]] = {n: (uuid,) for n, uuid in references.items()}
        return MigrationObject(_uuid_from(self._prefix, key), properties, as_tuples, vector)

    def parts(self, row: Mapping[str, object]) -> ObjectParts:
        """build(row) as the parts its content hash is made of, ids as 16 bytes: the same
        values without the MigrationObject and UUID objects (validation's hot path; a property
        test holds it equal to build)."""
        key, properties, references, vector = self._values(row, self._reference_bytes)
        as_lists = {name: [uuid] for name, uuid in references.items()} if references else None
        uuid = _uuid_int(self._prefix, key).to_bytes(16)
        return ObjectParts(key, uuid, properties, as_lists, vector)

    def tuple_parts(self, columns: Sequence[str]) -> Callable[[Sequence[object]], PartsTuple]:
        """parts() over rows as tuples of `columns` (extra trailing items ignored), as a plain
        tuple: validation's indexing hot path, without a dict per row. Rows it does not handle
        inline (a NULL key, a value a converter refuses, a reference neither TEXT nor INTEGER)
        go through parts() itself, so errors and results are parts()' own (a property test
        holds them equal)."""
        position = {name: index for index, name in enumerate(columns)}  # as dict(zip()) keeps
        reference_path = self.parts

        def general(row: Sequence[object]) -> PartsTuple:
            key, uuid, properties, references, vector = reference_path(
                dict(zip(columns, row, strict=False))
            )
            return key, uuid, properties, references, vector

        needed = [*self._key_columns, *(c for c, _, _ in self._properties)]
        needed += [c for c, _, _, _ in self._references]
        if self._vector_column is not None:
            needed.append(self._vector_column)
        if any(column not in position for column in needed):
            return general  # a column the reader does not give: always NULL, rare
        key_positions = tuple(position[column] for column in self._key_columns)
        single_key = key_positions[0] if len(key_positions) == 1 else None
        # in name order: the canonical encoder sorts them, and sorted input sorts fastest
        properties = sorted(
            (name, position[column], convert, convert is to_text)
            for column, name, convert in self._properties
        )
        # one id cache per reference, by the value as read (str or int, which never compare
        # equal, so no typed key is needed), of the id of the value as coerced
        references = [
            (position[column], name, target, coerce, dict[object, bytes]())
            for column, name, target, coerce in self._references
        ]
        vector_position = None if self._vector_column is None else position[self._vector_column]
        prefix = self._prefix

        def parts(row: Sequence[object]) -> PartsTuple:
            if single_key is not None:
                key: tuple[object, ...] = (row[single_key],)
            else:
                key = tuple([row[i] for i in key_positions])
            if None in key:
                return general(row)
            values: dict[str, object] = {}
            try:
                for name, index, convert, text in properties:
                    value = row[index]
                    if value is None:
                        continue
                    if text and type(value) is str:
                        values[name] = value
                        continue
                    converted = convert(value)
                    if converted is not None:
                        values[name] = converted
                ids: dict[str, list[bytes]] | None = None
                for index, name, target, coerce, cache in references:
                    value = row[index]
                    if value is None:
                        continue
                    kind = type(value)
                    if kind is not str and kind is not int:
                        return general(row)
                    found = cache.get(value)
                    if found is None:
                        coerced = coerce(value)
                        if type(coerced) is float:
                            return general(row)  # refused by _reference_bytes
                        if len(cache) >= _REFERENCE_BYTES_CACHE_SIZE:
                            cache.clear()
                        found = cache[value] = _uuid_int(target, (coerced,)).to_bytes(16)
                    if ids is None:
                        ids = {name: [found]}
                    else:
                        ids[name] = [found]
                vector = None
                if vector_position is not None:
                    raw = row[vector_position]
                    if raw is not None:
                        vector = vector_from_sqlite(raw)
            except ValueError:
                return general(row)  # raises the RowError naming the column
            return key, _uuid_int(prefix, key).to_bytes(16), values, ids, vector

        return parts

    def _values(
        self, row: Mapping[str, object], reference_id: Callable[[bytes, object], _Id]
    ) -> tuple[tuple[object, ...], dict[str, object], dict[str, _Id], bytes | None]:
        """The key, converted properties, one id per reference and the vector of a row."""
        key = self.key_of(row)
        if None in key:
            column = self._key_columns[key.index(None)]
            raise RowError(key, column, "primary key is NULL", self.plan.table)
        properties: dict[str, object] = {}
        references: dict[str, _Id] = {}
        vector = None
        column = ""
        try:
            for column, name, convert in self._properties:
                value = row.get(column)
                if value is None:
                    continue
                if type(value) is str and convert is to_text:
                    properties[name] = value  # the common case, without a call
                    continue
                converted = convert(value)
                if converted is not None:
                    properties[name] = converted
            for column, name, target, coerce in self._references:
                value = row.get(column)
                if value is not None:
                    references[name] = reference_id(target, coerce(value))
            if self._vector_column is not None:
                column = self._vector_column
                raw = row.get(column)
                vector = None if raw is None else vector_from_sqlite(raw)
        except ValueError as error:
            raise RowError(key, column, str(error), self.plan.table) from None
        return key, properties, references, vector

    def _reference_bytes(self, target: bytes, value: object) -> bytes:
        if isinstance(value, float):
            raise ValueError(f"{describe(value)} cannot identify a referenced row")
        cache = self._reference_id_bytes
        cache_key = (target, type(value), value)
        found = cache.get(cache_key)
        if found is None:
            if len(cache) >= _REFERENCE_CACHE_SIZE:
                cache.clear()
            found = cache[cache_key] = _uuid_int(target, (value,)).to_bytes(16)
        return found

    def _reference_uuid(self, target: bytes, value: object) -> UUID:
        if isinstance(value, float):
            raise ValueError(f"{describe(value)} cannot identify a referenced row")
        cache = self._reference_ids
        cache_key = (target, type(value), value)  # typed: 1 and True are different keys
        found = cache.get(cache_key)
        if found is None:
            if len(cache) >= _REFERENCE_CACHE_SIZE:
                cache.clear()
            found = cache[cache_key] = _uuid_from(target, (value,))
        return found


_BUILDERS: dict[tuple[int, str], ObjectBuilder] = {}


def builder_for(plan: CollectionPlan, migration_namespace: str) -> ObjectBuilder:
    """A shared ObjectBuilder of this plan: its reference-id cache then lasts across batches."""
    cache_key = (id(plan), migration_namespace)
    builder = _BUILDERS.get(cache_key)
    if builder is None or builder.plan is not plan:
        if len(_BUILDERS) > 256:
            _BUILDERS.clear()
        builder = _BUILDERS[cache_key] = ObjectBuilder(
            plan, migration_namespace=migration_namespace
        )
    return builder


def row_to_object(
    plan: CollectionPlan, row: Mapping[str, object], *, migration_namespace: str
) -> MigrationObject:
    """The object a row becomes; RowError when a value cannot be stored faithfully."""
    return builder_for(plan, migration_namespace).build(row)


def object_from_weaviate(
    plan: CollectionPlan,
    uuid_: UUID,
    properties: Mapping[str, object],
    references: Mapping[str, Sequence[UUID | str]],
    vector: Sequence[float] | None,
) -> MigrationObject:
    """A Weaviate read normalised so it hashes equal to row_to_object of the same row.

    Properties outside the plan are ignored; a planned value Weaviate returns in a form the
    plan's type cannot hold is kept as is, so it shows up as a difference, not a crash.
    """
    normalised: dict[str, object] = {}
    for prop in plan.properties:
        value = properties.get(prop.name)
        if value is None:
            continue
        with contextlib.suppress(ValueError):
            value = converter_from_weaviate(prop.data_type)(value)
        if value is not None:
            normalised[prop.name] = value
    refs: dict[str, tuple[UUID, ...]] = {}
    for ref in plan.references:
        targets = references.get(ref.name)
        if targets:
            refs[ref.name] = tuple(t if isinstance(t, UUID) else UUID(t) for t in targets)
    packed = None
    if vector:
        try:
            packed = struct.pack(f"<{len(vector)}f", *vector)
        except (OverflowError, struct.error):
            packed = repr(list(vector)).encode()  # unrepresentable: compares unequal
    return MigrationObject(uuid_, normalised, refs, packed)
