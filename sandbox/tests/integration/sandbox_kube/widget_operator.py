"""A small kopf operator for the conformance test: it records in status what it saw.

Progress lives in status and the diff-base under our own annotation prefix, so nothing is
written under kopf.zalando.org (the contract our product keeps for GitOps-managed objects).
"""

from __future__ import annotations

from typing import Any

import kopf

GROUP = "tests.gremlins.ai"
ANNOTATION_PREFIX = "migrations.gremlins.ai"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.enabled = False
    settings.watching.server_timeout = 10


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # The kubeconfig named by $KUBECONFIG now, not the one the client library saw at import.
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.create(GROUP, "v1", "widgets")
def created(spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    patch.status["observed"] = f"created:{spec.get('phase')}"


@kopf.on.update(GROUP, "v1", "widgets")
def updated(spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    patch.status["observed"] = f"updated:{spec.get('phase')}"
