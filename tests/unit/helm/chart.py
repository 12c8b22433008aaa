"""The Helm chart under test: the value sets we render it with, rendering through Helm's own
engine (helm-python-sdk, in process) and the checks every rendered object must pass. The
integration tier renders the same value sets with the real `helm` binary and compares."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import kubernetes_validate
import pytest
import yaml

from datamigration_sandbox.kube.crd_schema import SchemaValidator

ROOT: Final = Path(__file__).resolve().parents[3]
CHART: Final = ROOT / "helm" / "datamigration-operator"
RELEASE: Final = "dm"
NAMESPACE: Final = "datamigration-system"
# The oldest Kubernetes minor the chart's kubeVersion admits whose schemas we validate against.
KUBE_VERSION: Final = "1.33"
OPERATOR_SA: Final = "dm-datamigration-operator"

Doc = dict[str, Any]
Permission = tuple[
    str, str, str, str
]  # (namespace or "*" for every namespace, group, resource, verb)

VALUE_SETS: Final[dict[str, dict[str, Any]]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["shop", "blog"]},
    "ha": {"replicaCount": 2},
    "ha-namespaced": {"replicaCount": 3, "watchNamespaces": ["shop"]},
    "monitoring": {
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
        "prometheusRule": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
    "no-metrics": {"metrics": {"enabled": False}, "logFormat": "plain"},
    "secrets-in-namespaces": {"rbac": {"secretReadNamespaces": ["shop", "blog"]}},
    "secrets-cluster-wide": {"rbac": {"secretReadClusterWide": True}},
    "custom": {
        "fullnameOverride": "migrations",
        "image": {"repository": "registry.example/dmo", "digest": "sha256:" + "ab" * 32},
        "imagePullSecrets": [{"name": "registry"}],
        "serviceAccount": {"create": False, "name": "platform-operator"},
        "jobs": {
            "image": "registry.example/dmo-jobs:1",
            "allowedImages": ["registry.example/dmo-jobs:2", "registry.example/dmo-jobs:3"],
            "allowedServiceAccounts": ["migration-runner"],
        },
        "resyncSeconds": 30,
        "verbose": True,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops"}],
        "podAnnotations": {"example.com/team": "platform"},
    },
}


def helm_binary() -> Path | None:
    """The real `helm`: $DMCTL_HELM, else the servers' build ($DMCTL_SERVERS_BIN, then the build
    cache's current set, as scripts/build-servers.sh writes it), else a helm on PATH."""
    candidates = [os.environ.get("DMCTL_HELM")]
    if os.environ.get("DMCTL_SERVERS_BIN"):
        candidates.append(str(Path(os.environ["DMCTL_SERVERS_BIN"]) / "helm"))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    candidates.append(str(cache / "datamigration-operator/servers/bin/current/helm"))
    candidates.append(shutil.which("helm"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def helm_env(home: Path, kubeconfig: Path | None = None) -> dict[str, str]:
    """Helm's own state (repositories, cache, config) in a scratch home, nothing from ~."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(kubeconfig or home / "no-kubeconfig"),
    }


def helm_python_chart() -> Any:
    helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")
    return helm_python.Chart.load(str(CHART))


def render_templates(values: dict[str, Any]) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included), through Helm's engine."""
    rendered: dict[str, str] = helm_python_chart().render(values, name=RELEASE, namespace=NAMESPACE)
    return rendered


def documents(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if d]


def render(values: dict[str, Any]) -> list[Doc]:
    """Every object `helm template` would print, in a stable order."""
    docs = [
        doc
        for path, text in render_templates(values).items()
        if not path.endswith("NOTES.txt")
        for doc in documents(text)
    ]
    return sorted(docs, key=identity)


def identity(doc: Doc) -> tuple[str, str, str, str]:
    meta = doc["metadata"]
    return (doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"])


def chart_crds() -> list[Doc]:
    return [
        d for path in sorted((CHART / "crds").glob("*.yaml")) for d in documents(path.read_text())
    ]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Doc], kind: str) -> Doc:
    (found,) = of_kind(docs, kind)
    return found


def container(docs: list[Doc]) -> Doc:
    (operator,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert isinstance(operator, dict)
    return operator


# -- validation -------------------------------------------------------------------------------

_MONITORING_REQUIRED: Final = {
    # What the Prometheus Operator's CRDs require (their schemas are not available here).
    "ServiceMonitor": ("endpoints", "selector"),
    "PrometheusRule": ("groups",),
}


def validate(doc: Doc) -> None:
    """Raises unless `doc` is a valid object: built-in kinds against Kubernetes' own schemas
    (kubernetes-validate, strict: unknown fields fail), our kopf peering objects against the
    CRDs the chart ships, Prometheus Operator kinds against their required fields."""
    group = doc["apiVersion"].rpartition("/")[0]
    if group == "kopf.dev":
        (crd,) = [c for c in chart_crds() if c["spec"]["names"]["kind"] == doc["kind"]]
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert SchemaValidator(schema).validate(doc, None) == [], doc
        assert ("namespace" in doc["metadata"]) == (crd["spec"]["scope"] == "Namespaced"), doc
    elif group == "monitoring.coreos.com":
        assert doc["apiVersion"] == "monitoring.coreos.com/v1", doc
        missing = [f for f in _MONITORING_REQUIRED[doc["kind"]] if not doc["spec"].get(f)]
        assert not missing, (doc["kind"], missing)
    else:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


# -- RBAC -------------------------------------------------------------------------------------


def rule_permissions(rules: list[dict[str, Any]], scope: str) -> set[Permission]:
    return {
        (scope, group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def granted(docs: list[Doc], account: str = OPERATOR_SA) -> set[Permission]:
    """What the bindings in `docs` give the ServiceAccount `account` of the release namespace:
    "*" scope from ClusterRoleBindings, a namespace from RoleBindings."""
    roles = {
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
    }
    found: set[Permission] = set()
    for binding in docs:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subject = {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        if subject not in binding["subjects"]:
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace", "")
        role = roles[(ref["kind"], namespace if ref["kind"] == "Role" else "", ref["name"])]
        scope = namespace if binding["kind"] == "RoleBinding" else "*"
        found |= rule_permissions(role["rules"], scope)
    return found


def all_rules(docs: list[Doc]) -> Iterator[tuple[Doc, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Role", "ClusterRole"):
            for rule in doc["rules"]:
                yield doc, rule
