"""The Jobs' connection to Weaviate: sync and validate wait out an outage (bounded by
drainTimeout), the copy fails within seconds, for good."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_operator.api.job_contract import NON_RETRYABLE_EXIT_CODE, JobConfig
from datamigration_operator.cli import job as job_cli
from datamigration_operator.migration.runs.exit_codes import EXIT_RETRYABLE, classify
from datamigration_operator.migration.sink.weaviate_sink import (
    EndpointUnreachableError,
    WeaviateUnreachableError,
)
from tests.unit.builders.test_job import container, job


def config(kind: str, drain_timeout: str = "10s") -> JobConfig:
    raw = JobConfig.model_validate_json(container(job())["env"][0]["value"])
    return raw.model_copy(update={"kind": kind, "drain_timeout": drain_timeout})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def down_for(attempts: int) -> Any:
    calls = {"n": 0}

    def connect(target: Any, api_key: str | None) -> str:
        calls["n"] += 1
        if calls["n"] <= attempts:
            raise WeaviateUnreachableError("Weaviate at 127.0.0.1:8080 is not ready")
        return "client"

    return connect


@pytest.mark.parametrize("kind", ["sync", "validate"])
def test_sync_and_validate_wait_out_an_outage(
    kind: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(job_cli, "connect", down_for(4))
    clock = Clock()
    client = job_cli._connect(
        kind,  # type: ignore[arg-type]
        config(kind),
        None,
        sleep=clock.sleep,
        monotonic=lambda: clock.now,
    )
    assert client == "client"
    assert clock.slept == [0.5, 1.0, 2.0, 4.0]
    assert capsys.readouterr().out.count('"reason": "WeaviateUnavailable"') == 4


def test_the_wait_ends_at_the_drain_timeout_with_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_cli, "connect", down_for(1_000))
    clock = Clock()
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:8080"):
        job_cli._connect(
            "validate",
            config("validate", "10s"),
            None,
            sleep=clock.sleep,
            monotonic=lambda: clock.now,
        )
    assert sum(clock.slept) <= 10


def test_the_copy_fails_within_seconds_for_good_naming_the_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The copy is the first to reach its endpoint: after a short grace (a blip), nobody there is
    a wrong host or port, and a new pod would not find it either: exit 42 at once."""
    monkeypatch.setattr(job_cli, "connect", down_for(1_000))
    clock = Clock()
    with pytest.raises(EndpointUnreachableError, match=r"127\.0\.0\.1:8080") as raised:
        job_cli._connect(
            "copy", config("copy"), None, sleep=clock.sleep, monotonic=lambda: clock.now
        )
    assert sum(clock.slept) <= job_cli.COPY_CONNECT_GRACE
    assert classify(raised.value) == (NON_RETRYABLE_EXIT_CODE, "WeaviateUnreachable")


def test_the_copy_gets_past_a_blip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_cli, "connect", down_for(2))
    clock = Clock()
    client = job_cli._connect(
        "copy", config("copy"), None, sleep=clock.sleep, monotonic=lambda: clock.now
    )
    assert client == "client"
    assert clock.slept == [0.5, 1.0]


def test_sync_and_validate_outages_stay_retryable() -> None:
    error = WeaviateUnreachableError("Weaviate at http://127.0.0.1:8080 unreachable")
    assert classify(error) == (EXIT_RETRYABLE, "WeaviateUnavailable")
