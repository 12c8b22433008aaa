"""Events of objects a DataMigration depends on re-plan it at once: its Jobs (by our labels),
its ConfigMap and its workloads (through the dependency index)."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from datamigration_operator.api.names import LABEL_DATAMIGRATION, LABEL_MANAGED_BY, OPERATOR_NAME
from datamigration_operator.handlers.datamigrations import DEPENDENCY_INDEX
from datamigration_operator.handlers.reconciler import reconcile_or_retry
from datamigration_operator.handlers.runtime import Runtime, runtime_of

Logger = logging.Logger | logging.LoggerAdapter[Any]


async def _replan(runtime: Runtime, namespace: str | None, names: Any, logger: Logger) -> None:
    for name in sorted(set(names)):
        try:
            await reconcile_or_retry(runtime, namespace or "", name)
        except (kopf.TemporaryError, kopf.PermanentError) as exc:
            # Event handlers are not retried; the DataMigration's timer re-plans it.
            logger.warning(f"re-plan of DataMigration {namespace}/{name} failed: {exc}")


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED_BY: OPERATOR_NAME})
async def job_changed(
    namespace: str | None, labels: kopf.Labels, memo: Any, logger: Logger, **_: Any
) -> None:
    owner = labels.get(LABEL_DATAMIGRATION)
    if owner:
        await _replan(runtime_of(memo), namespace or "", [owner], logger)


def _users(kwargs: dict[str, Any], namespace: str | None, kind: str, name: str) -> list[str]:
    """DataMigrations that use this object (kopf passes indices as keyword arguments)."""
    index: kopf.Index[Any, str] = kwargs[DEPENDENCY_INDEX]
    return list(index.get((namespace or "", kind, name), []))


@kopf.on.event("v1", "configmaps")
async def config_map_changed(
    name: str, namespace: str | None, memo: Any, logger: Logger, **kwargs: Any
) -> None:
    users = _users(kwargs, namespace, "ConfigMap", name)
    await _replan(runtime_of(memo), namespace or "", users, logger)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_changed(
    name: str, namespace: str | None, memo: Any, logger: Logger, **kwargs: Any
) -> None:
    users = _users(kwargs, namespace, "Deployment", name)
    await _replan(runtime_of(memo), namespace or "", users, logger)


@kopf.on.event("apps", "v1", "statefulsets")
async def statefulset_changed(
    name: str, namespace: str | None, memo: Any, logger: Logger, **kwargs: Any
) -> None:
    users = _users(kwargs, namespace, "StatefulSet", name)
    await _replan(runtime_of(memo), namespace or "", users, logger)
