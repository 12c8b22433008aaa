"""Through the sandbox's RBAC, with a real token of the ServiceAccount the operator creates for
one DataMigration's Jobs (builders.job_access): it can create its report ConfigMap but cannot
patch, update, delete or even read the app's ConfigMap, and a second report of the same attempt
gets a new name instead of replacing the first; it can read and patch its own DataMigration's
status and nothing of another DataMigration (issue 11, item 3). The reporter connects as a Job's
pod does: through the product's client, from the kubeconfig the process kubelet gives a pod."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.config import new_client_from_config

from datamigration_operator.api.job_contract import MigrationRef
from datamigration_operator.api.status import Progress, ValidationReport
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.migration_reporter import MigrationReporter, ReporterError
from datamigration_operator.reconcile.job_names import job_account_name
from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.kube.kubeconfig import write_kubeconfig
from tests.integration.operator.conftest import (
    CONFIG_MAP,
    GROUP,
    PLURAL,
    ROOT,
    VERSION,
    create_job_access,
    prepare_namespace,
    wait_for,
)

NS, DM, OTHER = "app", "chat", "search"
APP_DATA = {"migration_mode": "sqlite_only"}


@dataclass
class World:
    admin: Any
    job: Any  # the same API server, with a real token of the chat Jobs' ServiceAccount
    # $KUBECONFIG holds that token too: a MigrationReporter() connects as the Job's pod does
    uid: str
    other_uid: str


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    plane = ControlPlane(tmp_path, crd_dir=ROOT / "crds", rbac=True)
    thread = ControlPlaneThread(plane)
    info = thread.start()
    admin = new_client_from_config(config_file=str(info.kubeconfig))
    job: Any = None
    try:
        prepare_namespace(admin, NS, config_map_data=APP_DATA)
        uids = {name: _create_migration(admin, name) for name in (DM, OTHER)}
        token = _token(admin, job_account_name(DM))
        job = _client_with_token(admin, token)
        pod_kubeconfig = write_kubeconfig(
            tmp_path / "pod" / "kubeconfig",
            admin.configuration.host,
            token=token,
            namespace=NS,
            certificate_authority=plane.certificate.ca_pem,
        )
        monkeypatch.setenv("KUBECONFIG", str(pod_kubeconfig))
        yield World(admin, job, uids[DM], uids[OTHER])
    finally:
        if job is not None:
            job.close()
        admin.close()
        thread.stop()


def _create_migration(admin: Any, name: str) -> str:
    """A DataMigration and, as the operator creates them (the same builder), its Jobs'
    ServiceAccount, Role and RoleBinding; returns its uid."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DataMigration",
        "metadata": {"name": name},
        "spec": {
            "source": {"claimName": "app-data", "path": "app.db"},
            "target": {
                "http": {"host": "127.0.0.1", "port": 1},
                "grpc": {"host": "127.0.0.1", "port": 2},
            },
            "collections": [{"table": "items", "collection": "Item"}],
            "app": {"configMapRef": {"name": CONFIG_MAP}},
        },
    }
    created = kubernetes.client.CustomObjectsApi(admin).create_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, body
    )
    create_job_access(admin, created)
    return str(created["metadata"]["uid"])


def _token(admin: Any, account: str) -> str:
    """A token of the ServiceAccount through the TokenRequest API (what a pod is given)."""
    request = kubernetes.client.CoreV1Api(admin).create_namespaced_service_account_token(
        account, NS, {"spec": {"audiences": [], "expirationSeconds": 3600}}
    )
    return str(request.status.token)


def _client_with_token(admin: Any, token: str) -> Any:
    config = kubernetes.client.Configuration()
    source = admin.configuration
    config.host, config.ssl_ca_cert = source.host, source.ssl_ca_cert
    config.verify_ssl = source.verify_ssl
    config.api_key = {"authorization": token}
    config.api_key_prefix = {"authorization": "Bearer"}
    return kubernetes.client.ApiClient(config)


def can_i(api: Any, verb: str, name: str | None = None) -> bool:
    """`kubectl auth can-i VERB configmaps [NAME] -n NS` as the client's user."""
    attributes: dict[str, str] = {"namespace": NS, "verb": verb, "resource": "configmaps"}
    if name:
        attributes["name"] = name
    review = kubernetes.client.AuthorizationV1Api(api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": attributes}}
    )
    return bool(review.status.allowed)


def test_the_job_account_may_create_configmaps_and_nothing_else_on_them(world: World) -> None:
    assert can_i(world.job, "create")
    for verb in ("get", "list", "watch", "update", "patch", "delete", "deletecollection"):
        assert not can_i(world.job, verb, CONFIG_MAP), verb
    assert can_i(world.admin, "patch", CONFIG_MAP)  # the review answers per user


