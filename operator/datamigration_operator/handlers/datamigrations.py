"""Handlers of DataMigration objects: every change, resume and a periodic re-plan reconcile."""

from __future__ import annotations

from typing import Any

import kopf

from datamigration_operator.api.names import GROUP, PLURAL, VERSION
from datamigration_operator.handlers.config import RESYNC_SECONDS
from datamigration_operator.handlers.reconciler import reconcile_or_retry, release
from datamigration_operator.handlers.runtime import runtime_of
from datamigration_operator.kube.errors import KubeError, handler_error

Dependency = tuple[str, str, str]  # (namespace, kind, name)
# kopf passes an index to every handler as a keyword argument named after its id.
DEPENDENCY_INDEX = "datamigrations_by_dependency"


@kopf.on.resume(GROUP, VERSION, PLURAL)
async def resumed(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    await reconcile_or_retry(runtime_of(memo), namespace or "", name)


@kopf.on.create(GROUP, VERSION, PLURAL)
async def created(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    await reconcile_or_retry(runtime_of(memo), namespace or "", name)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
async def spec_changed(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    # Rollback lands here: its first action (sqlite_only) runs within this handler.
    await reconcile_or_retry(runtime_of(memo), namespace or "", name)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def deleted(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """The finalizer's work (kopf removes it once this returns): the app's ConfigMap goes back
    to its value before the migration, or keeps its mode (spec.app.onDelete), and is released."""
    try:
        await release(runtime_of(memo), namespace or "", name)
    except KubeError as exc:
        raise handler_error(exc) from exc


@kopf.timer(GROUP, VERSION, PLURAL, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
async def resync(
    name: str, namespace: str | None, meta: kopf.Meta, status: kopf.Status, memo: Any, **_: Any
) -> None:
    """Catches what no watched event announces: a Secret or claim created after the Block, a
    missed watch event. A phase that Succeeded for the current generation has nothing to wait
    for (its ConfigMap, workloads and Jobs are watched), so it is skipped: with hundreds of
    DataMigrations the timer stays cheap."""
    settled = status.get("state") == "Succeeded" and status.get("observedGeneration") == meta.get(
        "generation"
    )
    if not settled:
        await reconcile_or_retry(runtime_of(memo), namespace or "", name)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def status_written(
    type: str,
    name: str,
    namespace: str | None,
    status: kopf.Status,
    memo: Any,
    **_: Any,
) -> None:
    """A validate Job's report (status.validation) may open the switch gate: re-plan at once.
    Every event also refreshes the DataMigration's gauges (progress the Jobs write included)."""
    runtime = runtime_of(memo)
    if type == "DELETED":
        runtime.forget((namespace or "", name))
        return
    runtime.metrics.status_seen(namespace or "", name, status)
    validation = status.get("validation")
    if runtime.validation_changed((namespace or "", name), validation) and validation is not None:
        await reconcile_or_retry(runtime, namespace or "", name)


@kopf.index(GROUP, VERSION, PLURAL, id=DEPENDENCY_INDEX)
def datamigrations_by_dependency(
    name: str, namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[Dependency, str]:
    """(namespace, kind, name) of the ConfigMap and workloads -> the DataMigrations using them."""
    app = spec.get("app") or {}
    keys: dict[Dependency, str] = {}
    config_map = (app.get("configMapRef") or {}).get("name")
    if isinstance(config_map, str):
        keys[(namespace or "", "ConfigMap", config_map)] = name
    for workload in app.get("workloads") or []:
        if isinstance(workload, dict):
            keys[(namespace or "", str(workload.get("kind")), str(workload.get("name")))] = name
    return keys
