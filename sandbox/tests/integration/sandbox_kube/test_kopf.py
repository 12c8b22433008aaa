"""kopf 1.45 against the API server: discovery, watches, status patches, diff-base storage."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from sandbox_kube.conftest import WIDGET_GROUP, KubeSandbox

OPERATOR = Path(__file__).with_name("widget_operator.py")
WIDGETS = {"group": WIDGET_GROUP, "version": "v1", "plural": "widgets", "namespace": "default"}


def _eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_kopf_reacts_to_create_and_update(
    kube: KubeSandbox, widget_crd: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    api = client.CustomObjectsApi(kube.api_client())

    def observed() -> str | None:
        obj = api.get_namespaced_custom_object(**WIDGETS, name="watched")
        value: str | None = (obj.get("status") or {}).get("observed")
        return value

    args = ["run", "-A", "--standalone", "--verbose", str(OPERATOR)]
    with KopfRunner(args, timeout=30) as runner:
        body = {
            "apiVersion": f"{WIDGET_GROUP}/v1",
            "kind": "Widget",
            "metadata": {"name": "watched"},
            "spec": {"phase": "a"},
        }
        api.create_namespaced_custom_object(**{**WIDGETS, "body": body})
        assert _eventually(lambda: observed() == "created:a")

        api.patch_namespaced_custom_object(**WIDGETS, name="watched", body={"spec": {"phase": "b"}})
        assert _eventually(lambda: observed() == "updated:b")
        annotations = api.get_namespaced_custom_object(**WIDGETS, name="watched")["metadata"][
            "annotations"
        ]

    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output
    assert "migrations.gremlins.ai/last-handled-configuration" in annotations
    assert not [key for key in annotations if key.startswith("kopf.zalando.org")]
