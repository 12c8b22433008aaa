"""The kubelet of one Job pod: schedules it on the sandbox node and runs its first container.

Emulation, not isolation: the container is a local process (see pod_process) whose image is
this virtualenv plus this source tree; volumes are local folders whose mountPaths are mapped by
rewriting strings (see mount_paths); the ServiceAccount token arrives as a per-pod KUBECONFIG.
Only the first container runs; its status is the pod's only containerStatus. While it runs,
its configMap/secret volumes follow their sources (re-projected on every cluster change, and at
least every _RECHECK_SECONDS) and its readinessProbe, if any, decides its readiness.
restartPolicy Always restarts a container whatever its exit code (Deployment pods), with the
CrashLoopBackOff back-off of OnFailure.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from datamigration_sandbox.jobs.cluster_events import record_event
from datamigration_sandbox.jobs.env_resolution import (
    ContainerConfigError,
    configmap_values,
    expand_command,
    resolve_env,
    secret_values,
)
from datamigration_sandbox.jobs.job_status import format_time, retry_delay
from datamigration_sandbox.jobs.node_affinity import NODE_NAME, unschedulable_message
from datamigration_sandbox.jobs.pod_manifest import qos_class
from datamigration_sandbox.jobs.pod_process import (
    ContainerProcess,
    ContainerStartError,
    image_environment,
)
from datamigration_sandbox.jobs.pod_status import (
    container_status,
    node_status,
    running_state,
    terminated_state,
    unschedulable_status,
    waiting_state,
)
from datamigration_sandbox.jobs.pod_volumes import (
    VolumeMountError,
    container_mounts,
    materialize_volumes,
    refresh_projected_volumes,
)
from datamigration_sandbox.jobs.readiness_probe import (
    ProbeConfigError,
    ProbeSpec,
    ReadinessTracker,
    parse_probe,
    probe_once,
)
from datamigration_sandbox.jobs.termination_message import (
    termination_file,
    termination_message,
)
from datamigration_sandbox.kube.kubeconfig import write_kubeconfig
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

_log = logging.getLogger(__name__)

_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
_RECHECK_SECONDS = 1.0  # how often a waiting pod re-checks, besides store-change wake-ups


class TokenMinter(Protocol):
    def mint_service_account_token(self, namespace: str, name: str) -> str: ...


class StopReason(enum.Enum):
    DELETED = "deleted"  # the pod object is gone: kill, write nothing
    DEADLINE = "deadline"  # activeDeadlineSeconds: SIGKILL, pod Failed/DeadlineExceeded
    TERMINATE = "terminate"  # the controller removes the pod: SIGTERM, then SIGKILL


@dataclass(frozen=True)
class KubeletSettings:
    store: Store
    data_dir: Path
    api_url: str
    certificate_authority: bytes | None
    path_prefix: tuple[Path, ...]
    tokens: TokenMinter | None
    retry_base_delay: float
    retry_max_delay: float
    kill_grace: float
    """Seconds from SIGTERM to SIGKILL; with `honor_grace_period`, only for pods that set no
    terminationGracePeriodSeconds (Job pods: stopping them fast keeps tests fast)."""
    honor_grace_period: bool = False

    def claim_dir(self, namespace: str, claim: str) -> Path:
        folder = self.data_dir / "pvcs" / namespace / claim
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def pod_dir(self, namespace: str, pod: str) -> Path:
        return self.data_dir / "pods" / namespace / pod

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        return self.data_dir / "logs" / namespace / pod / f"{container}.log"


class _PodGoneError(Exception):
    pass


@dataclass
class _Exit:
    code: int
    started_at: str | None
    reason: str | None = None
    message: str | None = None


class PodWorker:
    def __init__(
        self, settings: KubeletSettings, pod: dict[str, Any], on_change: Callable[[], None]
    ) -> None:
        self._settings = settings
        self._store = settings.store
        self._pods = self._store.lookup("", "v1", "pods")
        self.name: str = pod["metadata"]["name"]
        self.namespace: str = pod["metadata"]["namespace"]
        self._pod = pod
        self._on_change = on_change
        self.outcome: str | None = None  # "Succeeded" | "Failed" once the pod ended
        self.final_pod: dict[str, Any] = pod
        self.restart_count = 0
        self.ready = False
        self.counted = False  # the Job controller has accounted for the outcome
        self.stop_reason: StopReason | None = None
        self._process: ContainerProcess | None = None
        self._wake = asyncio.Event()
        self._stopping: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._scheduled_at = ""
        self._start_time = ""

    # --- control --------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.name}")

    @property
    def terminating(self) -> bool:
        return self.outcome is None and self.stop_reason is not None

    @property
    def active(self) -> bool:
        return self.outcome is None and self.stop_reason is None

    def kick(self) -> None:
        """Something in the cluster changed: re-check what the pod waits for."""
        self._wake.set()

    def stop(self, reason: StopReason) -> None:
        if self.outcome is not None:
            return
        if self.stop_reason is None or reason is StopReason.DELETED:
            self.stop_reason = reason
        self._wake.set()
        process = self._process
        if process is None or not process.running:
            return
        if reason is StopReason.DEADLINE:
            process.send(signal.SIGKILL)
        else:
            task = asyncio.get_running_loop().create_task(process.terminate(self._grace()))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _grace(self) -> float:
        declared = (self._pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        if self._settings.honor_grace_period and isinstance(declared, int) and declared >= 0:
            return float(declared)
        return self._settings.kill_grace

    def send_signal(self, sig: int) -> bool:
        process = self._process
        return process is not None and process.send(sig)

    async def halt(self) -> None:
        """Kill at once and wait for the task (the runner is stopping)."""
        self.stop_reason = StopReason.DELETED
        if self._process is not None:
            self._process.send(signal.SIGKILL)
            # reaped before the loop closes (an unreaped child leaves a transport behind)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._process.wait(), 5)
        for task in [self._task, *self._stopping]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # --- the pod's life -------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            if await self._schedule():
                await self._run_container()
        except _PodGoneError:
            self.outcome = "Failed"  # deleted before it ended: the controller counts a failure
        except Exception:
            _log.exception("pod %s/%s: runner failure", self.namespace, self.name)
            self.outcome = "Failed"
        finally:
            self.ready = False
            if self.outcome is None:
                self.outcome = "Failed"
            self._on_change()

    async def _schedule(self) -> bool:
        reported = ""
        while True:
            if self.stop_reason is not None:
                await self._finish_without_start()
                return False
            pod = self._get()
            message = self._unschedulable(pod)
            if message is None:
                break
            if message != reported:
                reported = message
                status = unschedulable_status(message, self._now(), _qos(pod))
                self._put_status(status)
                self._event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
            await self._sleep(_RECHECK_SECONDS)
        pod["spec"]["nodeName"] = NODE_NAME
        try:
            self._pod = self._store.update(self._pods, self.namespace, self.name, pod)
        except ApiError as exc:
            if exc.code == 404:
                raise _PodGoneError from exc
            raise
        self._bind_claims(pod)
        self._scheduled_at = self._start_time = self._now()
        self._event(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {self.namespace}/{self.name} to {NODE_NAME}",
            "default-scheduler",
        )
        return True

    async def _run_container(self) -> None:
        container = self._pod["spec"]["containers"][0]
        restart_policy = self._pod["spec"].get("restartPolicy", "Never")
        last_state: dict[str, Any] = {}
        reported = ""
        while True:
            if self.stop_reason is not None:
                await self._finish_stopped(container, last_state, None)
                return
            try:
                argv, env, cwd = self._prepare(container)
            except (ContainerConfigError, VolumeMountError) as exc:
                reason = (
                    "CreateContainerConfigError"
                    if isinstance(exc, ContainerConfigError)
                    else "ContainerCreating"
                )
                if str(exc) != reported:
                    reported = str(exc)
                    self._write_pending(container, waiting_state(reason, str(exc)), last_state)
                    event_reason = "Failed" if reason != "ContainerCreating" else "FailedMount"
                    event_message = f"Error: {exc}" if event_reason == "Failed" else str(exc)
                    self._event(self._pod, "Warning", event_reason, event_message, "kubelet")
                await self._sleep(_RECHECK_SECONDS)
                continue
            except ContainerStartError as exc:
                result = _Exit(128, None, "StartError", str(exc))
            else:
                result = await self._execute(container, argv, env, cwd, last_state)
            if self._stop_requested():
                await self._finish_stopped(container, last_state, result)
                return
            finished_at = self._now()
            terminated = terminated_state(
                result.code,
                result.started_at,
                finished_at,
                reason=result.reason,
                message=result.message,
            )
            if restart_policy == "Always" or (result.code != 0 and restart_policy == "OnFailure"):
                self.restart_count += 1
                last_state = terminated
                message = (
                    f"back-off restarting failed container {container.get('name')} in pod "
                    f"{self.name}_{self.namespace}"
                )
                self._write_running(
                    container, waiting_state("CrashLoopBackOff", message), last_state
                )
                self._on_change()
                delay = retry_delay(
                    self.restart_count,
                    self._settings.retry_base_delay,
                    self._settings.retry_max_delay,
                )
                await self._sleep(delay)
                continue
            phase = "Succeeded" if result.code == 0 else "Failed"
            self._finish(container, phase, terminated, last_state)
            return

    async def _execute(
        self,
        container: dict[str, Any],
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        last_state: dict[str, Any],
    ) -> _Exit:
        name = str(container.get("name", ""))
        log_path = self._settings.log_path(self.namespace, self.name, name)
        if log_path.exists():  # keep the previous attempt, like `kubectl logs --previous`
            log_path.replace(log_path.with_suffix(".previous.log"))
        try:
            self._process = await ContainerProcess.start(argv, env, cwd, log_path)
        except ContainerStartError as exc:
            return _Exit(128, None, "StartError", str(exc))
        started_at = self._now()
        probe_error: str | None = None
        try:
            probe = parse_probe(container)
        except ProbeConfigError as exc:
            probe, probe_error = None, str(exc)
        self.ready = probe is None and probe_error is None
        self._write_running(container, running_state(started_at), last_state)
        self._event(self._pod, "Normal", "Started", f"Started container {name}", "kubelet")
        if probe_error is not None:
            message = f"Readiness probe errored: {probe_error}"
            self._event(self._pod, "Warning", "Unhealthy", message, "kubelet")
        self._on_change()
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._keep_volumes_current())]
        if probe is not None:
            running = running_state(started_at)
            helpers.append(
                loop.create_task(self._probe_readiness(probe, container, running, last_state))
            )
        try:
            code = await self._process.wait()
        finally:
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, _PodGoneError):
                    await helper
        self.ready = False
        file = termination_file(self._settings.pod_dir(self.namespace, self.name), name)
        return _Exit(code, started_at, message=termination_message(container, file, code, log_path))

    async def _keep_volumes_current(self) -> None:
        """The kubelet's volume sync: configMap/secret volumes follow their sources."""
        pod_dir = self._settings.pod_dir(self.namespace, self.name)
        while True:
            self._wake.clear()  # before reading, so a change made meanwhile wakes us again
            try:
                refresh_projected_volumes(self._pod, self._lookup, pod_dir)
            except (ApiError, OSError):
                _log.exception("pod %s/%s: volume refresh failed", self.namespace, self.name)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
            # that races the wake-up, and then the pod never leaves Running
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_RECHECK_SECONDS):
                    await self._wake.wait()

    async def _probe_readiness(
        self,
        probe: ProbeSpec,
        container: dict[str, Any],
        running: dict[str, Any],
        last_state: dict[str, Any],
    ) -> None:
        tracker = ReadinessTracker(probe)
        await asyncio.sleep(probe.initial_delay)
        while True:
            process = self._process
            success = (
                process is not None and process.listens_on(probe.port) and await probe_once(probe)
            )
            if tracker.record(success):
                self.ready = tracker.ready
                self._write_running(container, running, last_state)
                if not tracker.ready:
                    message = f"Readiness probe failed: {probe.kind} port {probe.port}"
                    self._event(self._pod, "Warning", "Unhealthy", message, "kubelet")
                self._on_change()
            await asyncio.sleep(probe.period)

    def _prepare(self, container: dict[str, Any]) -> tuple[list[str], dict[str, str], Path]:
        """argv, environment and working directory, with mountPaths mapped to local folders."""
        if not container.get("command"):
            raise ContainerStartError("sandbox: container needs an explicit command")
        pod, settings = self._pod, self._settings
        pod_dir = settings.pod_dir(self.namespace, self.name)
        volumes = materialize_volumes(
            pod, self._lookup, pod_dir, lambda claim: settings.claim_dir(self.namespace, claim)
        )
        name = str(container.get("name", ""))
        subpaths = pod_dir / "volume-subpaths" / name
        table = container_mounts(container, volumes, subpaths, termination_file(pod_dir, name))
        declared = resolve_env(container, pod, self._lookup)
        argv = [table.rewrite(word) for word in expand_command(container, declared)]
        working_dir = container.get("workingDir")
        mapped = table.local_path(str(working_dir)) if working_dir else None
        cwd = Path(mapped) if mapped else pod_dir / "workdir"
        home = pod_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        account = pod["spec"].get("serviceAccountName") or "default"
        token = (
            settings.tokens.mint_service_account_token(self.namespace, account)
            if settings.tokens is not None
            else None
        )
        # Stands in for the projected ServiceAccount token and the in-cluster service.
        kubeconfig = write_kubeconfig(
            pod_dir / "kubeconfig",
            settings.api_url,
            token=token,
            namespace=self.namespace,
            context="sandbox-pod",
            certificate_authority=settings.certificate_authority,
        )
        base = {
            **image_environment(settings.path_prefix),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "HOSTNAME": self.name,
            "KUBECONFIG": str(kubeconfig),
        }
        env = {**base, **{key: table.rewrite(value) for key, value in declared.items()}}
        return argv, env, cwd

    def _lookup(self, kind: str, name: str) -> Mapping[str, str] | None:
        plural = "secrets" if kind == "Secret" else "configmaps"
        try:
            obj = self._store.get(self._store.lookup("", "v1", plural), self.namespace, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return secret_values(obj) if kind == "Secret" else configmap_values(obj)

    def _unschedulable(self, pod: dict[str, Any]) -> str | None:
        nodes = self._store.lookup("", "v1", "nodes")
        try:
            node = self._store.get(nodes, None, NODE_NAME)
        except ApiError:
            return "0/0 nodes are available: no nodes available to schedule pods."
        message = unschedulable_message(pod, node)
        if message is not None:
            return message
        claims = self._store.lookup("", "v1", "persistentvolumeclaims")
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim is None:
                continue
            try:
                self._store.get(claims, self.namespace, claim)
            except ApiError:
                return (
                    f'0/1 nodes are available: persistentvolumeclaim "{claim}" not found. '
                    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
                    "scheduling."
                )
        return None

    def _bind_claims(self, pod: dict[str, Any]) -> None:
        """Dynamic provisioning binds a WaitForFirstConsumer claim when its pod is scheduled."""
        claims = self._store.lookup("", "v1", "persistentvolumeclaims")
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim is None:
                continue
            with contextlib.suppress(ApiError):
                pvc = self._store.get(claims, self.namespace, claim)
                if (pvc.get("status") or {}).get("phase") == "Bound":
                    continue
                spec = pvc.get("spec") or {}
                storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
                pvc["status"] = {
                    "phase": "Bound",
                    "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                    "capacity": {"storage": storage or "1Gi"},
                }
                self._store.update(claims, self.namespace, claim, pvc, subresource="status")

    # --- status writes --------------------------------------------------------------------

    def _write_pending(
        self, container: dict[str, Any], state: dict[str, Any], last_state: dict[str, Any]
    ) -> None:
        self._write_phase("Pending", container, state, last_state)

    def _write_running(
        self, container: dict[str, Any], state: dict[str, Any], last_state: dict[str, Any]
    ) -> None:
        self._write_phase("Running", container, state, last_state)

    def _write_phase(
        self,
        phase: str,
        container: dict[str, Any],
        state: dict[str, Any],
        last_state: dict[str, Any],
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        statuses = [
            container_status(
                container, state, restart_count=self.restart_count, last_state=last_state
            )
        ]
        statuses[0]["ready"] = bool(statuses[0]["ready"] and self.ready)
        status = node_status(
            phase,
            statuses,
            scheduled_at=self._scheduled_at,
            start_time=self._start_time,
            now=self._now(),
            qos_class=_qos(self._pod),
            reason=reason,
            message=message,
        )
        return self._put_status(status)

    def _finish(
        self,
        container: dict[str, Any],
        phase: str,
        state: dict[str, Any],
        last_state: dict[str, Any],
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        self.final_pod = self._write_phase(
            phase, container, state, last_state, reason=reason, message=message
        )
        self.outcome = phase

    async def _finish_stopped(
        self, container: dict[str, Any], last_state: dict[str, Any], result: _Exit | None
    ) -> None:
        if self.stop_reason is StopReason.DELETED:
            raise _PodGoneError
        if result is not None:
            state = terminated_state(
                result.code, result.started_at, self._now(), reason=result.reason
            )
        else:
            state = last_state or waiting_state("ContainerCreating")
        if self.stop_reason is StopReason.DEADLINE:
            self._finish(
                container,
                "Failed",
                state,
                last_state if result is not None else {},
                reason="DeadlineExceeded",
                message=_DEADLINE_MESSAGE,
            )
        else:
            self._finish(container, "Failed", state, last_state if result is not None else {})

    async def _finish_without_start(self) -> None:
        if self.stop_reason is StopReason.DELETED:
            raise _PodGoneError
        status = dict(self._get().get("status") or {})
        status["phase"] = "Failed"
        if self.stop_reason is StopReason.DEADLINE:
            status.update(reason="DeadlineExceeded", message=_DEADLINE_MESSAGE)
        self.final_pod = self._put_status(status)
        self.outcome = "Failed"

    def _put_status(self, status: dict[str, Any]) -> dict[str, Any]:
        if self.stop_reason is StopReason.DELETED:
            raise _PodGoneError
        for _ in range(5):
            pod = self._get()
            pod["status"] = status
            try:
                self._pod = self._store.update(
                    self._pods, self.namespace, self.name, pod, subresource="status"
                )
            except ApiError as exc:
                if exc.code == 409:
                    continue
                if exc.code == 404:
                    raise _PodGoneError from exc
                raise
            return self._pod
        raise RuntimeError(f"pod {self.namespace}/{self.name}: status kept conflicting")

    def _get(self) -> dict[str, Any]:
        try:
            return self._store.get(self._pods, self.namespace, self.name)
        except ApiError as exc:
            if exc.code == 404:
                raise _PodGoneError from exc
            raise

    # --- small pieces ---------------------------------------------------------------------

    def _stop_requested(self) -> bool:
        """Re-read after an await (a plain attribute check would be narrowed by mypy)."""
        return self.stop_reason is not None

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _event(
        self, pod: dict[str, Any], event_type: str, reason: str, message: str, component: str
    ) -> None:
        record_event(self._store, pod, event_type, reason, message, component, _utcnow())

    @staticmethod
    def _now() -> str:
        return format_time(_utcnow())


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _qos(pod: dict[str, Any]) -> str:
    return qos_class(pod.get("spec") or {})
