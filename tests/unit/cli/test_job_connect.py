"""The Jobs' connection to Weaviate: sync and validate wait out an outage (bounded by
drainTimeout), the copy fails at once."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_operator.api.job_contract import JobConfig
from datamigration_operator.cli import job as job_cli
from datamigration_operator.migration.sink.weaviate_sink import WeaviateUnreachableError
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


def test_the_copy_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_cli, "connect", down_for(1))
    clock = Clock()
    with pytest.raises(ConnectionError):
        job_cli._connect(
            "copy", config("copy"), None, sleep=clock.sleep, monotonic=lambda: clock.now
        )
    assert clock.slept == []
