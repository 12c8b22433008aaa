"""kube.observe: API objects -> the planner's Observation."""

from __future__ import annotations

from datetime import UTC, datetime

from datamigration_operator.api.names import ANNOTATION_CONFIGMAP_OWNER, ANNOTATION_WORKLOAD_MODE
from datamigration_operator.controller.observe import observe, observed_job, termination_message
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.resources import (
    CONFIGMAPS,
    DATAMIGRATIONS,
    DEPLOYMENTS,
    PODS,
    PVCS,
    SECRETS,
)
from tests.unit.kube.fake_api import FakeApi
from tests.unit.kube.world import (
    NS,
    SECRET_VALUE,
    add_deployment,
    add_job,
    client,
    job,
    manifest,
    populate,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_job_states_follow_the_job_controller() -> None:
    done = {"type": "Complete", "status": "True"}
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "PodFailurePolicy",
        "message": "exit code 42",
        "lastTransitionTime": "2026-11-26T11:00:00Z",
    }
    assert observed_job(job("a", "migrate")).state == "Pending"  # type: ignore[union-attr]
    assert observed_job(job("a", "migrate", active=1)).state == "Running"  # type: ignore[union-attr]
    succeeded = observed_job(
        job(
            "a",
            "migrate",
            conditions=[done],
            startTime="2026-11-26T10:00:00Z",
            completionTime="2026-11-26T10:05:00Z",
        )
    )
    assert succeeded is not None
    assert succeeded.state == "Succeeded"
    assert succeeded.generation == 3
    assert succeeded.started_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert succeeded.finished_at == datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    fail = observed_job(job("a", "validate", conditions=[failed]))
    assert fail is not None
    assert (fail.state, fail.message, fail.phase) == ("Failed", "exit code 42", "validate")
    assert fail.finished_at == datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    deleting = job("a", "migrate", active=1)
    deleting["metadata"]["deletionTimestamp"] = "2026-11-26T11:00:00Z"
    assert observed_job(deleting).state == "Deleted"  # type: ignore[union-attr]
    unlabeled = job("a", "migrate")
    unlabeled["metadata"]["labels"].pop("migrations.gremlins.ai/phase")
    assert observed_job(unlabeled) is None


async def test_observe_reads_config_map_claim_node_secrets_and_jobs() -> None:
    api = FakeApi()
    dm = populate(api)
    add_job(api, job("shop-migrate-1", "migrate", active=1))
    add_job(api, job("shop-migrate-old", "migrate", uid="uid-of-a-deleted-namesake"))
    world = await observe(client(api), dm, NOW)
    obs = world.observation
    assert (obs.name, obs.namespace, obs.generation, obs.now) == ("shop", NS, 3, NOW)
    assert obs.config_map.exists
    assert obs.config_map.value is None
    assert obs.config_map.owner is None
    assert (
        world.config_map_version
        == api.objects[CONFIGMAPS.path(NS, "shop-config")]["metadata"]["resourceVersion"]
    )
    assert [j.name for j in obs.jobs] == ["shop-migrate-1"]
    assert obs.claim is not None
    assert obs.claim.read_write_once
    assert obs.claim.node_name == "node-b"
    assert obs.secrets == {"weaviate-auth": frozenset({"api-key"})}
    assert SECRET_VALUE not in repr(world)


