"""JobRunner: kube-controller-manager's Job controller plus a kubelet, over the sandbox store.

Jobs are defaulted and validated at admission (job_defaults); each Job gets a JobController
(job_controller) whose pods run as local processes (pod_worker). The runner only routes store
events: it never blocks the store's listener, it wakes the controllers.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datamigration_sandbox.jobs.job_controller import JobController
from datamigration_sandbox.jobs.job_defaults import admit_job
from datamigration_sandbox.jobs.node_affinity import (
    NODE_NAME,
    node_manifest,
    node_ready_status,
)
from datamigration_sandbox.jobs.owner_controllers import (
    OwnerControllers,
)
from datamigration_sandbox.jobs.pod_worker import KubeletSettings, TokenMinter
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

_JOBS = ("batch", "jobs")


class JobRunner:
    def __init__(
        self,
        store: Store,
        *,
        data_dir: Path,
        api_url: str,
        certificate_authority: bytes | None = None,
        path_prefix: tuple[Path, ...] = (),
        authenticator: TokenMinter | None = None,
        retry_base_delay: float = 0.2,
        retry_max_delay: float = 5.0,
        kill_grace: float = 2.0,
    ) -> None:
        """`retry_*`: pod re-creation back-off (the real controller: 10 s doubling to 6 min).
        `certificate_authority`: PEM of the API server's CA when `api_url` is https.
        `path_prefix`: folders searched first for container executables (tests put stand-ins
        for `dmctl` there).
        `kill_grace`: seconds between SIGTERM and SIGKILL when a pod is stopped (at most the
        pod's terminationGracePeriodSeconds in a real cluster, default 30 s)."""
        self._store = store
        self._settings = KubeletSettings(
            store=store,
            data_dir=data_dir,
            api_url=api_url,
            certificate_authority=certificate_authority,
            path_prefix=path_prefix,
            tokens=authenticator,
            retry_base_delay=retry_base_delay,
            retry_max_delay=retry_max_delay,
            kill_grace=kill_grace,
        )
        self._controllers: OwnerControllers[JobController] = OwnerControllers(
            "Job",
            lambda namespace, name, uid: JobController(
                self._settings, namespace, name, uid, self._controllers.forget
            ),
        )
        self._unsubscribe: Callable[[], None] | None = None
        store.add_admission(admit_job)

    def start(self) -> None:
        """Subscribe to the store; call it on the running event loop."""
        asyncio.get_running_loop()  # fail early when called outside the loop
        self._ensure_node()
        self._unsubscribe = self._store.subscribe(self._on_change)
        jobs = self._store.lookup("batch", "v1", "jobs")
        for job in self._store.list(jobs, None)[0]:
            self._controllers.for_owner(job).wake()

    async def stop(self) -> None:
        """Kill every process at once and stop all controllers."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for controller in self._controllers.clear():
            await controller.halt()

    def claim_dir(self, namespace: str, claim: str) -> Path:
        """The local folder backing a PersistentVolumeClaim (created on demand)."""
        return self._settings.claim_dir(namespace, claim)

    def pod_log(self, namespace: str, pod: str, container: str | None) -> str | None:
        """The container's log (stdout and stderr); None when it has not run."""
        name = container or self._first_container(namespace, pod)
        if name is None:
            return None
        path = self._settings.log_path(namespace, pod, name)
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None

    def kill(self, namespace: str, job_name: str, sig: int = signal.SIGKILL) -> bool:
        """Signal the process group of the Job's running pod (fault injection)."""
        controller = self._controllers.get(namespace, job_name)
        return controller is not None and controller.send_signal(sig)

    # --- store events -----------------------------------------------------------------------

    def _on_change(
        self,
        event_type: str,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        if rt.key == _JOBS:
            self._on_job(event_type, obj)
        else:
            self._controllers.on_dependency(event_type, rt.key, obj)

    def _on_job(self, event_type: str, job: dict[str, Any]) -> None:
        if event_type == "DELETED":
            self._controllers.close_owner(job)
        else:
            self._controllers.for_owner(job).wake()

    # --- helpers ----------------------------------------------------------------------------

    def _ensure_node(self) -> None:
        nodes = self._store.lookup("", "v1", "nodes")
        try:
            self._store.get(nodes, None, NODE_NAME)
            return
        except ApiError as exc:
            if exc.code != 404:
                raise
        node = self._store.create(nodes, None, node_manifest())
        node["status"] = node_ready_status()
        self._store.update(nodes, None, NODE_NAME, node, subresource="status")

    def _first_container(self, namespace: str, pod: str) -> str | None:
        try:
            obj = self._store.get(self._store.lookup("", "v1", "pods"), namespace, pod)
        except ApiError:
            return None
        containers = (obj.get("spec") or {}).get("containers") or []
        return str(containers[0].get("name")) if containers else None
