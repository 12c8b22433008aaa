"""kube.execute: each planner action becomes the right API request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datamigration_operator.api.names import (
    ANNOTATION_CONFIGMAP_OWNER,
    ANNOTATION_CONFIGMAP_PREVIOUS,
    ANNOTATION_WORKLOAD_MODE,
    API_VERSION,
    KIND,
)
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.api.spec import WorkloadRef
from datamigration_operator.controller.execute import execute
from datamigration_operator.controller.observe import observe
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.events import EventRecorder, InvolvedObject
from datamigration_operator.kube.resources import (
    CONFIGMAPS,
    DATAMIGRATIONS,
    DEPLOYMENTS,
    EVENTS,
    JOBS,
    ROLEBINDINGS,
    ROLES,
    SERVICEACCOUNTS,
)
from datamigration_operator.reconcile.actions import (
    Action,
    ApplyMode,
    Block,
    CreateJob,
    DeleteJobs,
    EmitEvent,
    EnsureJobAccess,
    SetStatus,
    StampWorkloads,
)
from tests.unit.kube.fake_api import FakeApi
from tests.unit.kube.world import (
    NS,
    add_deployment,
    add_job,
    client,
    job,
    manifest,
    populate,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def _run(api: FakeApi, actions: list[Action]) -> None:
    path = DATAMIGRATIONS.path(NS, "shop")
    dm = DataMigration.from_object(api.objects[path]) if path in api.objects else populate(api)
    kube = client(api)
    world = await observe(kube, dm, NOW)
    await execute(kube, EventRecorder(kube, instance="test"), world, actions)


async def test_apply_mode_patches_one_key_conditionally_and_records_ownership() -> None:
    api = FakeApi()
    await _run(api, [ApplyMode("shop-config", "migration_mode", "dual_write", "sqlite_only")])
    cm = api.objects[CONFIGMAPS.path(NS, "shop-config")]
    assert cm["data"] == {"other": "x", "migration_mode": "dual_write"}
    annotations = cm["metadata"]["annotations"]
    assert annotations[ANNOTATION_CONFIGMAP_OWNER] == "apps/shop"
    assert annotations[ANNOTATION_CONFIGMAP_PREVIOUS] == "sqlite_only"
    patch = next(body for method, path, body in api.bodies if method == "PATCH")
    assert patch["metadata"]["resourceVersion"]  # refused if the ConfigMap changed meanwhile


async def test_apply_mode_conflicts_when_the_config_map_changed_since_observed() -> None:
    api = FakeApi()
    dm = populate(api)
    kube = client(api)
    world = await observe(kube, dm, NOW)
    path = CONFIGMAPS.path(NS, "shop-config")
    api.put(path, api.objects[path])  # someone else wrote it: new resourceVersion
    with pytest.raises(KubeApiError) as conflict:
        await execute(
            kube,
            EventRecorder(kube),
            world,
            [ApplyMode("shop-config", "migration_mode", "dual_write", None)],
        )
    assert conflict.value.code == 409
    assert "migration_mode" not in api.objects[path]["data"]


async def test_create_job_builds_the_contract_job_and_tolerates_already_exists() -> None:
    api = FakeApi()
    create = CreateJob(
        "copy", "shop-migrate-abc", "migrate", 3, "node-b", image="img:1", service_account="sa-1"
    )
    await _run(api, [create])
    created = api.objects[JOBS.path(NS, "shop-migrate-abc")]
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "img:1"
    assert container["command"] == ["dmctl", "job", "copy"]
    assert created["spec"]["template"]["spec"]["serviceAccountName"] == "sa-1"
    assert created["metadata"]["ownerReferences"][0]["uid"] == "uid-shop"
    affinity = created["spec"]["template"]["spec"]["affinity"]
    assert "node-b" in str(affinity)
    await _run(api, [create])  # a retry after a crash: AlreadyExists is success
    assert [m for m, p in api.requests if p == JOBS.path(NS)].count("POST") == 2


async def test_ensure_job_access_creates_account_role_and_binding_idempotently() -> None:
    api = FakeApi()
    await _run(api, [EnsureJobAccess("shop-job-1")])
    for resource in (SERVICEACCOUNTS, ROLES, ROLEBINDINGS):
        created = api.objects[resource.path(NS, "shop-job-1")]
        assert created["metadata"]["ownerReferences"][0]["uid"] == "uid-shop"
    role = api.objects[ROLES.path(NS, "shop-job-1")]
    assert role["rules"][0]["resourceNames"] == ["shop"]
    await _run(api, [EnsureJobAccess("shop-job-1")])  # AlreadyExists is success
    posts = [p for m, p in api.requests if m == "POST" and p == ROLES.path(NS)]
    assert len(posts) == 2


async def test_ensure_job_access_never_adopts_an_account_it_does_not_control() -> None:
    api = FakeApi()
    populate(api)
    squatter = {"metadata": {"name": "shop-job-1", "ownerReferences": [{"uid": "old-shop"}]}}
    api.put(SERVICEACCOUNTS.path(NS, "shop-job-1"), squatter)
    with pytest.raises(KubeApiError) as refused:
        await _run(api, [EnsureJobAccess("shop-job-1")])
    assert (refused.value.code, refused.value.reason) == (409, "NotOwned")
    assert "not controlled by this DataMigration" in refused.value.message
    assert ROLES.path(NS, "shop-job-1") not in api.objects  # nothing granted to it


async def test_delete_jobs_propagates_in_background_and_ignores_gone_jobs() -> None:
    api = FakeApi()
    populate(api)
    add_job(api, job("shop-validate-1", "validate", active=1))
    await _run(api, [DeleteJobs(("shop-validate-1", "shop-validate-gone"))])
    assert JOBS.path(NS, "shop-validate-1") not in api.objects
    deletes = [body for method, _, body in api.bodies if method == "DELETE"]
    assert [d["propagationPolicy"] for d in deletes] == ["Background", "Background"]


async def test_status_goes_to_the_status_subresource_and_workloads_are_stamped() -> None:
    api = FakeApi()
    populate(api)
    add_deployment(api, "web", rolled=True)
    ref = WorkloadRef(kind="Deployment", name="web")
    await _run(api, [StampWorkloads("dual_write", (ref,)), SetStatus({"state": "Running"})])
    assert ("PATCH", DATAMIGRATIONS.path(NS, "shop", "status")) in api.requests
    assert api.objects[DATAMIGRATIONS.path(NS, "shop")]["status"] == {"state": "Running"}
    template = api.objects[DEPLOYMENTS.path(NS, "web")]["spec"]["template"]
    assert template["metadata"]["annotations"][ANNOTATION_WORKLOAD_MODE] == "dual_write"


async def test_the_first_failure_stops_the_remaining_actions() -> None:
    api = FakeApi()
    populate(api)
    api.fail[("POST", JOBS.path(NS))] = KubeApiError(500, "InternalError", "etcd down")
    with pytest.raises(KubeApiError):
        await _run(
            api,
            [
                CreateJob(
                    "copy", "shop-migrate-abc", "migrate", 3, None, image="i", service_account="s"
                ),
                SetStatus({"state": "Pending"}),
                EmitEvent("Normal", "JobCreated", "created"),
                Block("X", "y"),
            ],
        )
    assert "status" not in api.objects[DATAMIGRATIONS.path(NS, "shop")]
    assert not [p for m, p in api.requests if p == EVENTS.path(NS)]


async def test_a_refused_spec_gets_status_and_events_from_the_same_executor() -> None:
    api = FakeApi()
    api.put(DATAMIGRATIONS.path(NS, "shop"), manifest(collections=[]))
    kube = client(api)
    refused = InvolvedObject(API_VERSION, KIND, NS, "shop", "uid-shop")
    await execute(
        kube,
        EventRecorder(kube),
        refused,
        [
            SetStatus({"state": "Failed"}),
            EmitEvent("Warning", "InvalidSpec", "bad"),
            Block("X", ""),
        ],
    )
    assert api.objects[DATAMIGRATIONS.path(NS, "shop")]["status"] == {"state": "Failed"}
    (event,) = [body for method, path, body in api.bodies if path == EVENTS.path(NS)]
    assert (event["reason"], event["involvedObject"]["uid"]) == ("InvalidSpec", "uid-shop")
    # what needs the spec cannot run without an observed DataMigration
    with pytest.raises(TypeError):
        await execute(kube, EventRecorder(kube), refused, [DeleteJobs(("shop-migrate-1",))])