async def test_observe_reports_missing_objects_and_owner() -> None:
    api = FakeApi()
    dm = populate(
        api,
        app={
            "configMapRef": {"name": "shop-config"},
            "workloads": [
                {"kind": "Deployment", "name": "web"},
                {"kind": "StatefulSet", "name": "gone"},
            ],
        },
    )
    add_deployment(api, "web", rolled=False)
    cm = api.objects[CONFIGMAPS.path(NS, "shop-config")]
    cm["data"]["migration_mode"] = "dual_write"
    cm["metadata"]["annotations"] = {ANNOTATION_CONFIGMAP_OWNER: "apps/other"}
    del api.objects[SECRETS.path(NS, "weaviate-auth")]
    api.objects[PVCS.path(NS, "shop-data")]["spec"]["accessModes"] = ["ReadWriteMany"]
    obs = (await observe(client(api), dm, NOW)).observation
    assert (obs.config_map.value, obs.config_map.owner) == ("dual_write", "apps/other")
    assert obs.secrets == {}
    assert obs.claim is not None
    assert not obs.claim.read_write_once
    assert obs.claim.node_name is None
    web, gone = obs.workloads
    assert web.exists
    assert not web.rollout_complete
    assert not gone.exists
    del api.objects[PVCS.path(NS, "shop-data")]
    del api.objects[CONFIGMAPS.path(NS, "shop-config")]
    obs = (await observe(client(api), dm, NOW)).observation
    assert obs.claim is None
    assert not obs.config_map.exists


def _job_pod(name: str, job_uid: str, *states: dict[str, object]) -> dict[str, object]:
    statuses = [{"name": "job", "state": state, "lastState": {}} for state in states]
    return {
        "metadata": {
            "name": name,
            "labels": {
                "batch.kubernetes.io/controller-uid": job_uid,
                "batch.kubernetes.io/job-name": "shop-migrate-1",
            },
        },
        "status": {"phase": "Failed", "containerStatuses": statuses},
    }


def _terminated(code: int, message: str | None, at: str) -> dict[str, object]:
    ended: dict[str, object] = {"exitCode": code, "finishedAt": at}
    if message is not None:
        ended["message"] = message
    return {"terminated": ended}


async def test_a_failed_job_carries_what_its_last_failed_pod_said() -> None:
    api = FakeApi()
    dm = populate(api)
    failed = job("shop-migrate-1", "migrate", conditions=[{"type": "Failed", "status": "True"}])
    failed["metadata"]["uid"] = "job-uid-1"
    add_job(api, failed)
    running = job("shop-migrate-2", "migrate", active=1)
    running["metadata"]["uid"] = "job-uid-2"
    add_job(api, running)
    pods = {
        "p1": _job_pod("p1", "job-uid-1", _terminated(1, "Weaviate unreachable", "10:00:01Z")),
        "p2": _job_pod(
            "p2", "job-uid-1", _terminated(42, "SQLite file /x does not exist", "10:00:09Z")
        ),
        # a pod of an earlier Job of the same name: not this Job's account
        "p0": _job_pod("p0", "earlier-uid", _terminated(42, "stale", "10:00:30Z")),
        "p3": _job_pod("p3", "job-uid-2", _terminated(42, "not failed", "10:00:40Z")),
    }
    for name, pod in pods.items():
        api.put(PODS.path(NS, name), pod)
    world = await observe(client(api), dm, NOW)
    by_name = {j.name: j for j in world.observation.jobs}
    assert by_name["shop-migrate-1"].termination_message == "SQLite file /x does not exist"
    assert by_name["shop-migrate-2"].termination_message == ""  # only failed Jobs are asked


def test_the_termination_message_of_a_success_or_of_nobody_is_none() -> None:
    assert termination_message([]) == ""
    ok = _job_pod("p", "u", _terminated(0, "done", "10:00:00Z"))
    assert termination_message([ok]) == ""
    silent = _job_pod("p", "u", _terminated(137, None, "10:00:00Z"))
    assert termination_message([silent]) == ""
    restarted = _job_pod("p", "u", {"waiting": {"reason": "CrashLoopBackOff"}})
    restarted["status"]["containerStatuses"][0]["lastState"] = _terminated(  # type: ignore[index]
        2, "said before the restart", "10:00:00Z"
    )
    assert termination_message([restarted]) == "said before the restart"


def _another(api: FakeApi, namespace: str, name: str, **meta: object) -> None:
    body = manifest(collections=[{"table": "orders", "collection": "Order"}])
    body["metadata"] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "creationTimestamp": "2026-11-26T10:00:00Z",
        **meta,
    }
    api.put(DATAMIGRATIONS.path(namespace, name), body)


