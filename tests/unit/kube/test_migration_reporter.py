"""The Job's report ConfigMap: a fresh DNS-1123 name per attempt, only ever created."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from datamigration_operator.api.job_contract import MigrationRef
from datamigration_operator.api.names import LABEL_DATAMIGRATION, LABEL_MANAGED_BY
from datamigration_operator.kube.migration_reporter import (
    LABEL_REPORT_OF,
    MAX_REPORT_NAMES,
    MigrationReporter,
    attempt_token,
    report_name,
)

DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
REF = MigrationRef(namespace="apps", name="chat", uid="0b5e4c1e-2f6a-4f3e-9a51-1f0a7a1b2c3d")
JOB = "chat-migrate-7f3a9c"


def test_the_attempt_is_the_random_suffix_of_the_pod_name() -> None:
    assert attempt_token(f"{JOB}-x7k2p") == "x7k2p"
    assert attempt_token("Pod_Name-AB_c9") == "abc9"


def test_without_a_pod_name_the_attempt_is_random() -> None:
    first, second = attempt_token(None), attempt_token("")
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{8}", first)


def test_report_names_are_per_attempt_then_numbered() -> None:
    assert report_name(JOB, "x7k2p") == f"{JOB}-report-x7k2p"
    assert report_name(JOB, "x7k2p", 2) == f"{JOB}-report-x7k2p-2"


@pytest.mark.parametrize("job", ["a" * 300, "b" * 240 + "-" * 20, "c.d-" * 70])
def test_a_long_job_name_is_cut_to_a_valid_name(job: str) -> None:
    name = report_name(job, "x7k2p", MAX_REPORT_NAMES)
    assert len(name) <= 253
    assert DNS_1123_SUBDOMAIN.fullmatch(name), name
    assert name.endswith(f"-report-x7k2p-{MAX_REPORT_NAMES}")


class FakeConfigMaps:
    """CoreV1Api's ConfigMap calls: create answers like the API server; anything else fails."""

    def __init__(self, taken: set[str] | None = None, status: int | None = None) -> None:
        self.taken = taken or set()
        self.status = status
        self.created: list[dict[str, Any]] = []
        self.attempted: list[str] = []

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        assert namespace == REF.namespace
        name = body["metadata"]["name"]
        self.attempted.append(name)
        if self.status is not None:
            raise ApiException(status=self.status, reason="Forbidden")
        if name in self.taken:
            raise ApiException(status=409, reason="AlreadyExists")
        self.taken.add(name)
        self.created.append(body)
        return body


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeConfigMaps:
    configmaps = FakeConfigMaps()

    def create(_core: Any, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return configmaps.create(namespace, body)

    monkeypatch.setattr(client.CoreV1Api, "create_namespaced_config_map", create)

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a report is only ever created")

    for method in ("replace", "patch", "delete", "read"):
        monkeypatch.setattr(client.CoreV1Api, f"{method}_namespaced_config_map", refuse)
    return configmaps


def reporter() -> MigrationReporter:
    return MigrationReporter(REF, api=client.ApiClient(), attempt="x7k2p")


def test_the_report_is_created_owned_and_labelled(fake: FakeConfigMaps) -> None:
    name = reporter().write_report(JOB, ["messages/[1]: column v: bad"], "1 objects failed")

    assert name == f"{JOB}-report-x7k2p"
    (body,) = fake.created
    assert body["data"] == {"summary": "1 objects failed", "keys": "messages/[1]: column v: bad\n"}
    meta = body["metadata"]
    assert meta["labels"] == {
        LABEL_MANAGED_BY: "datamigration-operator",
        LABEL_DATAMIGRATION: REF.name,
        LABEL_REPORT_OF: JOB,
    }
    # no blockOwnerDeletion (it would need update on datamigrations/finalizers), no controller
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "migrations.gremlins.ai/v1alpha1",
            "kind": "DataMigration",
            "name": REF.name,
            "uid": REF.uid,
        }
    ]


def test_a_taken_name_is_never_replaced_the_next_one_is_used(fake: FakeConfigMaps) -> None:
    fake.taken |= {report_name(JOB, "x7k2p"), report_name(JOB, "x7k2p", 2)}

    name = reporter().write_report(JOB, [], "0 objects failed")

    assert name == report_name(JOB, "x7k2p", 3)
    assert fake.attempted == [report_name(JOB, "x7k2p", n) for n in (1, 2, 3)]
    assert fake.created[0]["data"]["keys"] == ""


def test_every_name_taken_gives_up_without_replacing(
    fake: FakeConfigMaps, caplog: pytest.LogCaptureFixture
) -> None:
    fake.taken |= {report_name(JOB, "x7k2p", n) for n in range(1, MAX_REPORT_NAMES + 1)}

    with caplog.at_level(logging.WARNING):
        assert reporter().write_report(JOB, ["k"], "1 objects failed") is None

    assert len(fake.attempted) == MAX_REPORT_NAMES
    assert fake.created == []
    assert "already exist" in caplog.text


def test_a_forbidden_create_is_logged_once_and_reported_as_no_report(
    fake: FakeConfigMaps, caplog: pytest.LogCaptureFixture
) -> None:
    fake.status = 403

    with caplog.at_level(logging.WARNING):
        assert reporter().write_report(JOB, ["k"], "1 objects failed") is None

    assert fake.attempted == [report_name(JOB, "x7k2p")]
    assert "403" in caplog.text


def test_the_attempt_defaults_to_the_pod_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", f"{JOB}-q9w8e")
    assert MigrationReporter(REF, api=client.ApiClient()).attempt == "q9w8e"