def test_the_job_writes_reports_but_cannot_touch_the_app_config_map(world: World) -> None:
    ref = MigrationRef(namespace=NS, name=DM, uid=world.uid)
    with MigrationReporter(ref, attempt="x7k2p") as reporter:
        first = reporter.write_report("chat-migrate-1", ["items/[1]: column v: bad"], "1 failed")
        second = reporter.write_report("chat-migrate-1", ["items/[2]: column v: bad"], "1 failed")

    assert (first, second) == ("chat-migrate-1-report-x7k2p", "chat-migrate-1-report-x7k2p-2")
    core = kubernetes.client.CoreV1Api(world.admin)
    assert core.read_namespaced_config_map(first, NS).data["keys"] == "items/[1]: column v: bad\n"
    assert core.read_namespaced_config_map(second, NS).data["keys"] == "items/[2]: column v: bad\n"

    as_job = kubernetes.client.CoreV1Api(world.job)
    attempts = {
        "patch": lambda: as_job.patch_namespaced_config_map(
            CONFIG_MAP, NS, {"data": {"migration_mode": "weaviate_primary"}}
        ),
        "replace": lambda: as_job.replace_namespaced_config_map(
            CONFIG_MAP, NS, {"metadata": {"name": CONFIG_MAP}, "data": {"migration_mode": "x"}}
        ),
        "delete": lambda: as_job.delete_namespaced_config_map(CONFIG_MAP, NS),
        "read": lambda: as_job.read_namespaced_config_map(CONFIG_MAP, NS),
        "create over it": lambda: as_job.create_namespaced_config_map(
            NS, {"metadata": {"name": CONFIG_MAP}, "data": {"migration_mode": "x"}}
        ),
        "delete a report": lambda: as_job.delete_namespaced_config_map(first, NS),
    }
    statuses = {}
    for what, attempt in attempts.items():
        with pytest.raises(ApiException) as raised:
            attempt()
        statuses[what] = raised.value.status
    assert statuses == {
        "patch": 403,
        "replace": 403,
        "delete": 403,
        "read": 403,
        "create over it": 409,  # create may not replace what exists
        "delete a report": 403,
    }
    assert core.read_namespaced_config_map(CONFIG_MAP, NS).data == APP_DATA


def test_reports_go_with_their_datamigration(world: World) -> None:
    ref = MigrationRef(namespace=NS, name=DM, uid=world.uid)
    with MigrationReporter(ref, attempt="q1") as reporter:
        name = reporter.write_report("j", ["k"], "s")
    assert name is not None
    core = kubernetes.client.CoreV1Api(world.admin)

    kubernetes.client.CustomObjectsApi(world.admin).delete_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, DM
    )

    def collected() -> bool:
        try:
            core.read_namespaced_config_map(name, NS)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(collected, "the garbage collector to delete the report", 30)
    assert core.read_namespaced_config_map(CONFIG_MAP, NS).data == APP_DATA


def test_the_job_token_writes_its_own_datamigration_status_and_no_other(world: World) -> None:
    with MigrationReporter(MigrationRef(namespace=NS, name=DM, uid=world.uid)) as mine:
        mine.publish_validation(ValidationReport(job="chat-validate-1", job_uid="u", checked=3))
        mine.publish_progress(Progress(job="chat-migrate-1", rows_done=7))
        progress = mine.read_progress()  # get on datamigrations/status is granted
    assert progress is not None
    assert progress.rows_done == 7
    custom = kubernetes.client.CustomObjectsApi(world.admin)
    status = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, DM)["status"]
    assert status["validation"]["checked"] == 3

    with MigrationReporter(MigrationRef(namespace=NS, name=OTHER, uid=world.other_uid)) as other:
        forged = ValidationReport(job="search-validate-1", job_uid="u", checked=9, passed=True)
        with pytest.raises(KubeApiError) as patched:
            other.publish_validation(forged)
        assert patched.value.code == 403
        with pytest.raises(ReporterError, match="403") as unread:
            other.read_progress()
        assert unread.value.retryable
    as_job = kubernetes.client.CustomObjectsApi(world.job)
    for attempt in (
        lambda: as_job.get_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, OTHER),
        lambda: as_job.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL),
        # nor its own spec: the status subresource only
        lambda: as_job.patch_namespaced_custom_object(
            GROUP, VERSION, NS, PLURAL, DM, {"spec": {"phase": "rollback"}}
        ),
    ):
        with pytest.raises(ApiException) as refused:
            attempt()
        assert refused.value.status == 403
    theirs = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, OTHER)
    assert "validation" not in (theirs.get("status") or {})
