"""The Job's side of the API through the product's client (an in-memory transport): status read
and patched through the status subresource, the report ConfigMap with a fresh DNS-1123 name per
attempt, only ever created."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from datamigration_operator.api.job_contract import MigrationRef
from datamigration_operator.api.names import LABEL_DATAMIGRATION, LABEL_MANAGED_BY
from datamigration_operator.api.status import (
    BackupStatus,
    Checkpoint,
    OutboxStatus,
    Progress,
    TableRows,
    ValidationReport,
)
from datamigration_operator.kube.blocking import BlockingKubeClient
from datamigration_operator.kube.errors import KubeApiError, KubeConnectionError
from datamigration_operator.kube.migration_reporter import (
    LABEL_REPORT_OF,
    MAX_REPORT_NAMES,
    MigrationReporter,
    ReporterError,
    attempt_token,
    report_name,
)
from datamigration_operator.kube.resources import CONFIGMAPS, DATAMIGRATIONS
from tests.unit.kube.fake_api import FakeApi

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


DM_PATH = DATAMIGRATIONS.path(REF.namespace, REF.name)
STATUS_PATH = DATAMIGRATIONS.path(REF.namespace, REF.name, "status")
CONFIGMAPS_PATH = CONFIGMAPS.path(REF.namespace)


@pytest.fixture
def fake() -> FakeApi:
    api = FakeApi()
    api.put(DM_PATH, {"metadata": {"name": REF.name, "namespace": REF.namespace, "uid": REF.uid}})
    return api


@pytest.fixture
def api(fake: FakeApi) -> Iterator[BlockingKubeClient]:
    with BlockingKubeClient(lambda: fake, retry_delay=0) as client:
        yield client


def reporter(api: BlockingKubeClient) -> MigrationReporter:
    return MigrationReporter(REF, api, attempt="x7k2p")


def created(fake: FakeApi) -> list[dict[str, Any]]:
    return [
        body for method, path, body in fake.bodies if (method, path) == ("POST", CONFIGMAPS_PATH)
    ]


def take(fake: FakeApi, *names: str) -> None:
    for name in names:
        fake.put(f"{CONFIGMAPS_PATH}/{name}", {"data": {}})


def test_the_report_is_created_owned_and_labelled(fake: FakeApi, api: BlockingKubeClient) -> None:
    name = reporter(api).write_report(JOB, ["messages/[1]: column v: bad"], "1 objects failed")

    assert name == f"{JOB}-report-x7k2p"
    assert fake.requests == [("POST", CONFIGMAPS_PATH)]  # only ever created
    (body,) = created(fake)
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


def test_a_taken_name_is_never_replaced_the_next_one_is_used(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    take(fake, report_name(JOB, "x7k2p"), report_name(JOB, "x7k2p", 2))

    name = reporter(api).write_report(JOB, [], "0 objects failed")

    assert name == report_name(JOB, "x7k2p", 3)
    assert [body["metadata"]["name"] for body in created(fake)] == [
        report_name(JOB, "x7k2p", n) for n in (1, 2, 3)
    ]
    assert {method for method, _ in fake.requests} == {"POST"}
    assert fake.objects[f"{CONFIGMAPS_PATH}/{name}"]["data"]["keys"] == ""


def test_every_name_taken_gives_up_without_replacing(
    fake: FakeApi, api: BlockingKubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    take(fake, *(report_name(JOB, "x7k2p", n) for n in range(1, MAX_REPORT_NAMES + 1)))

    with caplog.at_level(logging.WARNING):
        assert reporter(api).write_report(JOB, ["k"], "1 objects failed") is None

    assert fake.requests == [("POST", CONFIGMAPS_PATH)] * MAX_REPORT_NAMES
    assert "already exist" in caplog.text


def test_a_forbidden_create_is_logged_once_and_reported_as_no_report(
    fake: FakeApi, api: BlockingKubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail[("POST", CONFIGMAPS_PATH)] = KubeApiError(403, "Forbidden", "no")

    with caplog.at_level(logging.WARNING):
        assert reporter(api).write_report(JOB, ["k"], "1 objects failed") is None

    assert fake.requests == [("POST", CONFIGMAPS_PATH)]
    assert "403" in caplog.text


def test_a_create_is_not_retried_after_a_lost_connection(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    fake.fail[("POST", CONFIGMAPS_PATH)] = KubeConnectionError("POST: reset")

    with pytest.raises(KubeConnectionError):
        reporter(api).write_report(JOB, ["k"], "1 objects failed")

    assert fake.requests == [("POST", CONFIGMAPS_PATH)]


def test_progress_is_merged_into_status_and_read_back_as_the_checkpoint(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    progress = Progress(job=JOB, rows_done=5, checkpoint=Checkpoint(table="messages", last_key=5))

    reporter(api).publish_progress(progress)

    assert fake.requests == [("PATCH", STATUS_PATH)]
    assert fake.objects[DM_PATH]["status"]["progress"]["rowsDone"] == 5
    assert reporter(api).read_checkpoint(JOB) == progress.checkpoint
    assert reporter(api).read_checkpoint("another-job") is None
    assert fake.requests[1:] == [("GET", STATUS_PATH)] * 2  # the status subresource only


def test_validation_and_outbox_go_to_their_own_status_fields(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    reporter(api).publish_validation(ValidationReport(job=JOB, checked=3))
    reporter(api).publish_outbox(OutboxStatus(job=JOB, depth=2))

    status = fake.objects[DM_PATH]["status"]
    assert status["validation"]["checked"] == 3
    assert status["outbox"]["depth"] == 2
    assert "progress" not in status
    assert fake.requests == [("PATCH", STATUS_PATH)] * 2


def test_the_backup_goes_to_status_backup_through_the_status_subresource(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    backup = BackupStatus(
        job=JOB,
        claim="chat-data",
        path=".datamigration/backups/chat/x.sqlite",
        size_bytes=4096,
        sha256="ab" * 32,
        taken_at="2026-12-03T12:00:00Z",  # type: ignore[arg-type]
        tables=[TableRows(table="messages", rows=7)],
        retained=["x.sqlite"],
    )
    reporter(api).publish_backup(backup)

    assert fake.requests == [("PATCH", STATUS_PATH)]
    written = fake.objects[DM_PATH]["status"]["backup"]
    assert written["sha256"] == "ab" * 32
    assert written["takenAt"] == "2026-12-03T12:00:00Z"
    assert written["tables"] == [{"table": "messages", "rows": 7}]
    assert BackupStatus.model_validate(written) == backup


def test_a_patch_refused_by_the_api_server_fails_the_run(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    fake.fail[("PATCH", STATUS_PATH)] = KubeApiError(403, "Forbidden", "no")

    with pytest.raises(KubeApiError) as refused:
        reporter(api).publish_progress(Progress(job=JOB))

    assert refused.value.code == 403


def test_a_datamigration_that_cannot_be_read_is_a_retryable_reporter_error(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    fake.fail[("GET", STATUS_PATH)] = KubeApiError(403, "Forbidden", "no")
    with pytest.raises(ReporterError, match="cannot read DataMigration apps/chat: 403") as refused:
        reporter(api).read_progress()
    assert refused.value.retryable

    del fake.objects[DM_PATH]
    fake.fail.clear()
    with pytest.raises(ReporterError, match="404") as missing:
        reporter(api).read_progress()
    assert missing.value.retryable


def test_a_datamigration_of_another_uid_is_not_retried(
    fake: FakeApi, api: BlockingKubeClient
) -> None:
    fake.objects[DM_PATH]["metadata"]["uid"] = "a-newer-one"

    with pytest.raises(ReporterError, match="has uid a-newer-one") as wrong:
        reporter(api).read_progress()

    assert not wrong.value.retryable


def test_the_attempt_defaults_to_the_pod_name(
    monkeypatch: pytest.MonkeyPatch, api: BlockingKubeClient
) -> None:
    monkeypatch.setenv("HOSTNAME", f"{JOB}-q9w8e")
    assert MigrationReporter(REF, api).attempt == "q9w8e"
