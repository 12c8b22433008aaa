"""The sink checks every per-object error, retries with backoff and reports what keeps failing."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from weaviate.exceptions import WeaviateBatchError

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.migration.mapping import MigrationObject
from datamigration_operator.migration.not_retryable import NotRetryableError
from datamigration_operator.migration.sink.weaviate_sink import (
    CollectionKeeper,
    RateLimiter,
    SinkSettings,
    TargetResetError,
    TransientSinkError,
    WeaviateAuthError,
    WeaviateSink,
    backoff_delay,
    connect,
    missing_collection,
    root_cause,
)
from tests.note_plan import NOTE_PLAN as PLAN

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
    with pytest.raises(WeaviateAuthError, match="Weaviate refused the API key"):
        sink.write(PLAN, *_objects(1))
    assert len(connection.calls) == 1


class FailedCall(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class SingleTryStub:
    """The channel's BatchObjects, as `client_retries=False` calls it (no client retry loop)."""

    def __init__(self, outcomes: list[FailedCall | dict[int, str]]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[list[str], Any, float]] = []

    def BatchObjects(self, request: Any, metadata: Any, timeout: float) -> Any:  # noqa: N802
        self.calls.append(([o.uuid for o in request.objects], metadata, timeout))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, FailedCall):
            raise outcome
        errors = [SimpleNamespace(index=i, error=m) for i, m in outcome.items()]
        return SimpleNamespace(errors=errors)


def _single_try_sink(
    outcomes: list[FailedCall | dict[int, str]], **settings: Any
) -> tuple[WeaviateSink, SingleTryStub, list[float]]:
    stub = SingleTryStub(outcomes)
    connection = SimpleNamespace(
        grpc_stub=stub,
        grpc_headers=lambda: (("authorization", "Bearer k"),),
        timeout_config=SimpleNamespace(insert=7),
    )
    sleeps: list[float] = []
    sink = WeaviateSink(
        SimpleNamespace(_connection=connection),
        SinkSettings(**{"client_retries": False, **settings}),
        sleep=sleeps.append,
        seed=1,
    )
    return sink, stub, sleeps


def test_without_client_retries_each_try_is_one_call_with_the_clients_headers_and_timeout() -> None:
    unavailable = FailedCall(grpc.StatusCode.UNAVAILABLE, "connection refused")
    sink, stub, sleeps = _single_try_sink([unavailable, {1: "busy"}, {}], max_attempts=3)
    outcome = sink.write(PLAN, *_objects(2))
    assert (outcome.written, outcome.failed) == (2, [])
    assert [len(uuids) for uuids, _, _ in stub.calls] == [2, 2, 1]
    assert {(metadata, timeout) for _, metadata, timeout in stub.calls} == {
        ((("authorization", "Bearer k"),), 7)
    }
    assert len(sleeps) == 2  # our backoff, not the client's


def test_without_client_retries_a_failed_call_is_transient_after_one_try() -> None:
    sink, stub, sleeps = _single_try_sink(
        [FailedCall(grpc.StatusCode.DEADLINE_EXCEEDED, "slow")], max_attempts=1
    )
    with pytest.raises(TransientSinkError, match="DEADLINE_EXCEEDED: slow"):
        sink.write(PLAN, *_objects(1))
    assert (len(stub.calls), sleeps) == (1, [])


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED]
)
def test_without_client_retries_refused_credentials_are_not_retried(
    code: grpc.StatusCode,
) -> None:
    sink, stub, _ = _single_try_sink([FailedCall(code, "no key")], max_attempts=4)
    with pytest.raises(WeaviateAuthError, match=f"refused the API key .*{code.name}: no key"):
        sink.write(PLAN, *_objects(1))
    assert len(stub.calls) == 1


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


# -- collections that vanish mid-run ------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "collection"),
    [
        ("could not find class Message in schema", "Message"),  # the sandbox, the shard path
        ("class 'Message' not present in schema", "Message"),  # weaviate-server's batch path
        ("class Note not found in schema", "Note"),
        ("no such property", None),
    ],
)
def test_missing_collection_errors_are_recognised(message: str, collection: str | None) -> None:
    assert missing_collection(message) == collection


