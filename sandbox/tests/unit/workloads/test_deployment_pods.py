"""Pods made from a Deployment's template: owner, labels, name, restartPolicy."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.workloads.deployment_pods import (
    TEMPLATE_HASH_LABEL,
    TemplateError,
    pod_from_deployment,
    template_hash,
)


def deployment(**pod_spec: Any) -> dict[str, Any]:
    spec = {"containers": [{"name": "app", "command": ["app"]}], **pod_spec}
    return {
        "metadata": {"name": "chat", "namespace": "apps", "uid": "u-1"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "chat"}, "annotations": {"mode": "x"}},
                "spec": spec,
            }
        },
    }


def test_pod_is_owned_labelled_and_named_like_a_replica_set_pod() -> None:
    source = deployment()
    revision = template_hash(source["spec"]["template"])

    pod = pod_from_deployment(source, revision)

    meta = pod["metadata"]
    prefix, suffix = meta["name"].rsplit("-", 1)
    assert prefix == f"chat-{revision}"
    assert len(suffix) == 5
    assert meta["labels"] == {"app": "chat", TEMPLATE_HASH_LABEL: revision}
    assert meta["annotations"] == {"mode": "x"}
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Deployment", "u-1", True)
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["serviceAccountName"] == "default"
    assert source["spec"]["template"]["spec"].get("restartPolicy") is None  # not mutated


def test_template_hash_follows_the_template() -> None:
    template = deployment()["spec"]["template"]
    changed = deployment()["spec"]["template"]
    changed["metadata"]["annotations"]["mode"] = "y"

    assert template_hash(template) == template_hash(deployment()["spec"]["template"])
    assert template_hash(template) != template_hash(changed)


@pytest.mark.parametrize(
    ("pod_spec", "message"),
    [({"restartPolicy": "Never"}, "supported values"), ({"containers": []}, "Required value")],
)
def test_templates_a_deployment_cannot_have_are_refused(
    pod_spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        pod_from_deployment(deployment(**pod_spec), "h")
