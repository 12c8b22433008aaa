"""A database whose rows point at rows of their own table and across a cycle of two tables,
in both key directions, the way Weaviate cannot take them in one pass."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from datamigration_operator.api.spec import CollectionMapping, ReferenceMapping

EMPLOYEES = 260
"""A management chain longer than any batch the tests use (each reports to the next id)."""
TEAMS = 40


def make_self_referencing_database(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE employees (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL,
            manager_id INTEGER REFERENCES employees(id),
            team_id INTEGER REFERENCES teams(id));
        CREATE TABLE teams (
            id INTEGER PRIMARY KEY, title TEXT NOT NULL,
            lead_id INTEGER REFERENCES employees(id));
        """
    )
    # employee n reports to n + 1 (a forward chain: every target is in a later batch); the
    # last two manage each other (a cycle of one table); team t is led by employee t and
    # employee n belongs to team n % TEAMS + 1 (a cycle of two tables)
    rows = [(n, f"employee {n}", n + 1, n % TEAMS + 1) for n in range(1, EMPLOYEES - 1)]
    rows += [(EMPLOYEES - 1, "a", EMPLOYEES, 1), (EMPLOYEES, "b", EMPLOYEES - 1, None)]
    db.executemany("INSERT INTO employees VALUES (?, ?, ?, ?)", rows)
    db.executemany(
        "INSERT INTO teams VALUES (?, ?, ?)", [(t, f"team {t}", t) for t in range(1, TEAMS + 1)]
    )
    db.commit()
    db.close()
    return path


def self_referencing_collections() -> list[CollectionMapping]:
    return [
        CollectionMapping(
            table="employees",
            collection="Employee",
            references=[
                ReferenceMapping(column="manager_id", target_table="employees"),
                ReferenceMapping(column="team_id", target_table="teams"),
            ],
        ),
        CollectionMapping(
            table="teams",
            collection="Team",
            references=[ReferenceMapping(column="lead_id", target_table="employees")],
        ),
    ]
