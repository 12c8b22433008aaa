"""Operator start and stop: kopf settings, credentials, the shared runtime, liveness."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from datamigration_operator.api.names import ANNOTATION_PREFIX
from datamigration_operator.handlers.runtime import Runtime, config_of, metrics_of, runtime_of
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.connection import load_connection
from datamigration_operator.kube.events import EventRecorder
from datamigration_operator.kube.transport import HttpTransport

DIFFBASE_KEY = "last-handled-configuration"
FINALIZER = f"{ANNOTATION_PREFIX}/finalizer"


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf's bookkeeping under our own prefix, never kopf.zalando.org/* (it would drift from
    Git); the status schema is closed, so progress lives in annotations."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key=DIFFBASE_KEY
    )
    # Timers need a finalizer; ours keeps kopf's name out of the object too.
    settings.persistence.finalizer = FINALIZER
    # Our EventRecorder posts the story; kopf posts only its own errors.
    settings.posting.level = logging.ERROR
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    configure(settings)
    config = config_of(memo)
    transport = HttpTransport(load_connection(settings, config.kubeconfig))
    client = KubeClient(transport)
    memo["runtime"] = Runtime(
        config=config,
        client=client,
        recorder=EventRecorder(client),
        transport=transport,
        metrics=metrics_of(memo),
    )


@kopf.on.login()
def login(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> kopf.ConnectionInfo:
    return load_connection(settings, config_of(memo).kubeconfig)


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    runtime = memo.get("runtime")
    if isinstance(runtime, Runtime):
        await runtime.close()


@kopf.on.probe(id="reconciles")
def reconciles(memo: Any, **_: Any) -> dict[str, Any]:
    stats = runtime_of(memo).stats
    return {
        "succeeded": stats.reconciles,
        "failed": stats.failures,
        "lastSuccess": stats.last_success.isoformat() if stats.last_success else None,
    }
