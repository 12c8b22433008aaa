"""ReadRouter against the sandbox Weaviate through the real weaviate-client."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from datamigration_operator.dualwrite.read_fallback import ReadGuard, WeaviateReadTimeoutError
from datamigration_operator.dualwrite.reads import ReadRouter, Row
from datamigration_operator.migration.mapping import CollectionPlan, row_to_object
from tests.integration.dualwrite.reads.conftest import MIGRATION_NAMESPACE, NAME, NAMESPACE, Loaded

MODES = ("sqlite_only", "dual_write", "weaviate_primary")


@dataclass
class FixedMode:
    mode: str

    def current(self) -> str:
        return self.mode


@dataclass
class Setup:
    loaded: Loaded
    mode: FixedMode
    registry: CollectorRegistry
    router: ReadRouter

    @property
    def db(self) -> sqlite3.Connection:
        return self.loaded.db

    def searches(self) -> int:
        return self.loaded.server.database.stats.search_calls

    def count(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def setup(loaded: Loaded) -> Iterator[Setup]:
    mode = FixedMode("weaviate_primary")
    registry = CollectorRegistry()
    router = ReadRouter(
        loaded.client,
        loaded.plans,
        namespace=NAMESPACE,
        name=NAME,
        mode=mode,
        registry=registry,
        # the client retries UNAVAILABLE for ~1 min; the guard gives up after 0.5 s. No
        # cooldown, so the read after recovery goes to Weaviate again.
        guard=ReadGuard(timeout=0.5, cooldown=0),
    )
    yield Setup(loaded, mode, registry, router)
    loaded.server.faults.unavailable_bursts = 0


def expected(plan: CollectionPlan, row: sqlite3.Row) -> Row:
    """A SQLite row as the router returns it from Weaviate: the mapped property values."""
    obj = row_to_object(plan, dict(row), migration_namespace=MIGRATION_NAMESPACE)
    return {p.column: obj.properties.get(p.name) for p in plan.properties}


def a_message(db: sqlite3.Connection) -> sqlite3.Row:
    row: sqlite3.Row = db.execute("SELECT * FROM messages ORDER BY id LIMIT 1 OFFSET 7").fetchone()
    return row


def test_by_id_reads_weaviate_only_in_weaviate_primary(setup: Setup) -> None:
    row = a_message(setup.db)
    plan = setup.loaded.plan("messages")
    sqlite_answer: Row = {"from": "sqlite"}
    for mode in MODES:
        setup.mode.mode = mode
        before = setup.searches()
        got = setup.router.by_id("messages", row["id"], lambda: sqlite_answer)
        if mode == "weaviate_primary":
            assert got == expected(plan, row) | {"id": row["id"]}
            assert setup.searches() > before
        else:
            assert got is sqlite_answer
            assert setup.searches() == before
    assert setup.router.by_id("messages", "no-such-id", lambda: sqlite_answer) is None


def test_by_reference_returns_the_messages_of_a_conversation(setup: Setup) -> None:
    conversation = setup.db.execute(
        "SELECT conversation_id FROM messages GROUP BY conversation_id"
        " ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    plan = setup.loaded.plan("messages")
    rows = setup.db.execute(
        "SELECT * FROM messages WHERE conversation_id = ? ORDER BY created_at", (conversation,)
    ).fetchall()
    assert len(rows) > 1
    got = setup.router.by_reference(
        "messages", "conversation_id", conversation, list, order_by="created_at"
    )
    want = [expected(plan, r) | {"conversation_id": conversation} for r in rows]
    assert sorted(map(repr, got)) == sorted(map(repr, want))
    assert [g["created_at"] for g in got] == [w["created_at"] for w in want]
    setup.mode.mode = "dual_write"
    sqlite_rows = [dict(r) for r in rows]
    assert setup.router.by_reference(
        "messages", "conversation_id", conversation, lambda: sqlite_rows
    ) == (sqlite_rows)


def words(text: str | None) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W_]+", text or "")}


def test_bm25_finds_the_documents_holding_the_word_best_first(setup: Setup) -> None:
    documents = setup.db.execute("SELECT * FROM documents").fetchall()
    word = sorted(words(documents[0]["content"]) - {"a", "the"})[0]
    holding = {d["title"] for d in documents if word in words(d["content"])}
    got = setup.router.bm25("documents", word, list, columns=["content"], limit=100)
    assert {g["title"] for g in got} == holding
    scores = [g["_score"] for g in got]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    setup.mode.mode = "sqlite_only"
    assert setup.router.bm25("documents", word, lambda: [{"sqlite": True}]) == [{"sqlite": True}]


def test_near_vector_and_near_text_put_the_same_embedding_first(setup: Setup) -> None:
    document = setup.db.execute("SELECT * FROM documents ORDER BY id LIMIT 1").fetchone()
    embedding = json.loads(document["embedding"])
    got = setup.router.near_vector("documents", embedding, list, limit=3)
    assert len(got) == 3
    assert got[0]["title"] == document["title"]
    assert got[0]["_distance"] == pytest.approx(0.0, abs=1e-5)
    by_text = setup.router.near_text(
        "documents", document["title"], lambda _text: embedding, list, limit=1
    )
    assert [r["title"] for r in by_text] == [document["title"]]


def test_weaviate_unavailable_falls_back_to_sqlite_and_counts(setup: Setup) -> None:
    row = a_message(setup.db)
    setup.loaded.server.faults.unavailable_bursts = 1_000
    sqlite_answer: Row = {"from": "sqlite"}
    assert setup.router.by_id("messages", row["id"], lambda: sqlite_answer) is sqlite_answer
    assert setup.router.bm25("documents", "weaviate", lambda: [sqlite_answer]) == [sqlite_answer]
    labels = {"kind": "by_id", "table": "messages"}
    assert setup.count("datamigration_dualwrite_read_fallbacks_total", **labels) == 1
    assert setup.count("datamigration_dualwrite_reads_total", **labels, source="weaviate") == 0
    setup.loaded.server.faults.unavailable_bursts = 0
    assert setup.router.by_id("messages", row["id"], lambda: sqlite_answer) != sqlite_answer
    assert setup.count("datamigration_dualwrite_reads_total", **labels, source="weaviate") == 1


def test_fallback_off_raises_the_weaviate_error(loaded: Loaded) -> None:
    router = ReadRouter(
        loaded.client,
        loaded.plans,
        namespace=NAMESPACE,
        name=NAME,
        mode=FixedMode("weaviate_primary"),
        fallback=False,
        guard=ReadGuard(timeout=0.5, cooldown=0),
        registry=CollectorRegistry(),
    )
    row = a_message(loaded.db)
    loaded.server.faults.unavailable_bursts = 1_000
    try:
        with pytest.raises(WeaviateReadTimeoutError):
            router.by_id("messages", row["id"], lambda: pytest.fail("no fallback wanted"))
    finally:
        loaded.server.faults.unavailable_bursts = 0