class Schema:
    """ensure_collections' view of Weaviate: which collections exist, what it created."""

    def __init__(self) -> None:
        self.existing: set[str] = set()
        self.created: list[str] = []

    def ensure(self, client: Any, plans: Any, *, owner: str) -> list[str]:
        made = [plan.collection for plan in plans if plan.collection not in self.existing]
        self.existing.update(made)
        self.created.extend(made)
        return made


def _keeper(monkeypatch: pytest.MonkeyPatch, limit: int = 3) -> tuple[CollectionKeeper, Schema]:
    schema = Schema()
    monkeypatch.setattr(
        "datamigration_operator.migration.sink.weaviate_sink.ensure_collections", schema.ensure
    )
    return CollectionKeeper(SimpleNamespace(), [PLAN], owner="t/t", limit=limit), schema


def test_a_vanished_collection_is_recreated_once_and_the_run_told_to_start_over(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    keeper, schema = _keeper(monkeypatch)
    gone = f"could not find class {PLAN.collection} in schema"
    connection = FakeConnection(lambda uuids: dict.fromkeys(range(len(uuids)), gone))
    sink = WeaviateSink(
        SimpleNamespace(_connection=connection),
        SinkSettings(max_attempts=4),
        sleep=lambda _: None,
        keeper=keeper,
    )
    with pytest.raises(TargetResetError) as raised:
        sink.write(PLAN, *_objects(3))
    assert raised.value.collections == [PLAN.collection]
    assert schema.created == [PLAN.collection]
    assert keeper.recreations == 1
    assert len(connection.calls) == 1  # no retries into a collection that is not there
    warnings = [r for r in caplog.records if "vanished" in r.getMessage()]
    assert len(warnings) == 1


def test_batches_that_saw_the_same_loss_recreate_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    keeper, schema = _keeper(monkeypatch)
    assert keeper.recreate(seen=0) == [PLAN.collection]
    # a second batch, sent before the recreation, reports the same loss: nothing more to do
    assert keeper.recreate(seen=0) == [PLAN.collection]
    assert (keeper.recreations, schema.created) == (1, [PLAN.collection])


def test_recreation_is_bounded_then_the_objects_fail_by_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    keeper, schema = _keeper(monkeypatch, limit=2)
    for seen in range(2):
        schema.existing.clear()  # lost again
        assert keeper.recreate(seen=seen)
    schema.existing.clear()
    assert keeper.recreate(seen=2) == []  # the limit: no third recreation
    gone = f"could not find class {PLAN.collection} in schema"
    sink = WeaviateSink(
        SimpleNamespace(_connection=FakeConnection(lambda uuids: {0: gone})),
        SinkSettings(max_attempts=3),
        sleep=lambda _: None,
        keeper=keeper,
    )
    outcome = sink.write(PLAN, *_objects(2))
    assert outcome.written == 1
    assert [(f.key, f.message) for f in outcome.failed] == [((0,), gone)]
    assert keeper.recreations == 2
    assert len([r for r in caplog.records if "vanished" in r.getMessage()]) == 1


def test_a_missing_collection_that_exists_again_is_just_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stale error (the collection is there when the keeper looks): no reset, the batch is
    retried as any failed object."""
    keeper, schema = _keeper(monkeypatch)
    schema.existing.add(PLAN.collection)
    answers = iter([{0: f"could not find class {PLAN.collection} in schema"}, {}])
    sink = WeaviateSink(
        SimpleNamespace(_connection=FakeConnection(lambda uuids: next(answers))),
        SinkSettings(max_attempts=3),
        sleep=lambda _: None,
        keeper=keeper,
    )
    assert sink.write(PLAN, *_objects(2)).written == 2
    assert keeper.recreations == 0


def test_the_root_cause_of_a_connection_failure_is_named() -> None:
    outer = RuntimeError("Connection to Weaviate failed. Details: ")
    outer.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert root_cause(outer) == "Connection refused"
    assert root_cause(RuntimeError("plain")) == "plain"


def test_an_endpoint_the_client_cannot_use_is_not_retried() -> None:
    same = Endpoint(host="127.0.0.1", port=8080)
    with pytest.raises(NotRetryableError, match="must be different"):
        connect(JobTarget(http=same, grpc=same, tls=False), None)
