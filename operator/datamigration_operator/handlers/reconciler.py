"""The one reconcile function: read the DataMigration, observe, plan, execute in order."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from datamigration_operator.api.names import API_VERSION, KIND
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.controller.execute import execute
from datamigration_operator.controller.observe import observe, read_datamigration
from datamigration_operator.handlers.runtime import Runtime
from datamigration_operator.kube.errors import KubeError, handler_error
from datamigration_operator.kube.events import InvolvedObject
from datamigration_operator.reconcile.actions import Action
from datamigration_operator.reconcile.invalid_spec import describe_problem, plan_invalid_spec
from datamigration_operator.reconcile.planner import plan
from datamigration_operator.reconcile.release import plan_release

# While a pod of the old mode terminates (its exit changes no watched object), the mode's
# application is looked at again this often, instead of at the next resync (10 s by default).
TERMINATING_RECHECK_SECONDS = 1.0


async def reconcile(runtime: Runtime, namespace: str, name: str) -> list[Action]:
    """The actions executed (empty when there was nothing to do or the object is gone).
    Raises KubeError when an API call fails; the actions before it took effect."""
    async with runtime.lock((namespace, name)):
        raw = await read_datamigration(runtime.client, namespace, name)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            return []
        now = datetime.now(UTC)
        try:
            dm = DataMigration.from_object(raw)
        except ValidationError as exc:
            # Nothing to observe: the planned refusal writes only status and an event.
            refusal = plan_invalid_spec(raw, describe_problem(exc), now)
            await execute(runtime.client, runtime.recorder, _involved(raw), refusal)
            runtime.metrics.reconciled(namespace, name, raw.get("status") or {}, refusal)
            return refusal
        world = await observe(runtime.client, dm, now, runtime.config.job_policy)
        actions = plan(world.observation)
        await execute(runtime.client, runtime.recorder, world, actions)
        runtime.metrics.reconciled(namespace, name, raw.get("status") or {}, actions)
        if any(w.pods_in_other_modes for w in world.observation.workloads):
            runtime.recheck_soon(
                (namespace, name),
                TERMINATING_RECHECK_SECONDS,
                lambda: reconcile_or_retry(runtime, namespace, name),
            )
        return actions


async def release(runtime: Runtime, namespace: str, name: str) -> list[Action]:
    """On deletion: give the app's ConfigMap back and stop the Jobs (reconcile.release)."""
    async with runtime.lock((namespace, name)):
        raw = await read_datamigration(runtime.client, namespace, name)
        if raw is None:
            return []
        try:
            dm = DataMigration.from_object(raw)
        except ValidationError:
            return []  # a spec the operator refused never claimed anything
        world = await observe(runtime.client, dm, datetime.now(UTC), runtime.config.job_policy)
        actions = plan_release(world.observation)
        await execute(runtime.client, runtime.recorder, world, actions)
        return actions


async def reconcile_or_retry(runtime: Runtime, namespace: str, name: str) -> None:
    """For kopf's changing handlers: API failures become kopf Temporary/Permanent errors."""
    started = time.monotonic()
    try:
        await reconcile(runtime, namespace, name)
    except KubeError as exc:
        runtime.stats.failures += 1
        runtime.stats.last_error = str(exc)
        runtime.metrics.reconcile_failed(namespace, name)
        raise handler_error(exc) from exc
    finally:
        runtime.metrics.reconcile_duration.observe(time.monotonic() - started)
    runtime.stats.reconciles += 1
    runtime.stats.last_success = datetime.now(UTC)


def _involved(raw: dict[str, Any]) -> InvolvedObject:
    meta = raw["metadata"]
    namespace, name, uid = str(meta["namespace"]), str(meta["name"]), str(meta.get("uid", ""))
    return InvolvedObject(API_VERSION, KIND, namespace, name, uid)
