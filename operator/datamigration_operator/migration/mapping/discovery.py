"""A proposed spec.collections for a whole database (pure): what `dmctl plan` prints.

In: every table as reflected, with its column stats, the columns whose every value is date
text, and its declared foreign keys; the schema objects that are not tables. Out: one
CollectionMapping per table that has a usable key, each note saying what was decided and why.

The mapping lists every property with its dataType (a reviewed, frozen plan: a new kind of
value later fails loudly instead of changing a type), and turns each declared single-column
foreign key into a reference when the copy can write it: its target is mapped, addressed by
its key, and every value points to a row (Weaviate refuses a reference to a missing object).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, cast

from datamigration_operator.api.names import fold_sql_name
from datamigration_operator.api.spec import (
    MAX_PROPERTIES,
    MAX_REFERENCES,
    CollectionMapping,
    PropertyMapping,
    ReferenceMapping,
    WeaviateDataType,
)
from datamigration_operator.migration.mapping.derivation import (
    DEFAULT_ID_COLUMN,
    SOURCE_KEY_PREFIX,
    declares_date,
    infer_data_type,
    plan_collections,
)
from datamigration_operator.migration.mapping.model import (
    ROWID,
    ColumnInfo,
    ColumnStats,
    TableInfo,
)
from datamigration_operator.migration.mapping.naming import (
    RESERVED_PROPERTY_NAMES,
    NamingError,
    collection_name,
    property_name,
)

FALLBACK_COLLECTION: Final = "Table"
FALLBACK_PROPERTY: Final = "column"


@dataclass(frozen=True)
class ForeignKey:
    """One declared foreign key (PRAGMA foreign_key_list), with its dangling values counted."""

    columns: tuple[str, ...]
    target_table: str
    target_columns: tuple[str | None, ...]  # None: the target's primary key
    orphans: int = 0  # rows whose value points to no target row


@dataclass(frozen=True)
class TableSurvey:
    table: TableInfo
    stats: Mapping[str, ColumnStats]
    date_columns: frozenset[str] = frozenset()  # every non-NULL value parses as a date
    foreign_keys: tuple[ForeignKey, ...] = ()


@dataclass(frozen=True)
class SkippedObject:
    name: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    collections: tuple[CollectionMapping, ...]
    notes: Mapping[str, tuple[str, ...]]  # table -> what the plan decided for it
    skipped: tuple[SkippedObject, ...] = field(default=())


def discover(
    surveys: Sequence[TableSurvey],
    not_tables: Sequence[SkippedObject] = (),
    *,
    tables: Literal["all", "listed"] = "all",
    references: Literal["fromForeignKeys", "listed"] = "fromForeignKeys",
    explicit: Sequence[CollectionMapping] = (),
    reserved_tables: frozenset[str] = frozenset(),
) -> Discovery:
    """The mapping spec.discover asks for. With `tables` all, a proposed entry for every table
    with a usable key, an `explicit` entry overriding what it sets of its table's (collection,
    idColumn, vectorColumn, references when it lists some, and the properties it lists, column
    by column); with `tables` listed, the explicit entries only. `references` fromForeignKeys:
    an entry that lists no references gets the declared foreign keys' (where the copy can
    write them). `reserved_tables` (folded) are the dual-write library's own, never migrated.
    MappingError if the result does not fit the database."""
    given = {fold_sql_name(m.table): m for m in explicit}
    skipped = list(not_tables)
    notes: dict[str, list[str]] = {}
    keyed: dict[str, tuple[TableSurvey, str]] = {}  # folded table -> (survey, idColumn)
    proposed: set[str] = set()  # folded tables discovery proposes an entry for
    for survey in surveys:
        table = survey.table
        folded = fold_sql_name(table.name)
        entry = given.get(folded)
        id_column, problem = _id_column(survey)
        if tables == "all" and folded in reserved_tables:
            skipped.append(SkippedObject(table.name, "the dual-write library's own table"))
        elif tables == "all" and len(table.columns) > MAX_PROPERTIES and entry is None:
            skipped.append(SkippedObject(table.name, f"more than {MAX_PROPERTIES} columns"))
        elif tables == "all" and id_column is not None and len(table.columns) <= MAX_PROPERTIES:
            keyed[folded] = (survey, id_column)
            proposed.add(folded)
            notes[table.name] = [problem] if problem else []
        elif entry is not None:
            keyed[folded] = (survey, entry.id_column)  # the derivation checks the entry
            notes[table.name] = []
        elif tables == "all":
            skipped.append(SkippedObject(table.name, problem))
    # numbered by position among all mapped tables, so an override leaves others' names be
    names = _collection_names(
        [
            (n, s.table)
            for n, (folded, (s, _)) in enumerate(keyed.items(), 1)
            if folded not in given
        ],
        notes,
        {m.collection.casefold() for m in explicit},
    )
    mappings = []
    for folded, (survey, id_column) in keyed.items():
        table_notes = notes[survey.table.name]
        entry = given.get(folded)
        wants_keys = references == "fromForeignKeys" and not (entry and entry.references)
        taken: set[str] = set()  # property names (casefolded), references' and properties'
        found = _references(survey, keyed, taken, table_notes) if wants_keys else []
        if folded not in proposed:
            assert entry is not None
            mappings.append(entry.model_copy(update={"references": found or entry.references}))
            continue
        discovered = CollectionMapping(
            table=survey.table.name,
            collection=names.get(folded, FALLBACK_COLLECTION),
            id_column=id_column,
            properties=_properties(survey, {r.column for r in found}, taken, table_notes),
            references=found,
        )
        mappings.append(discovered if entry is None else _overridden(discovered, entry))
    # an entry naming a table the database lacks: the derivation below says so
    mappings += [m for folded, m in given.items() if folded not in keyed]
    tables_by_name = {s.table.name: s.table for s, _ in keyed.values()}
    stats = {s.table.name: s.stats for s, _ in keyed.values()}
    dates = {s.table.name: s.date_columns for s, _ in keyed.values()}
    # The copy's own derivation checks the plan and adds its notes (numbers kept as text...).
    for plan in plan_collections(mappings, tables_by_name, column_stats=stats, date_columns=dates):
        notes[plan.table] += [n.removeprefix(f"{plan.table}.") for n in plan.notes]
    return Discovery(
        collections=tuple(mappings),
        notes={table: tuple(found) for table, found in notes.items()},
        skipped=tuple(skipped),
    )


def _overridden(discovered: CollectionMapping, entry: CollectionMapping) -> CollectionMapping:
    """The discovered entry with what the explicit one sets: its collection, its idColumn
    unless left at the default, its vectorColumn, its references when it lists some, and
    the properties it lists in place of the discovered ones for those columns."""
    references = entry.references or discovered.references
    not_properties = {fold_sql_name(r.column) for r in references}
    if entry.vector_column is not None:
        not_properties.add(fold_sql_name(entry.vector_column))
    listed = {fold_sql_name(p.column) for p in entry.properties}
    properties = [
        p for p in discovered.properties if fold_sql_name(p.column) not in listed | not_properties
    ] + list(entry.properties)
    return discovered.model_copy(
        update={
            "collection": entry.collection,
            "id_column": (
                discovered.id_column if entry.id_column == DEFAULT_ID_COLUMN else entry.id_column
            ),
            "vector_column": entry.vector_column,
            "references": references,
            "properties": properties,
        }
    )


def _id_column(survey: TableSurvey) -> tuple[str | None, str]:
    """(idColumn, note) for a table with a usable key; (None, why not) otherwise."""
    table = survey.table
    key = table.key_columns
    for column in key:
        nulls = survey.stats[column].nulls if column in survey.stats else 0
        if nulls:
            return None, f"{nulls} rows have NULL in primary-key column {column}: no usable key"
    if key == (ROWID,):
        free = [a for a in ("rowid", "oid", "_rowid_") if table.column(a) is None]
        if not free:
            return None, "no primary key, and columns named rowid, oid and _rowid_ hide the rowid"
        return free[0], (
            "no primary key: objects are keyed by rowid, which VACUUM may renumber; "
            "declare a primary key or migrate without a VACUUM in between"
        )
    if len(key) == 1:
        return key[0], ""
    # A composite key is the default idColumn "id" resolving to the whole primary key, which
    # a column called id would shadow.
    if table.column(DEFAULT_ID_COLUMN) is not None:
        return None, (
            f"composite primary key ({', '.join(key)}) and a column named id, which idColumn "
            "would take for the key"
        )
    return DEFAULT_ID_COLUMN, ""


def _collection_names(
    tables: Sequence[tuple[int, TableInfo]], notes: dict[str, list[str]], taken: set[str]
) -> dict[str, str]:
    """Collection per folded table by the naming rule, made unique (Weaviate compares
    collection names case-insensitively) among themselves and `taken`; each fallback or
    suffix is noted."""
    names: dict[str, str] = {}
    for index, table in tables:
        try:
            wanted = collection_name(table.name)
        except NamingError:
            wanted = f"{FALLBACK_COLLECTION}{index}"
            notes[table.name].append(f"no Latin letters to name it by: collection {wanted}")
        name = _unique(wanted, taken)
        if name != wanted:
            notes[table.name].append(f"collection {wanted} is taken by another table: {name}")
        names[fold_sql_name(table.name)] = name
    return names


def _unique(wanted: str, taken: set[str]) -> str:
    name, suffix = wanted, 2
    while name.casefold() in taken:
        name, suffix = f"{wanted}{suffix}", suffix + 1
    taken.add(name.casefold())
    return name


def _references(
    survey: TableSurvey,
    keyed: Mapping[str, tuple[TableSurvey, str]],
    taken: set[str],
    notes: list[str],
) -> list[ReferenceMapping]:
    table = survey.table
    references: list[ReferenceMapping] = []
    seen: set[str] = set()
    for fk in survey.foreign_keys:
        where = f"foreign key ({', '.join(fk.columns)}) -> {fk.target_table}"
        target = keyed.get(fold_sql_name(fk.target_table))
        problem = ""
        if len(fk.columns) != 1:
            problem = "spans several columns; a reference holds one key, so kept as properties"
        elif target is None:
            problem = "targets a table that is not migrated; kept as a property"
        elif not _targets_key(fk.target_columns[0], target[0].table):
            problem = "targets a column other than the primary key; kept as a property"
        elif len(target[0].table.key_columns) != 1 or target[0].table.key_columns == (ROWID,):
            problem = "targets a table without a single-column primary key; kept as a property"
        elif fk.orphans:
            problem = (
                f"{fk.orphans} rows point to no {fk.target_table} row (Weaviate refuses such "
                "references); kept as a property"
            )
        elif fold_sql_name(fk.columns[0]) in seen:
            problem = "its column already holds a reference; kept as a property"
        elif len(references) >= MAX_REFERENCES:
            problem = f"more than {MAX_REFERENCES} references; kept as a property"
        if problem:
            notes.append(f"{where}: {problem}")
            continue
        assert target is not None
        seen.add(fold_sql_name(fk.columns[0]))
        column = table.column(fk.columns[0])
        assert column is not None  # SQLite checks a foreign key's columns exist
        references.append(
            ReferenceMapping(
                column=column.name,
                target_table=target[0].table.name,
                property=_name(table.name, column, table.columns.index(column) + 1, taken, notes),
            )
        )
    return references


def _targets_key(column: str | None, target: TableInfo) -> bool:
    return column is None or target.key_columns == (_canonical(target, column),)


def _canonical(table: TableInfo, column: str) -> str:
    found = table.column(column)
    return column if found is None else found.name


def _properties(
    survey: TableSurvey, reference_columns: set[str], taken: set[str], notes: list[str]
) -> list[PropertyMapping]:
    """Every column but the references', with its dataType."""
    table = survey.table
    return [
        PropertyMapping(
            column=column.name,
            name=_name(table.name, column, position, taken, notes),
            data_type=cast("WeaviateDataType", _data_type(column, survey, notes)),
        )
        for position, column in enumerate(table.columns, start=1)
        if column.name not in reference_columns
    ]