async def test_other_migrations_are_seen_across_namespaces_but_not_itself_or_deleted_ones() -> None:
    api = FakeApi()
    dm = populate(api)
    _another(api, "tb", "happy2")
    _another(api, NS, "gone", deletionTimestamp="2026-11-26T11:00:00Z")
    others = (await observe(client(api), dm, NOW)).observation.other_migrations
    assert [(o.owner, o.endpoint, o.collections) for o in others] == [
        ("tb/happy2", "weaviate:8080", frozenset({"order"}))
    ]
    assert others[0].created_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


async def test_a_namespaced_install_sees_the_migrations_of_its_namespace() -> None:
    api = FakeApi()
    dm = populate(api)
    _another(api, NS, "neighbour")
    forbidden = KubeApiError(403, "Forbidden", "cannot list datamigrations at the cluster scope")
    api.fail[("GET", DATAMIGRATIONS.all_namespaces_path())] = forbidden
    others = (await observe(client(api), dm, NOW)).observation.other_migrations
    assert [o.owner for o in others] == [f"{NS}/neighbour"]


async def test_a_secret_the_operator_may_not_read_is_left_unchecked() -> None:
    api = FakeApi()
    dm = populate(api)
    path = SECRETS.path(NS, "weaviate-auth")
    api.fail[("GET", path)] = KubeApiError(403, "Forbidden", "secrets is forbidden")
    observation = (await observe(client(api), dm, NOW)).observation
    assert observation.secrets == {"weaviate-auth": None}
    del api.objects[path]
    del api.fail[("GET", path)]
    assert (await observe(client(api), dm, NOW)).observation.secrets == {}  # 404: missing


async def test_the_claims_capacity_is_observed() -> None:
    api = FakeApi()
    dm = populate(api)
    claim = api.objects[PVCS.path(NS, "shop-data")]
    claim["spec"]["resources"] = {"requests": {"storage": "1Gi"}}
    observed = (await observe(client(api), dm, NOW)).observation.claim
    assert observed is not None
    assert observed.capacity == 2**30
    claim["status"] = {"capacity": {"storage": "2Gi"}}  # what was provisioned wins
    observed = (await observe(client(api), dm, NOW)).observation.claim
    assert observed is not None
    assert observed.capacity == 2 * 2**30


async def test_a_rolled_deployment_waits_for_its_terminating_pods_of_the_old_mode() -> None:
    api = FakeApi()
    dm = populate(
        api,
        app={
            "configMapRef": {"name": "shop-config"},
            "workloads": [{"kind": "Deployment", "name": "web"}],
        },
    )
    add_deployment(api, "web", rolled=True)
    web = api.objects[DEPLOYMENTS.path(NS, "web")]
    web["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    web["spec"]["template"]["metadata"]["annotations"][ANNOTATION_WORKLOAD_MODE] = "sqlite_only"

    def pod(name: str, mode: str, labels: dict[str, str]) -> None:
        metadata = {"name": name, "labels": labels, "annotations": {ANNOTATION_WORKLOAD_MODE: mode}}
        api.put(PODS.path(NS, name), {"metadata": metadata, "status": {"phase": "Running"}})

    pod("web-new", "sqlite_only", {"app": "web"})
    pod("other-app", "weaviate_primary", {"app": "other"})  # not the workload's pod
    pod("web-old", "weaviate_primary", {"app": "web"})  # terminating: its status counts none
    (observed,) = (await observe(client(api), dm, NOW)).observation.workloads
    assert (observed.rollout_complete, observed.pods_in_other_modes) == (False, ("web-old",))
    del api.objects[PODS.path(NS, "web-old")]
    (observed,) = (await observe(client(api), dm, NOW)).observation.workloads
    assert (observed.rollout_complete, observed.pods_in_other_modes) == (True, ())
