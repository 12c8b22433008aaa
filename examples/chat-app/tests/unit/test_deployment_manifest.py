"""manifests/sample-app: the Deployment configures everything the app reads, safely."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from chat_app.settings import AppSettings

ROOT = Path(__file__).resolve().parents[4]
FOLDER = ROOT / "manifests" / "sample-app"


def _deployment() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((FOLDER / "deployment.yaml").read_text()) if d]
    deployment: dict[str, Any] = next(d for d in docs if d["kind"] == "Deployment")
    return deployment


def _environment(container: dict[str, Any], namespace: str) -> dict[str, str]:
    """The container's env as the kubelet resolves it (fieldRef namespace, $(VAR) expansion)."""
    env: dict[str, str] = {}
    for variable in container["env"]:
        source = variable.get("valueFrom") or {}
        if "fieldRef" in source:
            assert source["fieldRef"]["fieldPath"] == "metadata.namespace"
            env[variable["name"]] = namespace
        elif "secretKeyRef" in source:
            env[variable["name"]] = "secret-value"
        else:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env[m.group(1)], variable["value"]
            )
    return env


def test_the_app_starts_from_the_environment_the_deployment_gives_it() -> None:
    pod = _deployment()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = _environment(container, "shop")
    settings = AppSettings.from_env(env)
    assert settings.migration == "shop/chat-history"  # seeds the same ids as the Jobs
    assert settings.api_key is not None  # from the Secret, never a literal
    assert all("valueFrom" in v for v in container["env"] if v["name"] == "WEAVIATE_API_KEY")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mode_mount = mounts[env["DATAMIGRATION_MODE_FILE"]]
    # a whole-ConfigMap mount: a subPath mount would never see the operator's change
    assert "subPath" not in mode_mount
    assert "configMap" in volumes[mode_mount["name"]]
    data_mount = next(m for p, m in mounts.items() if env["CHAT_DATABASE"].startswith(p + "/"))
    assert "persistentVolumeClaim" in volumes[data_mount["name"]]


def test_rollouts_keep_serving_and_the_pod_is_hardened() -> None:
    deployment = _deployment()
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    settings = AppSettings.from_env(_environment(container, "shop"))
    assert pod["terminationGracePeriodSeconds"] > settings.shutdown_delay
    probe = container["readinessProbe"]["httpGet"]
    assert probe["path"] == "/readyz"
    port = next(p for p in container["ports"] if p["name"] == probe["port"])
    assert port["containerPort"] == settings.port
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}


def test_the_kustomization_lists_existing_files() -> None:
    kustomization = yaml.safe_load((FOLDER / "kustomization.yaml").read_text())
    assert all((FOLDER / resource).exists() for resource in kustomization["resources"])
