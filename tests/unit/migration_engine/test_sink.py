"""The sink checks every per-object error, retries with backoff and reports what keeps failing."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from weaviate.exceptions import WeaviateBatchError

from datamigration_operator.migration.mapping import CollectionPlan, MigrationObject, PropertyPlan
from datamigration_operator.migration.sink import (
    RateLimiter,
    SinkError,
    SinkSettings,
    TransientSinkError,
    WeaviateSink,
    backoff_delay,
)

PLAN = CollectionPlan(
    table="notes",
    collection="Note",
    key_columns=("id",),
    properties=(PropertyPlan("body", "body", "text"),),
    references=(),
    vector_column=None,
)
Script = Callable[[list[str]], dict[int, str]]


class FakeConnection:
    timeout_config = SimpleNamespace(insert=5)

    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    def grpc_batch_objects(self, request: Any, timeout: float, max_retries: float) -> Any:
        uuids = [obj.uuid for obj in request.objects]
        self.calls.append(uuids)
        return self.script(uuids)


def _sink(script: Script, **settings: Any) -> tuple[WeaviateSink, FakeConnection, list[float]]:
    connection = FakeConnection(script)
    sleeps: list[float] = []
    sink = WeaviateSink(
        SimpleNamespace(_connection=connection),
        SinkSettings(**{"max_attempts": 4, **settings}),
        sleep=sleeps.append,
        seed=1,
    )
    return sink, connection, sleeps


def _objects(count: int) -> tuple[list[MigrationObject], list[tuple[int]]]:
    objects = [
        MigrationObject(uuid.UUID(int=i + 1), {"body": f"b{i}"}, {}, None) for i in range(count)
    ]
    return objects, [(i,) for i in range(count)]


def test_failed_objects_are_retried_alone_until_they_land() -> None:
    failing = {str(uuid.UUID(int=2)), str(uuid.UUID(int=5))}

    def fail_once(uuids: list[str]) -> dict[int, str]:
        errors = {i: "busy" for i, u in enumerate(uuids) if u in failing}
        failing.clear()
        return errors

    sink, connection, sleeps = _sink(fail_once)
    objects, keys = _objects(6)
    outcome = sink.write(PLAN, objects, keys)
    assert (outcome.written, outcome.failed, outcome.retried_objects) == (6, [], 2)
    assert connection.calls[1] == [str(uuid.UUID(int=2)), str(uuid.UUID(int=5))]
    assert len(sleeps) == 1


def test_an_object_that_keeps_failing_is_reported_by_key_with_its_message() -> None:
    bad = str(uuid.UUID(int=3))
    sink, connection, sleeps = _sink(
        lambda uuids: {i: "no such property" for i, u in enumerate(uuids) if u == bad}
    )
    objects, keys = _objects(4)
    outcome = sink.write(PLAN, objects, keys)
    assert outcome.written == 3
    assert [(f.table, f.key, f.message) for f in outcome.failed] == [
        ("notes", (2,), "no such property")
    ]
    assert len(connection.calls) == 4
    assert len(sleeps) == 3


def test_requests_failing_to_the_last_attempt_raise_a_retryable_error() -> None:
    def unavailable(uuids: list[str]) -> dict[int, str]:
        raise WeaviateBatchError("connection refused")

    sink, _, _ = _sink(unavailable)
    with pytest.raises(TransientSinkError, match="after 4 attempts"):
        sink.write(PLAN, *_objects(2))


def test_an_unavailable_burst_is_retried() -> None:
    burst = [True, True]

    def flaky(uuids: list[str]) -> dict[int, str]:
        if burst:
            burst.pop()
            raise WeaviateBatchError("UNAVAILABLE")
        return {}

    sink, _, sleeps = _sink(flaky)
    assert sink.write(PLAN, *_objects(3)).written == 3
    assert len(sleeps) == 2


def test_refused_credentials_are_not_retried() -> None:
    def refuse(uuids: list[str]) -> dict[int, str]:
        raise WeaviateBatchError("unauthenticated: a valid API key is required")

    sink, connection, _ = _sink(refuse)
    with pytest.raises(SinkError, match="refused"):
        sink.write(PLAN, *_objects(1))
    assert len(connection.calls) == 1


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    settings = SinkSettings(base_delay=0.1, max_delay=1.0)
    rng = random.Random(0)
    for attempt in range(1, 8):
        delays = [backoff_delay(attempt, settings, rng) for _ in range(200)]
        ceiling = min(1.0, 0.1 * 2**attempt)
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8


def test_rate_limiter_spaces_objects_to_the_configured_rate() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1_000, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire(500)
    assert waits == [0.5, 0.5, 0.5]
    RateLimiter(0, clock=lambda: now[0], sleep=sleep).acquire(10**9)
    assert len(waits) == 3
