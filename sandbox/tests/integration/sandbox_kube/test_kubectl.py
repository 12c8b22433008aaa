"""kubectl v1.32 against the API server: apply (client-side, with default validation), get with
printer columns, describe with events, patch, CEL rejection, delete, logs."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from sandbox_kube.conftest import (
    PHASE_RULE_MESSAGE,
    WIDGET_CRD,
    WIDGET_GROUP,
    KubeSandbox,
)

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kubectl(kube: KubeSandbox, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    cache = tmp_path_factory.mktemp("kubectl-cache")
    binary = shutil.which("kubectl")
    assert binary is not None

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, f"--kubeconfig={kube.kubeconfig}", f"--cache-dir={cache}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture(scope="module")
def applied_crd(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("crd") / "crd.yaml"
    path.write_text(yaml.safe_dump(WIDGET_CRD))
    result = kubectl("apply", "-f", str(path))
    assert (
        "customresourcedefinition.apiextensions.k8s.io/widgets.tests.gremlins.ai" in result.stdout
    )


def _write_widget(path: Path, name: str, spec: dict[str, Any], labels: dict[str, str]) -> str:
    manifest = {
        "apiVersion": f"{WIDGET_GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": spec,
    }
    path.write_text(yaml.safe_dump(manifest))
    return str(path)


def _get_widget(kubectl: Kubectl, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(kubectl("get", "widget", name, "-o", "json").stdout)
    return document


@pytest.fixture
def widget(kubectl: Kubectl, applied_crd: None, tmp_path: Path) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", _write_widget(tmp_path / "w.yaml", name, {"phase": "a"}, {}))
    return name


def test_apply_twice_merges_three_ways(kubectl: Kubectl, applied_crd: None, tmp_path: Path) -> None:
    name = f"w-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "w.yaml"
    created = kubectl(
        "apply", "-f", _write_widget(path, name, {"phase": "a", "size": 3}, {"t": "1"})
    )
    assert f"widget.{WIDGET_GROUP}/{name} created" in created.stdout

    # Dropping the label and size from the file removes them; the phase moves a -> b.
    configured = kubectl("apply", "-f", _write_widget(path, name, {"phase": "b"}, {}))
    assert f"widget.{WIDGET_GROUP}/{name} configured" in configured.stdout
    obj = _get_widget(kubectl, name)
    assert obj["spec"] == {"phase": "b", "size": 1}  # size back to the schema default
    assert "t" not in (obj["metadata"].get("labels") or {})
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]

    unchanged = kubectl("apply", "-f", str(path))
    assert f"widget.{WIDGET_GROUP}/{name} unchanged" in unchanged.stdout


def test_apply_rejected_by_a_cel_transition_rule(
    kubectl: Kubectl, widget: str, tmp_path: Path
) -> None:
    result = kubectl(
        "apply", "-f", _write_widget(tmp_path / "c.yaml", widget, {"phase": "c"}, {}), check=False
    )
    assert result.returncode != 0
    assert PHASE_RULE_MESSAGE in result.stderr
    assert _get_widget(kubectl, widget)["spec"]["phase"] == "a"


def test_apply_with_an_unknown_field_fails_strict_validation(
    kubectl: Kubectl, applied_crd: None, tmp_path: Path
) -> None:
    path = _write_widget(tmp_path / "x.yaml", "strict", {"phase": "a", "colour": "red"}, {})
    result = kubectl("apply", "-f", path, check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.colour"' in result.stderr
    assert kubectl("get", "widget", "strict", check=False).returncode != 0


def test_get_prints_the_crd_printer_columns(
    kube: KubeSandbox, kubectl: Kubectl, widget: str
) -> None:
    custom = client.CustomObjectsApi(kube.api_client())
    condition = {"type": "Ready", "status": "True", "reason": "Done", "message": ""}
    custom.patch_namespaced_custom_object_status(
        WIDGET_GROUP,
        "v1",
        "default",
        "widgets",
        widget,
        {"status": {"conditions": [{"type": "Other", "status": "False"}, condition]}},
    )
    lines = kubectl("get", "widgets", widget).stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "READY", "SIZE", "AGE"]
    cells = lines[1].split()
    assert cells[:4] == [widget, "a", "True", "1"]
    assert cells[4].endswith("s")  # an age such as "0s", translated by the server


def test_describe_lists_events_of_the_object(
    kube: KubeSandbox, kubectl: Kubectl, widget: str
) -> None:
    obj = _get_widget(kubectl, widget)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=f"{widget}.1", namespace="default"),
        involved_object=client.V1ObjectReference(
            api_version=f"{WIDGET_GROUP}/v1",
            kind="Widget",
            name=widget,
            namespace="default",
            uid=obj["metadata"]["uid"],
        ),
        reason="PhaseChanged",
        message="moved to phase a",
        type="Normal",
        count=1,
        source=client.V1EventSource(component="widget-operator"),
    )
    client.CoreV1Api(kube.api_client()).create_namespaced_event("default", event)
    described = kubectl("describe", "widget", widget).stdout
    assert f"Name:         {widget}" in described
    assert "PhaseChanged" in described
    assert "moved to phase a" in described


def test_patch_merge_and_delete(kubectl: Kubectl, widget: str) -> None:
    kubectl("patch", "widget", widget, "--type", "merge", "-p", '{"spec":{"size":7}}')
    assert _get_widget(kubectl, widget)["spec"]["size"] == 7

    deleted = kubectl("delete", "widget", widget)
    assert f'widget.{WIDGET_GROUP} "{widget}" deleted' in deleted.stdout
    missing = kubectl("get", "widget", widget, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_configmaps_as_json_and_table(kubectl: Kubectl, tmp_path: Path) -> None:
    name = f"cm-{uuid.uuid4().hex[:8]}"
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    manifest["data"] = {"migration_mode": "sqlite_only", "other": "x"}
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(manifest))
    kubectl("apply", "-f", str(tmp_path / "cm.yaml"))

    listing = json.loads(kubectl("get", "cm", "-o", "json").stdout)
    assert listing["kind"] == "List"
    assert name in [item["metadata"]["name"] for item in listing["items"]]

    table = kubectl("get", "cm", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert table[1].split()[:2] == [name, "2"]

    # A second apply of a built-in kind goes through a strategic merge patch.
    manifest["data"] = {"migration_mode": "dual_write"}
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(manifest))
    kubectl("apply", "-f", str(tmp_path / "cm.yaml"))
    data = json.loads(kubectl("get", "cm", name, "-o", "json").stdout)["data"]
    assert data == {"migration_mode": "dual_write"}


def test_logs_of_a_pod(kube: KubeSandbox, kubectl: Kubectl) -> None:
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="logger-1"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox")]),
    )
    client.CoreV1Api(kube.api_client()).create_namespaced_pod("default", pod)
    assert kubectl("logs", "logger-1").stdout == "hello from default/logger-1 (main)\n"


def test_imperative_create_says_what_to_do(kubectl: Kubectl) -> None:
    # kubectl create sends a protobuf body, which the emulator does not decode
    for command in (("namespace", "x"), ("job", "x", "--image=busybox", "--", "true")):
        result = kubectl("create", *command, check=False)
        assert result.returncode != 0
        assert "kubectl apply -f" in result.stderr  # the workaround is named
