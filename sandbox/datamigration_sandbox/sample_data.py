"""A generated GremlinsAI-shaped SQLite database for tests, demos and benchmarks.

conversations, messages (conversation_id -> conversations.id) and documents (with a JSON-array
embedding). `bad_data=True` adds the values a migration must carry faithfully or report by key:
TEXT that is not UTF-8, NUL characters, a 5 MB value, BLOBs, NULLs, integers beyond 2^53 up to
the int64 bounds, NaN (SQLite stores it as NULL) and +-infinity, odd dates, unicode; and the
table shapes: a composite key, WITHOUT ROWID, a rowid table without a declared key, a column
mixing storage classes. Deterministic for a given seed. Rows go in with executemany inside
one transaction per table, so 2M rows take seconds.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from datamigration_operator.api.spec import CollectionMapping, ReferenceMapping

MAX_ROWS: Final = 2_000_000
EMBEDDING_DIMENSIONS: Final = 8
BIG_VALUE_BYTES: Final = 5 * 1024 * 1024
_BASE_TIME: Final = 1_735_689_600  # 2025-01-01T00:00:00Z
_ROLES: Final = ("user", "assistant", "system")
_WORDS: Final = [
    "agent",
    "tool",
    "memory",
    "vector",
    "search",
    "answer",
    "question",
    "context",
    "document",
    "summary",
    "plan",
    "step",
    "model",
    "prompt",
    "token",
    "result",
    "error",
    "retry",
    "stream",
    "batch",
    "schema",
    "weaviate",
    "sqlite",
    "migration",
]

SCHEMA: Final = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    user_id TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL,
    updated_at DATETIME
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tokens INTEGER,
    created_at DATETIME NOT NULL
);
CREATE INDEX ix_messages_conversation_id ON messages (conversation_id);
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    content TEXT,
    content_type TEXT,
    file_size INTEGER,
    tags TEXT,
    embedding TEXT,
    created_at DATETIME NOT NULL
);
"""

BAD_SCHEMA: Final = """
CREATE TABLE edge_values (
    id INTEGER PRIMARY KEY,
    label TEXT,
    big INTEGER,
    ratio REAL,
    payload BLOB,
    happened_at TEXT,
    anything
);
CREATE TABLE conversation_tags (
    conversation_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    weight REAL,
    PRIMARY KEY (conversation_id, tag)
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE audit_log (event TEXT, at TEXT);
"""


@dataclass(frozen=True)
class SampleDatabase:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    # Keys of rows holding values Weaviate cannot store (table -> key tuples).
    unrepresentable: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)


def generate_database(
    path: Path, *, rows: int = 10_000, bad_data: bool = False, seed: int = 7
) -> SampleDatabase:
    """Creates `path` (refusing to overwrite) with about `rows` rows over the three tables:
    10% conversations, 80% messages, 10% documents."""
    if not 3 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be between 3 and {MAX_ROWS}, got {rows}")
    if path.exists():
        raise FileExistsError(f"{path} already exists; generate_database never overwrites")
    rng = random.Random(seed)
    conversations = max(1, rows // 10)
    documents = max(1, rows // 10)
    messages = rows - conversations - documents
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = OFF")
        # Random UUID keys insert all over the index; a big cache keeps that in memory.
        connection.execute("PRAGMA cache_size = -262144")
        connection.executescript(SCHEMA)
        conversation_ids = [_uuid(rng) for _ in range(conversations)]
        _insert(
            connection,
            "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
            _conversations(rng, conversation_ids),
        )
        _insert(
            connection,
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            _messages(rng, conversation_ids, messages),
        )
        _insert(
            connection,
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            _documents(rng, documents),
        )
        unrepresentable: dict[str, list[tuple[object, ...]]] = {}
        if bad_data:
            unrepresentable = _add_bad_data(connection, rng, conversation_ids)
        counts = {
            name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
            ).fetchall()
        }
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return SampleDatabase(path, counts, unrepresentable)


def sample_collections(*, bad_data: bool = False) -> list[CollectionMapping]:
    """The spec.collections mapping for a generated database."""
    mappings = [
        CollectionMapping(table="conversations", collection="Conversation"),
        CollectionMapping(
            table="messages",
            collection="Message",
            references=[ReferenceMapping(column="conversation_id", target_table="conversations")],
        ),
        CollectionMapping(table="documents", collection="Document", vector_column="embedding"),
    ]
    if bad_data:
        mappings += [
            CollectionMapping(table="edge_values", collection="EdgeValue"),
            CollectionMapping(table="conversation_tags", collection="ConversationTag"),
            CollectionMapping(table="settings", collection="Setting", id_column="key"),
            CollectionMapping(table="audit_log", collection="AuditLog"),
        ]
    return mappings


def _insert(connection: sqlite3.Connection, sql: str, rows: Iterator[tuple[object, ...]]) -> None:
    connection.execute("BEGIN")
    connection.executemany(sql, rows)
    connection.execute("COMMIT")


def _uuid(rng: random.Random) -> str:
    # A version-4 UUID string from the seeded generator, formatted without uuid.UUID's cost.
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _timestamp(rng: random.Random) -> str:
    seconds = _BASE_TIME + rng.randrange(0, 365 * 86_400)
    return _iso(seconds)


def _iso(seconds: int) -> str:
    # SQLAlchemy's DateTime storage format for SQLite: "YYYY-MM-DD HH:MM:SS.ffffff".
    days, rest = divmod(seconds - _BASE_TIME, 86_400)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    month, day = divmod(days, 28)
    return f"2025-{1 + month % 12:02d}-{1 + day:02d} {hour:02d}:{minute:02d}:{second:02d}.000000"


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(_WORDS, k=words))


