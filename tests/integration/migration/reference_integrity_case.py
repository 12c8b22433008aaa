"""A small library database whose books reference their authors, and the two reference faults
validation must find once it is copied: a dangling reference (the author's object is deleted
after the copy, and its row too, so every row still equals its object) and a wrong one (a
book's reference repointed to another author, as `reference_replace` does). Shared by the
emulator and real-server tests, which must agree."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from datamigration_operator.api.spec import CollectionMapping, ReferenceMapping
from datamigration_operator.migration.mapping import object_uuid

NAMESPACE = "apps/library"
COLLECTIONS = [
    CollectionMapping(table="authors", collection="Author"),
    CollectionMapping(
        table="books",
        collection="Book",
        references=[ReferenceMapping(column="author_id", target_table="authors")],
    ),
]
# book -> author; b5 has no author
BOOKS = {"b1": "a1", "b2": "a2", "b3": "a3", "b4": "a1", "b5": None}
DANGLING_BOOK, GONE_AUTHOR = "b3", "a3"
WRONG_BOOK, WRONG_AUTHOR = "b2", "a1"


def make_library(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE authors (id TEXT PRIMARY KEY, name TEXT);
        CREATE TABLE books (id TEXT PRIMARY KEY, title TEXT,
                            author_id TEXT REFERENCES authors (id));
        """
    )
    db.executemany(
        "INSERT INTO authors VALUES (?, ?)", [(f"a{n}", f"Author {n}") for n in (1, 2, 3)]
    )
    db.executemany(
        "INSERT INTO books VALUES (?, ?, ?)",
        [(book, f"Title of {book}", author) for book, author in BOOKS.items()],
    )
    db.commit()
    db.close()


def uuid_of(table: str, key: str) -> UUID:
    return object_uuid(NAMESPACE, table, (key,))


def break_references(path: Path, client: Any) -> None:
    """The dangling reference and the wrong one (the rows all keep equal to their objects)."""
    client.collections.get("Author").data.delete_by_id(uuid_of("authors", GONE_AUTHOR))
    db = sqlite3.connect(path)  # foreign keys are not enforced: the book keeps its author_id
    db.execute("DELETE FROM authors WHERE id = ?", (GONE_AUTHOR,))
    db.commit()
    db.close()
    client.collections.get("Book").data.reference_replace(
        from_uuid=uuid_of("books", WRONG_BOOK),
        from_property="author_id",
        to=uuid_of("authors", WRONG_AUTHOR),
    )


GHOST = UUID("00000000-0000-4000-8000-0000000000ff")
NULL_BOOK, SECOND_BOOK = "b5", "b4"


def hide_dangling_references(client: Any) -> None:
    """Two dangling references a read cannot show (it leaves them out, and what is left
    equals the row): one on b5, whose foreign key is NULL, and one beside b4's right one.
    Both point to an author object that exists only until the references are stored."""
    authors, books = client.collections.get("Author"), client.collections.get("Book")
    authors.data.insert({"name": "ghost"}, uuid=GHOST)
    for book in (NULL_BOOK, SECOND_BOOK):
        books.data.reference_add(
            from_uuid=uuid_of("books", book), from_property="author_id", to=GHOST
        )
    authors.data.delete_by_id(GHOST)


def write_mapping(path: Path) -> Path:
    mapping = path / "mapping.json"
    mapping.write_text(
        json.dumps({"collections": [c.model_dump(by_alias=True) for c in COLLECTIONS]})
    )
    return mapping


def dmctl_validate(
    db: Path, http: str, grpc_port: int, env: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """`dmctl validate --json` as a user runs it: exit code and summary."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "datamigration_operator.cli.main",
            "validate",
            "--sqlite",
            str(db),
            "--mapping",
            str(write_mapping(db.parent)),
            "--namespace",
            NAMESPACE,
            "--weaviate",
            http,
            "--grpc-port",
            str(grpc_port),
            "--recheck-delay",
            "0",
            "--json",
        ],
        capture_output=True,
        env=env,
        cwd=db.parent,
        timeout=180,
        check=False,
    )
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith("{")]
    assert lines, (done.stdout + done.stderr).decode()
    summary: dict[str, Any] = json.loads(lines[-1])
    return done.returncode, summary