def _name(
    table: str, column: ColumnInfo, position: int, taken: set[str], notes: list[str]
) -> str | None:
    """The property name to write in the mapping: None where the naming rule gives a name no
    other column of the table has taken."""
    derived: str | None = None
    if column.name.casefold() in RESERVED_PROPERTY_NAMES:
        # as the derivation names a key column `id` (Weaviate reserves the name)
        name = SOURCE_KEY_PREFIX + column.name.lstrip("_")
    else:
        try:
            derived = name = property_name(column.name, table=table)
        except NamingError:
            name = f"{FALLBACK_PROPERTY}{position}"
            notes.append(f"{column.name}: no Latin letters to name it by: property {name}")
    unique = _unique(name, taken)
    if unique != name:
        notes.append(f"{column.name}: property {name} is taken by another column: {unique}")
    return None if unique == derived else unique


def _data_type(column: ColumnInfo, survey: TableSurvey, notes: list[str]) -> str:
    """The derivation's own inference (a mapping without dataType gets the same), noted."""
    stats = survey.stats.get(column.name)
    is_date = column.name in survey.date_columns
    data_type, _ = infer_data_type(column, stats, is_date=is_date)
    empty = stats is None or not (stats.integers or stats.reals or stats.texts or stats.blobs)
    if is_date:
        notes.append(f"{column.name}: every value is a date or datetime: dataType date")
    elif empty and declares_date(column):
        notes.append(
            f"{column.name}: declared {column.declared_type} but holds no values yet: dataType "
            "date (a value that is no date will be reported by key)"
        )
    return data_type