def _conversations(rng: random.Random, ids: list[str]) -> Iterator[tuple[object, ...]]:
    for index, conversation_id in enumerate(ids):
        created = _timestamp(rng)
        yield (
            conversation_id,
            f"Conversation {index}: {_sentence(rng, 4)}",
            f"user-{rng.randrange(1000)}",
            rng.random() < 0.9,
            created,
            created if index % 3 else None,
        )


def _messages(
    rng: random.Random, conversation_ids: list[str], count: int
) -> Iterator[tuple[object, ...]]:
    # Pools keep 2M rows fast to generate; the index suffix keeps every content distinct.
    sentences = [_sentence(rng, 30) for _ in range(4096)]
    stamps = [_timestamp(rng) for _ in range(4096)]
    getrandbits = rng.getrandbits
    for index in range(count):
        yield (
            _uuid(rng),
            conversation_ids[index % len(conversation_ids)],
            _ROLES[index % 3],
            f"{sentences[getrandbits(12)]} #{index}",
            1 + getrandbits(12) if index % 7 else None,
            stamps[getrandbits(12)],
        )


def _documents(rng: random.Random, count: int) -> Iterator[tuple[object, ...]]:
    for index in range(count):
        embedding = [round(rng.uniform(-1, 1), 6) for _ in range(EMBEDDING_DIMENSIONS)]
        yield (
            _uuid(rng),
            f"Document {index}",
            _sentence(rng, 25),
            "text/markdown" if index % 2 else "application/pdf",
            rng.randrange(100, 10_000_000),
            json.dumps(rng.sample(_WORDS, 3)),
            json.dumps(embedding),
            _timestamp(rng),
        )


def _add_bad_data(
    connection: sqlite3.Connection, rng: random.Random, conversation_ids: list[str]
) -> dict[str, list[tuple[object, ...]]]:
    """Edge values and table shapes; returns the keys of rows Weaviate cannot hold."""
    connection.executescript(BAD_SCHEMA)
    connection.execute("BEGIN")
    first = conversation_ids[0]
    bad_message = _uuid(rng)
    connection.execute(
        "INSERT INTO messages VALUES (?, ?, 'user', CAST(? AS TEXT), NULL, ?)",
        (bad_message, first, b"caf\xe9 latin-1, not UTF-8", _timestamp(rng)),
    )
    nul_message = (_uuid(rng), first, "assistant", "before\x00after\x00", 3, _timestamp(rng))
    unicode_message = (
        _uuid(rng),
        first,
        "user",
        "emoji \U0001f600, RTL \u05e9\u05dc\u05d5\u05dd, combining e\u0301, \u2028 separator",
        None,
        _timestamp(rng),
    )
    connection.executemany(
        "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", [nul_message, unicode_message]
    )
    big_document = _uuid(rng)
    connection.execute(
        "INSERT INTO documents VALUES (?, 'big', ?, 'text/plain', ?, NULL, NULL, ?)",
        (big_document, "x" * BIG_VALUE_BYTES, BIG_VALUE_BYTES, _timestamp(rng)),
    )
    broken_vector = _uuid(rng)
    connection.execute(
        "INSERT INTO documents VALUES (?, 'broken vector', NULL, NULL, NULL, NULL, ?, ?)",
        (broken_vector, "[1.0, NaN, 2.0]", _timestamp(rng)),
    )
    edge_rows: list[tuple[object, ...]] = [
        (1, "max int64", 2**63 - 1, 0.5, b"\x00\x01\xff", "2024-01-02", 1),
        (2, "min int64", -(2**63), -0.0, b"", "2024-01-02 03:04:05", 2.5),
        (3, "2^53 + 1", 2**53 + 1, 1e308, None, "2024-01-02T03:04:05.123456Z", "text"),
        (4, "NaN stored as NULL", 0, float("nan"), bytes(range(256)), "0001-01-01", b"\x01"),
        (5, "+inf", 42, float("inf"), None, "2024-02-30", None),
        (6, "-inf", -42, float("-inf"), None, "yesterday", None),
        (7, None, None, None, None, "2024-06-01T12:00:00+05:30", None),
        (8, "", 2**53, 5e-324, b"blob", "9999-12-31T23:59:59.999999Z", -(2**53)),
    ]
    connection.executemany("INSERT INTO edge_values VALUES (?, ?, ?, ?, ?, ?, ?)", edge_rows)
    connection.executemany(
        "INSERT INTO conversation_tags VALUES (?, ?, ?)",
        [(cid, tag, rng.random()) for cid in conversation_ids[:50] for tag in ("a", "b", "ü")],
    )
    connection.executemany(
        "INSERT INTO settings VALUES (?, ?)",
        [("theme", "dark"), ("limits", json.dumps({"rpm": 60})), ("Émoji", "\U0001f680")],
    )
    connection.executemany(
        "INSERT INTO audit_log VALUES (?, ?)",
        [(f"event {i}", _timestamp(rng)) for i in range(20)] + [(None, None)],
    )
    connection.execute("COMMIT")
    return {
        "messages": [(bad_message,)],
        "documents": [(broken_vector,)],
        # +-inf ratio; a BLOB in `anything`, which mostly holds numbers and text (-> text).
        "edge_values": [(4,), (5,), (6,)],
    }
