"""Pods fit the sandbox node by nodeSelector and required node affinity."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.jobs.node_affinity import (
    fits,
    node_manifest,
    unschedulable_message,
)

NODE = node_manifest()


def pod_with(*terms: dict[str, Any], selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if terms:
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }
    if selector:
        spec["nodeSelector"] = selector
    return {"spec": spec}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (pod_with(), True),
        (pod_with(expr("kubernetes.io/hostname", "In", "sandbox-node")), True),
        (pod_with(expr("kubernetes.io/hostname", "In", "node-2")), False),
        (pod_with(expr("kubernetes.io/hostname", "NotIn", "node-2")), True),
        (pod_with(expr("disktype", "Exists")), False),
        (pod_with(expr("disktype", "DoesNotExist")), True),
        (
            pod_with(
                expr("kubernetes.io/hostname", "In", "node-2"),
                expr("kubernetes.io/os", "In", "linux"),
            ),
            True,
        ),
        (
            pod_with(
                {
                    "matchFields": [
                        {"key": "metadata.name", "operator": "In", "values": ["sandbox-node"]}
                    ]
                }
            ),
            True,
        ),
        (pod_with(selector={"kubernetes.io/os": "windows"}), False),
        (pod_with({}), False),
    ],
)
def test_fits(pod: dict[str, Any], expected: bool) -> None:
    assert fits(pod, NODE) is expected


def test_message_is_the_schedulers() -> None:
    message = unschedulable_message(pod_with(expr("kubernetes.io/hostname", "In", "x")), NODE)

    assert message is not None
    assert message.startswith("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity")
