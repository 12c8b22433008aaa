"""Runs the pods of Deployments annotated `sandbox.gremlins.ai/run-pods: "true"`.

Routes store events to one DeploymentController per opted-in Deployment (deployment_controller);
the pods run on the Job runner's kubelet machinery (sandbox/jobs/pod_worker) with the same data
folder, so `JobRunner.pod_log` and `kubectl logs` read their logs too. Like the Job runner it
never blocks the store's listener: it only wakes controllers. Other Deployments keep the
rollout controller's simulated status (sandbox/kube/rollout_controller).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from datamigration_sandbox.jobs.owner_controllers import (
    OwnerControllers,
)
from datamigration_sandbox.jobs.pod_worker import KubeletSettings
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.rollout_controller import DEPLOYMENTS, runs_pods
from datamigration_sandbox.kube.store import Store
from datamigration_sandbox.workloads.deployment_controller import DeploymentController
from datamigration_sandbox.workloads.shared_port import hand_over_queued_connections


class DeploymentRunner:
    def __init__(self, settings: KubeletSettings) -> None:
        """`settings`: the kubelet's (data folder, API URL, back-off, kill grace); the node
        itself is registered by the Job runner."""
        self._settings = settings
        self._store: Store = settings.store
        self._controllers: OwnerControllers[DeploymentController] = OwnerControllers(
            "Deployment",
            lambda namespace, name, uid: DeploymentController(
                settings, namespace, name, uid, self._forget
            ),
        )
        # Closed controllers whose pods may still be stopping: `stop` must kill those too.
        self._retired: list[DeploymentController] = []
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Subscribe to the store; call it on the running event loop."""
        asyncio.get_running_loop()
        hand_over_queued_connections()
        self._unsubscribe = self._store.subscribe(self._on_change)
        deployments = self._store.lookup("apps", "v1", "deployments")
        for deployment in self._store.list(deployments, None)[0]:
            if runs_pods(deployments, deployment):
                self._controllers.for_owner(deployment).wake()

    async def stop(self) -> None:
        """Kill every pod process at once and stop all controllers."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        controllers = [*self._controllers.clear(), *self._retired]
        self._retired.clear()
        for controller in controllers:
            await controller.halt()

    # --- store events -----------------------------------------------------------------------

    def _on_change(
        self,
        event_type: str,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        if rt.key == DEPLOYMENTS:
            self._on_deployment(event_type, rt, obj)
        else:
            self._controllers.on_dependency(event_type, rt.key, obj)

    def _on_deployment(self, event_type: str, rt: ResourceType, deployment: dict[str, Any]) -> None:
        if event_type == "DELETED":
            self._controllers.close_owner(deployment)
            return
        meta = deployment["metadata"]
        current = self._controllers.get(meta["namespace"], meta["name"])
        if runs_pods(rt, deployment):
            self._controllers.for_owner(deployment).wake()
        elif current is not None:  # opted out: its controller stops the pods, then closes
            current.wake()

    def _forget(self, controller: DeploymentController) -> None:
        self._controllers.forget(controller)
        self._retired = [c for c in self._retired if not c.finished]
        if not controller.finished:
            self._retired.append(controller)
