"""Whether a pod fits the sandbox node: spec.nodeSelector and required node affinity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NODE_NAME = "sandbox-node"


def node_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {},
    }


def node_ready_status() -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": NODE_NAME},
        ],
    }


def unschedulable_message(pod: Mapping[str, Any], node: Mapping[str, Any]) -> str | None:
    """The scheduler's message when the pod does not fit the single node, else None."""
    if fits(pod, node):
        return None
    return (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )


def fits(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    labels: Mapping[str, str] = (node.get("metadata") or {}).get("labels") or {}
    name = str((node.get("metadata") or {}).get("name", ""))
    selector: Mapping[str, str] = spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    # Terms are ORed; the requirements inside a term are ANDed.
    return any(
        _term_matches(term, labels, name) for term in required.get("nodeSelectorTerms") or []
    )


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no objects
    for req in expressions:
        if not _requirement_matches(req, labels.get(req.get("key", ""))):
            return False
    for req in fields:
        value = name if req.get("key") == "metadata.name" else None
        if not _requirement_matches(req, value):
            return False
    return True


def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    operator = req.get("operator")
    values = [str(v) for v in req.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False
