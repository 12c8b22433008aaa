"""The spec's collections mapping + the reflected tables -> collection plans (pure).

Rules (see also api.spec.CollectionMapping):
- The object key is `idColumn` when it is the table's single-column primary key. When the table
  has no column called `idColumn` and it is left at its default "id", the key is the table's
  primary key (composite keys included) or its rowid; `idColumn: rowid` asks for the rowid.
  A rowid without an INTEGER PRIMARY KEY alias can change on VACUUM, and with it the object
  ids: such tables should be migrated without a VACUUM in between (or given a primary key).
- Every column is copied except the vector column, the reference columns and the columns
  `properties` lists with `exclude: true`; `properties` overrides the name or dataType of the
  columns it lists and leaves the others as derived. Key columns are copied too (a UUIDv5
  cannot be turned back into a key, and reads served by Weaviate must return it); Weaviate
  reserves the property names id, _id and _additional, so a key column `id` becomes the
  property `source_id`.
- Property types are inferred from the storage classes the column really holds (ColumnStats,
  one SQL scan) and fall back to the declared type's affinity: integers beyond +-2^53 and
  columns mixing numbers with text become text holding the decimal form, since
  weaviate-client sends scalars as doubles; NUMERIC and REAL columns are numbers even while
  they hold integers only; text columns whose every value is a date, and DATE/DATETIME
  columns still empty, are dates. `dmctl plan` proposes the same types (discovery).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.api.spec import CollectionMapping, PropertyMapping
from datamigration_operator.migration.mapping.model import (
    ROWID,
    CollectionPlan,
    CollectionSchema,
    ColumnInfo,
    ColumnStats,
    MappingError,
    PropertyPlan,
    PropertySchema,
    ReferencePlan,
    ReferenceSchema,
    TableInfo,
)
from datamigration_operator.migration.mapping.naming import (
    PROPERTY_NAME,
    RESERVED_PROPERTY_NAMES,
    property_name,
)
from datamigration_operator.migration.mapping.values import DATA_TYPES, MAX_EXACT_INT, affinity

SOURCE_KEY_PREFIX: Final = "source_"
ROWID_ALIASES: Final = frozenset({"rowid", "oid", "_rowid_"})
DEFAULT_ID_COLUMN: Final = "id"

TableStats = Mapping[str, ColumnStats]


def plan_collections(
    mappings: Sequence[CollectionMapping],
    tables: Mapping[str, TableInfo],
    *,
    column_stats: Mapping[str, TableStats] | None = None,
    date_columns: Mapping[str, frozenset[str]] | None = None,
) -> tuple[CollectionPlan, ...]:
    """One plan per mapping, in spec order; MappingError names the first problem found.
    `date_columns`: per table, the columns holding text only, every value of which is a date
    (source.date_columns); they map to date unless the mapping gives a dataType."""
    stats = column_stats or {}
    dates = date_columns or {}
    by_table = {fold_sql_name(m.table): m for m in mappings}
    resolved = {fold_sql_name(m.table): _table(m.table, tables) for m in mappings}
    for mapping in mappings:
        for ref in mapping.references:
            if fold_sql_name(ref.target_table) not in by_table:
                raise MappingError(
                    f"reference {mapping.table}.{ref.column} points to table "
                    f"{ref.target_table}, which is not mapped to a collection"
                )
    keys = {name: _key_columns(by_table[name], info) for name, info in resolved.items()}
    plans = []
    for mapping in mappings:
        folded = fold_sql_name(mapping.table)
        table = resolved[folded]
        key = keys[folded]
        table_stats = stats.get(table.name, {})
        _check_key_nulls(table, key, table_stats)
        references = tuple(
            _reference(
                table,
                ref.column,
                ref.property,
                resolved[fold_sql_name(ref.target_table)],
                keys[fold_sql_name(ref.target_table)],
                by_table[fold_sql_name(ref.target_table)],
            )
            for ref in mapping.references
        )
        vector = _vector_column(table, mapping.vector_column)
        notes: list[str] = []
        properties = _properties(
            table,
            mapping,
            key,
            skipped={fold_sql_name(r.column) for r in references}
            | ({fold_sql_name(vector)} if vector else set()),
            stats=table_stats,
            dates=dates.get(table.name, frozenset()),
            notes=notes,
        )
        _check_unique_names(
            table.name,
            [(p.column, p.name) for p in properties] + [(r.column, r.name) for r in references],
        )
        plans.append(
            CollectionPlan(
                table=table.name,
                collection=mapping.collection,
                key_columns=key,
                properties=properties,
                references=references,
                vector_column=vector,
                notes=tuple(notes),
            )
        )
    return tuple(plans)


def _properties(
    table: TableInfo,
    mapping: CollectionMapping,
    key: tuple[str, ...],
    *,
    skipped: set[str],
    stats: TableStats,
    dates: frozenset[str],
    notes: list[str],
) -> tuple[PropertyPlan, ...]:
    """Every column in table order, but the `skipped` ones (references, vector) unless listed
    and those listed with exclude; a listed column takes the listed name and dataType."""
    overrides: dict[str, PropertyMapping] = {}
    for listed in mapping.properties:
        column = _column(table, listed.column, "property column")
        folded = fold_sql_name(column.name)
        if folded in overrides:
            raise MappingError(
                f"table {table.name}: column {column.name} is listed twice under properties "
                f"({overrides[folded].column!r} and {listed.column!r})"
            )
        overrides[folded] = listed
    properties = []
    for column in table.columns:
        folded = fold_sql_name(column.name)
        override = overrides.get(folded)
        if override is None and folded in skipped:
            continue
        if override is not None and override.exclude:
            continue
        name = override.name if override is not None else None
        properties.append(
            _property(
                table,
                column.name,
                name if name is not None else _key_property_name(column.name, key),
                override.data_type if override is not None else None,
                stats,
                notes,
                is_date=column.name in dates,
            )
        )
    return tuple(properties)


def collection_schema(plan: CollectionPlan) -> CollectionSchema:
    return CollectionSchema(
        name=plan.collection,
        properties=tuple(PropertySchema(p.name, p.data_type) for p in plan.properties),
        references=tuple(ReferenceSchema(r.name, r.target_collection) for r in plan.references),
    )


def _table(name: str, tables: Mapping[str, TableInfo]) -> TableInfo:
    found = tables.get(name) or next(
        (t for t in tables.values() if fold_sql_name(t.name) == fold_sql_name(name)), None
    )
    if found is None:
        known = ", ".join(sorted(tables)) or "none"
        raise MappingError(f"table {name} does not exist in the SQLite database (tables: {known})")
    return found


def _key_columns(mapping: CollectionMapping, table: TableInfo) -> tuple[str, ...]:
    id_column = mapping.id_column
    column = table.column(id_column)
    if column is None and fold_sql_name(id_column) in ROWID_ALIASES:
        if table.without_rowid:
            raise MappingError(f"table {table.name} is WITHOUT ROWID; idColumn cannot be rowid")
        return (ROWID,)
    if column is not None:
        if table.key_columns == (column.name,):
            return (column.name,)
        primary = ", ".join(table.key_columns)
        raise MappingError(
            f"idColumn {id_column} of table {table.name} is not its primary key "
            f"(primary key: {primary}); set idColumn to the primary-key column"
        )
    if id_column == DEFAULT_ID_COLUMN:
        if table.key_columns == (ROWID,) and table.column(ROWID) is not None:
            raise MappingError(
                f"table {table.name} has no primary key and a column named rowid hides its "
                "rowid; declare a primary key"
            )
        return table.key_columns
    raise MappingError(f"idColumn {id_column}: table {table.name} has no such column")


def _check_key_nulls(table: TableInfo, key: tuple[str, ...], stats: TableStats) -> None:
    for column in key:
        nulls = stats[column].nulls if column in stats else 0
        if nulls:
            raise MappingError(
                f"table {table.name} has {nulls} rows with NULL in primary-key column {column}; "
                "they have no key to address them by"
            )


def _column(table: TableInfo, name: str, role: str) -> ColumnInfo:
    column = table.column(name)
    if column is None:
        raise MappingError(f"{role} {name}: table {table.name} has no such column")
    return column


def _key_property_name(column: str, key: tuple[str, ...]) -> str | None:
    """A key column keeps its name unless Weaviate reserves it (`id` -> `source_id`)."""
    if column in key and column.casefold() in RESERVED_PROPERTY_NAMES:
        return SOURCE_KEY_PREFIX + column.lstrip("_")
    return None


def _property_name(table: TableInfo, column: str, name: str | None) -> str:
    """The name the mapping gives (checked), else the one naming.property_name derives."""
    if name is None:
        return property_name(column, table=table.name)
    if not PROPERTY_NAME.fullmatch(name):
        raise MappingError(
            f"property name {name!r} (column {table.name}.{column}) is not a valid Weaviate "
            "property name ([_A-Za-z][_0-9A-Za-z]*)"
        )
    if name.casefold() in RESERVED_PROPERTY_NAMES:
        raise MappingError(
            f"property name {name} (column {table.name}.{column}) is reserved by Weaviate; "
            "give it another name in spec properties"
        )
    # Weaviate lower-cases a property name's first letter; plan the name it will report back.
    return name[0].lower() + name[1:]


def _property(
    table: TableInfo,
    column_name: str,
    name: str | None,
    data_type: str | None,
    stats: TableStats,
    notes: list[str],
    *,
    is_date: bool = False,
) -> PropertyPlan:
    column = _column(table, column_name, "property column")
    prop_name = _property_name(table, column.name, name)
    column_stats = stats.get(column.name)
    if data_type is None:
        data_type, as_text = _infer(column, column_stats, is_date=is_date)
        if as_text:
            notes.append(f"{table.name}.{column.name}: {_text_reason(column_stats)}")
        elif column_stats is not None and column_stats.blobs and data_type != "blob":
            notes.append(
                f"{table.name}.{column.name}: {column_stats.blobs} BLOB values in a {data_type} "
                "column are reported by key"
            )
    else:
        if data_type not in DATA_TYPES:
            raise MappingError(f"property {table.name}.{column.name}: unknown dataType {data_type}")
        as_text = data_type == "text" and _holds_numbers(column, column_stats)
    return PropertyPlan(column.name, prop_name, data_type, as_text)


def _text_reason(stats: ColumnStats | None) -> str:
    if stats is None:
        return "no declared type, so stored as text (numbers in decimal form)"
    if stats.texts:
        return "mixes numbers with text, so stored as text (numbers in decimal form)"
    return (
        f"holds integers from {stats.min_integer} to {stats.max_integer}, beyond the +-2^53 a "
        "double keeps exactly, so stored as text (decimal form)"
    )


def _holds_numbers(column: ColumnInfo, stats: ColumnStats | None) -> bool:
    if stats is not None:
        return bool(stats.integers or stats.reals)
    return affinity(column.declared_type) != "TEXT"


def infer_data_type(
    column: ColumnInfo, stats: ColumnStats | None, *, is_date: bool = False
) -> tuple[str, bool]:
    """(dataType, numbers_as_text) for a column without an explicit dataType; `is_date`: it
    holds text only and every value is a date."""
    return _infer(column, stats, is_date=is_date)


def declares_date(column: ColumnInfo) -> bool:
    """DATE, DATETIME, TIMESTAMP, TIME...: SQLite apps keep such values as ISO text."""
    declared = column.declared_type.upper()
    return "DATE" in declared or "TIME" in declared


def _infer(column: ColumnInfo, stats: ColumnStats | None, *, is_date: bool) -> tuple[str, bool]:
    if is_date:
        return "date", False
    declared = column.declared_type.upper()
    column_affinity = affinity(declared)
    if stats is None or not (stats.integers or stats.reals or stats.texts or stats.blobs):
        if "BOOL" in declared:
            return "boolean", False
        if declares_date(column):
            # no values to check yet: a date, as the values will be (else the type would
            # change once the first one arrives, and the collection with it)
            return "date", False
        by_affinity = {"INTEGER": "int", "REAL": "number", "NUMERIC": "number", "TEXT": "text"}
        if column_affinity in by_affinity:
            return by_affinity[column_affinity], False
        return ("blob", False) if "BLOB" in declared else ("text", True)
    numbers = stats.integers + stats.reals
    exact = (stats.min_integer is None or stats.min_integer >= -MAX_EXACT_INT) and (
        stats.max_integer is None or stats.max_integer <= MAX_EXACT_INT
    )
    if stats.blobs and stats.blobs >= numbers + stats.texts:
        return "blob", False
    if stats.texts:
        return "text", bool(numbers)
    if not numbers:
        return "blob", False
    if not exact:
        return "text", True
    if stats.reals:
        return "number", False
    is_flag = (stats.min_integer or 0) >= 0 and (stats.max_integer or 0) <= 1
    if "BOOL" in declared and is_flag:
        return "boolean", False
    if column_affinity in ("NUMERIC", "REAL"):
        return "number", False  # NUMERIC and REAL columns take reals too: the next row may
    return "int", False


def _reference(
    table: TableInfo,
    column_name: str,
    name: str | None,
    target: TableInfo,
    target_key: tuple[str, ...],
    target_mapping: CollectionMapping,
) -> ReferencePlan:
    column = _column(table, column_name, "reference column")
    if len(target_key) != 1:
        raise MappingError(
            f"reference {table.name}.{column.name}: target table {target.name} has a composite "
            "key; a single column cannot reference it"
        )
    key_column = target.column(target_key[0])
    key_type = "INTEGER" if key_column is None else key_column.declared_type
    return ReferencePlan(
        column=column.name,
        name=_property_name(table, column.name, name),
        target_table=target.name,
        target_collection=target_mapping.collection,
        target_key_type=key_type,
    )


def _vector_column(table: TableInfo, name: str | None) -> str | None:
    if name is None:
        return None
    return _column(table, name, "vectorColumn").name


def _check_unique_names(table: str, named: list[tuple[str, str]]) -> None:
    """Two columns may not land on one property (Weaviate compares names case-insensitively)."""
    seen: dict[str, str] = {}
    for column, name in named:
        other = seen.get(name.casefold())
        if other is not None:
            raise MappingError(
                f"table {table}: columns {other!r} and {column!r} both map to the Weaviate "
                f"property {name}; list one of them under properties with another name"
            )
        seen[name.casefold()] = column
