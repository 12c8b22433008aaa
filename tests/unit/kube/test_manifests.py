"""manifests/: they parse, the operator's RBAC covers every request the code makes (derived by
running the kube layer and reading kopf's registry, not restated), and the pods are hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from datamigration_operator.api.spec import WorkloadRef
from datamigration_operator.builders.job_access import job_role_rules
from datamigration_operator.controller.execute import execute
from datamigration_operator.controller.observe import observe, read_datamigration
from datamigration_operator.handlers import registration
from datamigration_operator.kube.events import EventRecorder
from datamigration_operator.kube.resources import STATEFULSETS
from datamigration_operator.reconcile.actions import (
    ApplyMode,
    CreateJob,
    DeleteJobs,
    EmitEvent,
    EnsureJobAccess,
    SetStatus,
    StampWorkloads,
)
from tests.unit.kube.fake_api import FakeApi
from tests.unit.kube.world import NS, add_deployment, add_job, client, job, populate

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"
_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)(?:/namespaces/[^/]+)?/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$"
)

Permission = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind)


def _permission(method: str, path: str) -> Permission:
    match = _PATH.match(path)
    assert match, path
    resource = match["plural"] + (f"/{match['sub']}" if match["sub"] else "")
    verb = {"POST": "create", "PATCH": "patch", "DELETE": "delete"}.get(method)
    if verb is None:
        verb = "get" if match["name"] else "list"
    return (match["group"] or "", resource, verb)


async def _kube_layer_permissions() -> set[Permission]:
    """Every request observe + execute make, with every action kind and optional input."""
    api = FakeApi()
    workloads = [{"kind": "Deployment", "name": "web"}, {"kind": "StatefulSet", "name": "db"}]
    dm = populate(api, app={"configMapRef": {"name": "shop-config"}, "workloads": workloads})
    add_deployment(api, "web", rolled=True)
    api.put(STATEFULSETS.path(NS, "db"), {"kind": "StatefulSet", "metadata": {"name": "db"}})
    add_job(api, job("shop-validate-1", "validate", active=1))
    kube = client(api)
    await read_datamigration(kube, NS, "shop")
    world = await observe(kube, dm, datetime.now(UTC))
    refs = tuple(WorkloadRef.model_validate(w) for w in workloads)
    event = EmitEvent("Normal", "PhaseStarted", "phase migrate started")
    await execute(
        kube,
        EventRecorder(kube),
        world,
        [
            ApplyMode("shop-config", "migration_mode", "sqlite_only", None),
            StampWorkloads("sqlite_only", refs),
            EnsureJobAccess("shop-job-1"),
            CreateJob("copy", "shop-migrate-1", "migrate", 3, None, image="i", service_account="s"),
            DeleteJobs(("shop-validate-1",)),
            SetStatus({"state": "Running"}),
            event,
            event,  # a repeat patches the first event
        ],
    )
    return {_permission(method, path) for method, path in api.requests}


def _kopf_permissions() -> set[Permission]:
    """What kopf needs for our handlers: list+watch of every resource a handler selects; patch
    where it keeps state (progress, diff-base, finalizer); its CRD and namespace watches."""
    assert registration.MODULES
    registry = kopf.get_default_registry()
    # kopf has no public listing of registered handlers; these registries are its internals.
    watched: set[tuple[str, str]] = set()
    stateful: set[tuple[str, str]] = set()
    for sub, keeps_state in (
        (registry._watching, False),
        (registry._indexing, False),
        (registry._changing, True),
        (registry._spawning, True),
    ):
        for handler in sub.get_all_handlers():
            # The default registry is process-global: other tests register their own operators.
            if not handler.fn.__module__.startswith("datamigration_operator."):
                continue
            selector = handler.selector
            assert selector is not None
            assert selector.group is not None
            assert selector.any_name is not None
            key = (selector.group, selector.any_name)
            watched.add(key)
            if keeps_state:
                stateful.add(key)
    permissions = {(g, r, v) for g, r in watched for v in ("list", "watch")}
    permissions |= {(g, r, "patch") for g, r in stateful}
    permissions |= {
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
        ("", "events", "create"),  # kopf posts its own errors
    }
    return permissions


def _granted(rules: list[dict[str, Any]]) -> set[Permission]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


async def test_operator_cluster_role_covers_every_request_the_operator_makes() -> None:
    role = _by_kind(_documents("base/operator-rbac.yaml"), "ClusterRole")
    granted = _granted(role["rules"])
    needed = await _kube_layer_permissions() | _kopf_permissions()
    # reading a referenced Secret's key names is optional: a 403 leaves it unchecked
    assert ("", "secrets", "get") in needed
    assert needed - granted == {("", "secrets", "get")}
    # and nothing that would let it read what it must not: no wildcard, no Secret at all
    assert not [p for p in granted if "*" in p]
    assert not [p for p in granted if p[1] == "secrets"]


def test_bindings_point_at_the_service_accounts() -> None:
    docs = _documents("base/operator-rbac.yaml")
    account = _by_kind(docs, "ServiceAccount")["metadata"]
    binding = _by_kind(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    deployment = _by_kind(_documents("base/operator-deployment.yaml"), "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["name"]


def test_the_operator_holds_what_it_grants_the_jobs_and_no_bind_or_escalate() -> None:
    """RBAC escalation prevention: a Role may only grant what its creator holds (or the
    creator needs bind/escalate, which we do not take)."""
    granted = _granted(_by_kind(_documents("base/operator-rbac.yaml"), "ClusterRole")["rules"])
    job_rules = job_role_rules("shop")
    assert _granted(job_rules) == {
        ("migrations.gremlins.ai", "datamigrations/status", "get"),
        ("migrations.gremlins.ai", "datamigrations/status", "patch"),
        ("", "configmaps", "create"),
    }
    assert _granted(job_rules) <= granted
    assert not [p for p in granted if p[2] in ("bind", "escalate", "impersonate")]
    assert not (MANIFESTS / "job-rbac.yaml").exists()  # the operator creates it per migration


def test_operator_deployment_is_single_replica_hardened_and_probed() -> None:
    deployment = _by_kind(_documents("base/operator-deployment.yaml"), "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    command = container["command"]
    liveness_url = command[command.index("--liveness") + 1]
    probe = container["livenessProbe"]["httpGet"]
    port = next(p for p in container["ports"] if p["name"] == probe["port"])["containerPort"]
    assert liveness_url.endswith(f":{port}{probe['path']}")
    assert "--peering" not in command  # standalone by default


def test_crd_manifest_is_the_generated_crd() -> None:
    generated = (ROOT / "crds" / "datamigration.yaml").read_text()
    assert (MANIFESTS / "base" / "crd.yaml").read_text() == generated


@pytest.mark.parametrize("overlay", [".", "base", "ha"])
def test_kustomizations_reference_existing_files(overlay: str) -> None:
    directory = MANIFESTS / overlay
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (directory / resource).exists(), resource
    for path in directory.glob("*.yaml"):
        assert list(yaml.safe_load_all(path.read_text())), path


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_ha_overlay_renders_two_peered_replicas() -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS / "ha")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    deployment = _by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--peering=datamigration-operator" in command
    assert _by_kind(docs, "ClusterKopfPeering")["metadata"]["name"] == "datamigration-operator"
