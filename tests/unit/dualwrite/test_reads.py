"""ReadRouter routing, conversion and fallback with a recording stand-in for weaviate-client."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from prometheus_client import CollectorRegistry
from weaviate.exceptions import WeaviateQueryError

from datamigration_operator.dualwrite.read_fallback import (
    ReadGuard,
    WeaviateReadSkippedError,
    WeaviateReadTimeoutError,
)
from datamigration_operator.dualwrite.reads import ReadRouter, Row
from datamigration_operator.migration.mapping import (
    CollectionPlan,
    PropertyPlan,
    ReferencePlan,
    object_uuid,
)

MESSAGES = CollectionPlan(
    table="messages",
    collection="Message",
    key_columns=("id",),
    properties=(
        PropertyPlan("content", "content", "text"),
        PropertyPlan("tokens", "tokens", "int"),
        PropertyPlan("created_at", "created_at", "date"),
        PropertyPlan("author", "author", "text"),
    ),
    references=(ReferencePlan("conversation_id", "conversation", "conversations", "Conversation"),),
    vector_column=None,
)
DOCUMENTS = CollectionPlan(
    table="documents",
    collection="Document",
    key_columns=("id",),
    properties=(PropertyPlan("title", "title", "text"),),
    references=(),
    vector_column="embedding",
)
STORED = {"content": "hi", "tokens": 3.0, "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
CONVERTED: Row = {
    "content": "hi",
    "tokens": 3,
    "created_at": "2026-01-02T03:04:05Z",
    "author": None,
}


def stored(**metadata: Any) -> Any:
    return SimpleNamespace(
        uuid=UUID(int=1), properties=dict(STORED), metadata=SimpleNamespace(**metadata)
    )


@dataclass
class FakeQuery:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: Exception | None = None
    release: threading.Event | None = None  # holds every call until set

    def _answer(self, name: str, kwargs: dict[str, Any], answer: Any) -> Any:
        self.calls.append((name, kwargs))
        if self.release is not None:
            self.release.wait(5)
        if self.error is not None:
            raise self.error
        return answer

    def fetch_object_by_id(self, uuid: UUID, **kwargs: Any) -> Any:
        return self._answer("by_id", {"uuid": uuid, **kwargs}, stored())

    def fetch_objects(self, **kwargs: Any) -> Any:
        return self._answer("fetch", kwargs, SimpleNamespace(objects=[stored(), stored()]))

    def bm25(self, **kwargs: Any) -> Any:
        return self._answer("bm25", kwargs, SimpleNamespace(objects=[stored(score=1.5)]))

    def near_vector(self, **kwargs: Any) -> Any:
        return self._answer("near", kwargs, SimpleNamespace(objects=[stored(distance=0.25)]))


@dataclass
class Mode:
    mode: str = "weaviate_primary"

    def current(self) -> str:
        return self.mode


class FakeClient:
    def __init__(self) -> None:
        self.query = FakeQuery()
        self.used: list[str] = []
        self.collections = SimpleNamespace(use=self._use)

    def _use(self, name: str) -> Any:
        self.used.append(name)
        return SimpleNamespace(query=self.query)


@dataclass
class Env:
    client: FakeClient
    mode: Mode
    registry: CollectorRegistry
    router: ReadRouter

    def counter(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(f"datamigration_dualwrite_{name}_total", labels) or 0


def make(*, fallback: bool = True, guard: ReadGuard | None = None) -> Env:
    client, mode, registry = FakeClient(), Mode(), CollectorRegistry()
    router = ReadRouter(
        client,
        [MESSAGES, DOCUMENTS],
        namespace="apps",
        name="chat",
        mode=mode,
        fallback=fallback,
        guard=guard or ReadGuard(timeout=5),
        registry=registry,
    )
    return Env(client, mode, registry, router)


SQLITE_ROW: Row = {"from": "sqlite"}


def every_read(router: ReadRouter) -> list[object]:
    return [
        router.by_id("messages", "m1", lambda: SQLITE_ROW),
        router.by_reference("messages", "conversation_id", "c1", lambda: [SQLITE_ROW]),
        router.bm25("messages", "hello", lambda: [SQLITE_ROW]),
        router.near_vector("documents", [1.0, 0.0], lambda: [SQLITE_ROW]),
        router.near_text("documents", "hi", lambda _t: [1.0], lambda: [SQLITE_ROW]),
    ]


@pytest.mark.parametrize("mode", ["sqlite_only", "dual_write"])
def test_other_modes_run_the_sqlite_query_and_never_touch_weaviate(mode: str) -> None:
    env = make()
    env.mode.mode = mode
    assert every_read(env.router) == [SQLITE_ROW] + [[SQLITE_ROW]] * 4
    assert env.client.query.calls == []
    assert env.counter("reads", kind="bm25", table="messages", source="sqlite") == 1


def test_weaviate_primary_reads_weaviate_and_converts_rows() -> None:
    env = make()
    by_id, by_ref, bm25, near, near_text = every_read(env.router)
    assert by_id == CONVERTED | {"id": "m1"}
    assert by_ref == [CONVERTED | {"conversation_id": "c1"}] * 2
    assert bm25 == [CONVERTED | {"_score": 1.5}]
    # documents map only a title, which the stand-in object lacks: it reads as NULL
    assert near == near_text == [{"title": None, "_distance": 0.25}]
    assert [name for name, _ in env.client.query.calls] == [
        "by_id",
        "fetch",
        "bm25",
        "near",
        "near",
    ]
    assert env.client.used == ["Message", "Message", "Message", "Document", "Document"]
    assert env.counter("reads", kind="by_id", table="messages", source="weaviate") == 1


def test_ids_and_reference_filters_use_the_migration_ids() -> None:
    env = make()
    every_read(env.router)
    calls = dict(env.client.query.calls)
    assert calls["by_id"]["uuid"] == object_uuid("apps/chat", "messages", ("m1",))
    where = calls["fetch"]["filters"]
    assert where.target.link_on == "conversation"
    assert str(where.value) == str(object_uuid("apps/chat", "conversations", ("c1",)))


def test_a_property_foreign_key_is_matched_on_its_value() -> None:
    env = make()
    env.router.by_reference("messages", "author", "ann", list, order_by="created_at", limit=5)
    (_, call), *_ = env.client.query.calls
    assert (call["filters"].target, call["filters"].value, call["limit"]) == ("author", "ann", 5)
    assert call["sort"] is not None


def test_weaviate_error_falls_back_and_is_counted() -> None:
    env = make()
    env.client.query.error = WeaviateQueryError("boom", "GRPC")
    assert every_read(env.router) == [SQLITE_ROW] + [[SQLITE_ROW]] * 4
    assert env.counter("read_fallbacks", kind="near_text", table="documents") == 1
    assert env.counter("reads", kind="by_id", table="messages", source="sqlite_fallback") == 1


def test_fallback_off_propagates_the_error() -> None:
    env = make(fallback=False)
    env.client.query.error = WeaviateQueryError("boom", "GRPC")
    with pytest.raises(WeaviateQueryError):
        env.router.by_id("messages", "m1", lambda: SQLITE_ROW)
    assert env.counter("read_fallbacks", kind="by_id", table="messages") == 0


def test_a_bug_is_not_a_weaviate_failure_and_is_not_hidden() -> None:
    env = make()
    env.client.query.error = TypeError("a programming error")
    with pytest.raises(TypeError):
        env.router.bm25("messages", "x", lambda: [SQLITE_ROW])


def test_slow_weaviate_times_out_then_the_breaker_skips_it() -> None:
    now = [100.0]
    env = make(guard=ReadGuard(timeout=0.05, cooldown=10, clock=lambda: now[0]))
    env.client.query.release = threading.Event()
    try:
        assert env.router.by_id("messages", "m1", lambda: SQLITE_ROW) is SQLITE_ROW
        assert len(env.client.query.calls) == 1
        # breaker open: straight to SQLite, Weaviate not asked
        assert env.router.by_id("messages", "m1", lambda: SQLITE_ROW) is SQLITE_ROW
        assert len(env.client.query.calls) == 1
        assert env.counter("read_fallbacks", kind="by_id", table="messages") == 2
    finally:
        env.client.query.release.set()
    now[0] += 11
    assert env.router.by_id("messages", "m1", lambda: SQLITE_ROW) == CONVERTED | {"id": "m1"}


def test_guard_errors_propagate_without_fallback() -> None:
    now = [0.0]
    guard = ReadGuard(timeout=0.05, cooldown=10, clock=lambda: now[0])
    env = make(fallback=False, guard=guard)
    env.client.query.release = threading.Event()
    try:
        with pytest.raises(WeaviateReadTimeoutError):
            env.router.by_id("messages", "m1", lambda: SQLITE_ROW)
        with pytest.raises(WeaviateReadSkippedError):
            env.router.by_id("messages", "m1", lambda: SQLITE_ROW)
    finally:
        env.client.query.release.set()


@pytest.mark.parametrize("mode", ["sqlite_only", "weaviate_primary"])
def test_bad_input_is_refused_in_every_mode_before_any_read(mode: str) -> None:
    env = make()
    env.mode.mode = mode
    ran: list[str] = []

    def sqlite() -> list[Row]:
        ran.append("sqlite")
        return []

    with pytest.raises(ValueError, match="not migrated"):
        env.router.bm25("nosuch", "x", sqlite)
    with pytest.raises(ValueError, match="has key"):
        env.router.by_id("messages", ("a", "b"), lambda: None)
    with pytest.raises(ValueError, match="not a migrated property"):
        env.router.bm25("messages", "x", sqlite, columns=["nosuch"])
    with pytest.raises(ValueError, match="limit"):
        env.router.by_reference("messages", "conversation_id", "c", sqlite, limit=0)
    with pytest.raises(ValueError, match="foreign-key value"):
        env.router.by_reference("messages", "conversation_id", 1.5, sqlite)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no vector column"):
        env.router.near_vector("messages", [1.0], sqlite)
    assert ran == []
    assert env.client.query.calls == []


def test_guard_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="timeout"):
        ReadGuard(timeout=0)
    with pytest.raises(ValueError, match="cooldown"):
        ReadGuard(cooldown=-1)
