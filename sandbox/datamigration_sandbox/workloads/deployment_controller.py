"""The controller of one opted-in Deployment: keeps spec.replicas pods of its template running as
local processes (through the Job runner's kubelet, pod_worker), rolls them on a template change
and writes the Deployment's status from them.

No ReplicaSet object is created: pods are owned by the Deployment (see deployment_pods). A pod
leaves in two steps, as on a real node: its process gets SIGTERM, then SIGKILL after the grace
(KubeletSettings.kill_grace), and once the process is gone the pod object is deleted. Each sync
recomputes everything from the Deployment and the pods this controller runs, so a 409 on the
status write only means "sync again".
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from datamigration_sandbox.jobs.cluster_events import record_event
from datamigration_sandbox.jobs.job_status import format_time, retry_delay
from datamigration_sandbox.jobs.pod_worker import KubeletSettings, PodWorker, StopReason
from datamigration_sandbox.jobs.sync_loop import SyncLoop
from datamigration_sandbox.kube.rollout_controller import runs_pods
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.workloads.deployment_pods import (
    TemplateError,
    pod_from_deployment,
    template_hash,
)
from datamigration_sandbox.workloads.deployment_status import (
    PodTally,
    deployment_status,
)
from datamigration_sandbox.workloads.rolling_update import (
    PodView,
    StrategyError,
    parse_strategy,
    plan,
)

_log = logging.getLogger(__name__)

_COMPONENT = "deployment-controller"


@dataclass
class _Member:
    worker: PodWorker
    revision: str
    rank: int


class DeploymentController(SyncLoop):
    kind = "deployment"

    def __init__(
        self,
        settings: KubeletSettings,
        namespace: str,
        name: str,
        uid: str,
        on_closed: Callable[[DeploymentController], None],
    ) -> None:
        self._settings = settings
        self._store = settings.store
        self._deployments = self._store.lookup("apps", "v1", "deployments")
        self._pods = self._store.lookup("", "v1", "pods")
        super().__init__(namespace, name, uid, on_closed)
        self._members: dict[str, _Member] = {}
        self._rank = 0
        self._create_failures = 0
        self._reported = ""  # last configuration error reported as an event

    # --- control --------------------------------------------------------------------------

    def kick(self) -> None:
        """The cluster changed (ConfigMaps, Secrets, claims...): pods re-check what they use."""
        for member in self._members.values():
            member.worker.kick()

    def pod_deleted(self, pod: str) -> None:
        member = self._members.get(pod)
        if member is not None:
            member.worker.stop(StopReason.DELETED)
        self._wake.set()

    def close(self) -> None:
        """The Deployment is gone: stop its processes (its pods are garbage-collected)."""
        self._closed = True
        for member in self._members.values():
            member.worker.stop(StopReason.DELETED)
        self._wake.set()

    @property
    def finished(self) -> bool:
        return self._closed and all(m.worker.outcome for m in self._members.values())

    async def halt(self) -> None:
        """Kill every process at once (the control plane is stopping)."""
        await self._cancel()
        for member in self._members.values():
            await member.worker.halt()

    # --- the sync loop --------------------------------------------------------------------

    def _sync(self) -> float | None:
        deployment = self._get()
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            self.close()
            return None
        self._reap()
        opted_in = runs_pods(self._deployments, deployment)
        spec = deployment.get("spec") or {}
        desired = int(spec.get("replicas", 1)) if opted_in else 0
        revision = template_hash(spec.get("template") or {})
        try:
            strategy = parse_strategy(spec, desired)
        except StrategyError as exc:
            self._report(deployment, "InvalidStrategy", str(exc))
            return None
        running = {n: m for n, m in self._members.items() if m.worker.active}
        views = [
            PodView(name, m.revision == revision, m.worker.ready, m.rank)
            for name, m in running.items()
        ]
        decision = plan(desired, strategy, views)
        for name in decision.stop:
            self._stop_pod(deployment, name)
        timeout: float | None = None
        for _ in range(decision.create):
            if not self._create_pod(deployment, revision):
                self._create_failures += 1
                base, cap = self._settings.retry_base_delay, self._settings.retry_max_delay
                timeout = retry_delay(self._create_failures, base, cap)
                break
        else:
            self._create_failures = 0
        if not opted_in:  # opted out while running: stop the pods, leave the status alone
            if not self._members:
                self.close()
            return timeout
        kept = [m for m in self._members.values() if m.worker.active]
        updated = [m for m in kept if m.revision == revision]
        tally = PodTally(
            total=len(kept),
            updated=len(updated),
            ready=sum(1 for m in kept if m.worker.ready),
            updated_ready=sum(1 for m in updated if m.worker.ready),
        )
        status = deployment_status(
            deployment,
            tally,
            desired=desired,
            max_unavailable=strategy.max_unavailable,
            revision=revision,
            now=format_time(datetime.now(UTC)),
        )
        self._write_status(deployment, status)
        return timeout

    def _reap(self) -> None:
        """Pods whose process has ended (stopped, deleted or failed) leave the cluster."""
        for name, member in list(self._members.items()):
            if member.worker.outcome is None:
                continue
            del self._members[name]
            with contextlib.suppress(ApiError):
                self._store.delete(self._pods, self.namespace, name)

    def _create_pod(self, deployment: dict[str, Any], revision: str) -> bool:
        try:
            pod = pod_from_deployment(deployment, revision)
            created = self._store.create(self._pods, self.namespace, pod)
        except TemplateError as exc:
            self._report(deployment, "FailedCreate", f"Error creating: {exc}")
            return False
        except ApiError as exc:
            self._report(deployment, "FailedCreate", f"Error creating: {exc.message}")
            return False
        self._reported = ""
        name = created["metadata"]["name"]
        worker = PodWorker(self._settings, created, self.wake)
        self._rank += 1
        self._members[name] = _Member(worker, revision, self._rank)
        worker.start()
        self._event(deployment, "Normal", "SuccessfulCreate", f"Created pod: {name}")
        return True

    def _stop_pod(self, deployment: dict[str, Any], name: str) -> None:
        self._members[name].worker.stop(StopReason.TERMINATE)
        self._event(deployment, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    def _write_status(self, deployment: dict[str, Any], status: dict[str, Any]) -> None:
        if status == deployment.get("status"):
            return
        body = copy.deepcopy(deployment)
        body["status"] = status
        try:
            self._store.update(
                self._deployments, self.namespace, self.name, body, subresource="status"
            )
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
            self._wake.set()

    def _get(self) -> dict[str, Any] | None:
        try:
            deployment = self._store.get(self._deployments, self.namespace, self.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return deployment if deployment["metadata"].get("uid") == self.uid else None

    def _report(self, deployment: dict[str, Any], reason: str, message: str) -> None:
        """A configuration error: one Warning event per distinct message."""
        if message != self._reported:
            self._reported = message
            self._event(deployment, "Warning", reason, message)

    def _event(
        self, deployment: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        record_event(
            self._store, deployment, event_type, reason, message, _COMPONENT, datetime.now(UTC)
        )
