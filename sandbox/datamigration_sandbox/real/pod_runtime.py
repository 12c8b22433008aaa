"""One pod on the process kubelet: its containers as local processes, its status in the API.

Reuses the emulator's pod-runner pieces: ContainerProcess (a process group per container, logs
to a file), env_resolution, pod_volumes + atomic_writer (configMap/secret volumes with the
`..data` swap), mount_paths (mountPaths rewritten to local folders), readiness_probe and
pod_status. What differs from the emulator's PodWorker: the pod comes from the real API server
(scheduled by the real scheduler), init containers run first, one after the other, each to a
successful exit, then every container runs (not only the first), a livenessProbe restarts its
container after failureThreshold failures, sources are read
through the API, projected ServiceAccount tokens come from the TokenRequest API, claims map to
their PersistentVolume's hostPath, and a deleted pod is stopped gracefully (SIGTERM, its grace
period, SIGKILL), reported terminal and then removed with grace 0, as a real kubelet does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamigration_sandbox.jobs.atomic_writer import write_payload
from datamigration_sandbox.jobs.env_resolution import (
    ContainerConfigError,
    SourceLookup,
    expand_command,
    resolve_env,
)
from datamigration_sandbox.jobs.job_status import retry_delay
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
from datamigration_sandbox.real.api_client import ApiStatusError
from datamigration_sandbox.real.kubelet_settings import SYNC_JITTER, KubeletSettings
from datamigration_sandbox.real.node_registration import now_rfc3339
from datamigration_sandbox.real.pod_events import record_pod_event
from datamigration_sandbox.real.pod_sources import (
    ServiceAccountTokens,
    claim_folder,
    fetch_sources,
    projected_payload,
)

_log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0
_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


class _PodGoneError(Exception):
    pass


@dataclass(frozen=True)
class _Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def _sync_key(pod: Mapping[str, Any]) -> str:
    """What makes the kubelet sync a pod at once: its spec, labels and annotations (not the
    status it writes itself)."""
    meta = pod.get("metadata") or {}
    return json.dumps(
        [pod.get("spec"), meta.get("labels"), meta.get("annotations")], sort_keys=True
    )


class PodRuntime:
    def __init__(self, settings: KubeletSettings, pod: dict[str, Any]) -> None:
        self._settings = settings
        self._api = settings.api
        self._pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.name: str = meta["name"]
        self.namespace: str = meta["namespace"]
        self._path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}"
        self._containers: list[dict[str, Any]] = list(pod["spec"].get("containers") or [])
        self._init_containers: list[dict[str, Any]] = list(pod["spec"].get("initContainers") or [])
        first = "PodInitializing" if self._init_containers else "ContainerCreating"
        self._states: dict[str, dict[str, Any]] = {
            str(c["name"]): waiting_state(first)
            for c in [*self._init_containers, *self._containers]
        }
        self._initialized = not self._init_containers
        self._init_failed = False
        self._last_states: dict[str, dict[str, Any]] = {}
        self._restarts: dict[str, int] = {}
        self._ready: dict[str, bool] = {}
        self._processes: dict[str, ContainerProcess] = {}
        self._tokens = ServiceAccountTokens(self._api)
        self._pod_dir = settings.pod_dir(self.namespace, self.name, self.uid)
        self._sync_key = _sync_key(pod)
        self._sync = asyncio.Event()
        self._stop = asyncio.Event()
        self._stopping_tasks: set[asyncio.Task[None]] = set()
        self._publish_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._started_at = ""
        self._deleting = False
        self._gone = False
        self._deadline_exceeded = False
        self._halt_how: Any = None
        self.finished = False

    # --- control from the kubelet ---------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.name}")

    def update(self, pod: dict[str, Any]) -> None:
        """A newer version of the pod object: a spec/metadata change syncs the pod at once."""
        key = _sync_key(pod)
        self._pod = {**pod, "status": self._pod.get("status")}
        if key != self._sync_key:
            self._sync_key = key
            self._sync.set()

    def terminate(self, grace: float) -> None:
        """The pod object is being deleted: SIGTERM, `grace` seconds, SIGKILL, then delete."""
        if self._deleting:
            return
        self._deleting = True
        self._halt(lambda process: process.terminate(grace))

    def kill_gracefully(self, grace: float) -> None:
        """The kubelet stops: SIGTERM, `grace` seconds, SIGKILL; the API is left alone."""
        self._gone = True
        self._halt(lambda process: process.terminate(grace))

    def kill(self) -> None:
        """The pod object is gone: kill at once, write nothing."""
        self._gone = True
        self._halt(lambda process: _kill(process))

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _halt(self, how: Any) -> None:
        self._halt_how = how
        self._stop.set()
        self._sync.set()
        for process in self._processes.values():
            if process.running:
                task = asyncio.get_running_loop().create_task(how(process))
                self._stopping_tasks.add(task)
                task.add_done_callback(self._stopping_tasks.discard)

    # --- the pod's life -------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            launches = await self._prepare_until_ready()
            if launches is not None:
                await self._run_containers(launches)
            await self._publish()
        except _PodGoneError:
            pass
        except Exception:
            _log.exception("pod %s/%s: runtime failure", self.namespace, self.name)
        finally:
            self.finished = True
        if self._deleting and not self._gone:
            await self._delete_object()

    async def _prepare_until_ready(self) -> dict[str, _Launch] | None:
        reported = ""
        while not self._stop.is_set():
            try:
                return await self._prepare()
            except (ContainerConfigError, VolumeMountError, ContainerStartError) as exc:
                if isinstance(exc, VolumeMountError):
                    reason, event = "ContainerCreating", "FailedMount"
                elif isinstance(exc, ContainerStartError):
                    reason, event = "CreateContainerError", "Failed"
                else:
                    reason, event = "CreateContainerConfigError", "Failed"
                if str(exc) != reported:
                    reported = str(exc)
                    for name in self._states:
                        self._states[name] = waiting_state(reason, str(exc))
                    await self._publish()
                    await self._event("Warning", event, f"Error: {exc}")
            except (ApiStatusError, OSError, TimeoutError) as exc:
                _log.warning("pod %s/%s: preparing: %s", self.namespace, self.name, exc)
            await self._sleep(self._sync, _RETRY_SECONDS)
            self._sync.clear()
        return None

    async def _prepare(self) -> dict[str, _Launch]:
        pod = self._pod
        snapshot = await fetch_sources(self._api, pod)
        lookup = snapshot.lookup()
        folders = await self._volumes(lookup)
        kubeconfig = await self._kubeconfig()
        launches: dict[str, _Launch] = {}
        for container in [*self._init_containers, *self._containers]:
            name = str(container["name"])
            if not container.get("command"):
                raise ContainerStartError(
                    "process kubelet: the container needs an explicit command (images and "
                    "their entrypoints are not run here)"
                )
            table = container_mounts(
                container,
                folders,
                self._pod_dir / "volume-subpaths" / name,
                termination_file(self._pod_dir, name),
            )
            declared = resolve_env(container, pod, lookup)
            argv = [table.rewrite(word) for word in expand_command(container, declared)]
            working_dir = container.get("workingDir")
            mapped = table.local_path(str(working_dir)) if working_dir else None
            cwd = Path(mapped) if mapped else self._pod_dir / "workdir"
            home = self._pod_dir / "home"
            home.mkdir(parents=True, exist_ok=True)
            host, port = _host_port(self._api.server)
            base = {
                **image_environment(self._settings.container_path_prefix(container.get("image"))),
                "HOME": str(home),
                "LANG": "C.UTF-8",
                "HOSTNAME": self.name,
                "KUBECONFIG": str(kubeconfig),
                "KUBERNETES_SERVICE_HOST": host,
                "KUBERNETES_SERVICE_PORT": port,
                "KUBERNETES_SERVICE_PORT_HTTPS": port,
            }
            env = {**base, **{key: table.rewrite(value) for key, value in declared.items()}}
            launches[name] = _Launch(argv, env, cwd)
        return launches

    async def _volumes(self, lookup: SourceLookup) -> dict[str, Path]:
        pod = self._pod
        folders: dict[str, Path] = {}
        plain: list[dict[str, Any]] = []
        for volume in pod["spec"].get("volumes") or []:
            name = str(volume.get("name", ""))
            if "persistentVolumeClaim" in volume:
                claim = str(volume["persistentVolumeClaim"].get("claimName", ""))
                folders[name] = await claim_folder(self._api, self.namespace, claim)
            elif "hostPath" in volume:
                folder = Path(str(volume["hostPath"].get("path", "")))
                if volume["hostPath"].get("type") == "DirectoryOrCreate":
                    os.makedirs(folder, exist_ok=True)
                folders[name] = folder
            elif "projected" in volume:
                folder = self._pod_dir / "volumes" / name
                write_payload(folder, await projected_payload(pod, volume, lookup, self._tokens))
                folders[name] = folder
            else:
                plain.append(volume)
        folders.update(
            materialize_volumes(self._plain_volumes_pod(plain), lookup, self._pod_dir, _no_claims)
        )
        return folders

    def _plain_volumes_pod(self, plain: list[dict[str, Any]]) -> dict[str, Any]:
        return {"metadata": self._pod["metadata"], "spec": {"volumes": plain}}

    async def _kubeconfig(self) -> Path:
        """A per-pod kubeconfig with the pod's projected ServiceAccount token: in-pod clients
        cannot read the in-cluster files at their fixed /var/run/secrets path, so KUBECONFIG
        stands in for them (the token/ca.crt/namespace files are also in the mounted volume)."""
        token: str | None = None
        for volume in self._pod["spec"].get("volumes") or []:
            for source in (volume.get("projected") or {}).get("sources") or []:
                spec = source.get("serviceAccountToken")
                if spec is not None and not spec.get("audience"):
                    token = await self._tokens.token(
                        self._pod, "", int(spec.get("expirationSeconds", 3600))
                    )
        return write_kubeconfig(
            self._pod_dir / "kubeconfig",
            self._api.server,
            token=token,
            namespace=self.namespace,
            context="in-cluster",
            certificate_authority=self._api.ca_pem,
        )

    async def _run_containers(self, launches: dict[str, _Launch]) -> None:
        self._started_at = now_rfc3339()
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._keep_volumes_current())]
        deadline = self._pod["spec"].get("activeDeadlineSeconds")
        if isinstance(deadline, int):
            helpers.append(loop.create_task(self._enforce_deadline(deadline)))
        try:
            if await self._initialize(launches):
                await asyncio.gather(
                    *(self._container_loop(c, launches[str(c["name"])]) for c in self._containers)
                )
        finally:
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, _PodGoneError):
                    await helper

    async def _initialize(self, launches: dict[str, _Launch]) -> bool:
        """The init containers one after the other, each to a successful exit (retried with
        back-off unless restartPolicy is Never); False when one failed for good or the pod
        stops meanwhile."""
        never = self._pod["spec"].get("restartPolicy", "Always") == "Never"
        for container in self._init_containers:
            name = str(container["name"])
            await self._container_loop(
                container, launches[name], policy="Never" if never else "OnFailure"
            )
            if self._stop.is_set():
                return False
            if self._states[name].get("terminated", {}).get("exitCode") != 0:
                self._init_failed = True
                await self._publish()
                return False
        self._initialized = True
        for container in self._containers:
            self._states[str(container["name"])] = waiting_state("ContainerCreating")
        return True

    async def _container_loop(
        self, container: dict[str, Any], launch: _Launch, policy: str | None = None
    ) -> None:
        name = str(container["name"])
        policy = policy or self._pod["spec"].get("restartPolicy", "Always")
        while not self._stop.is_set():
            log_path = self._settings.log_path(self.namespace, self.name, name)
            if log_path.exists():  # kept for `kubectl logs --previous`
                log_path.replace(log_path.with_suffix(".previous.log"))
            started: str | None = None
            reason: str | None = None
            message: str | None = None
            try:
                process = await ContainerProcess.start(
                    launch.argv, launch.env, launch.cwd, log_path
                )
            except ContainerStartError as exc:
                code, reason, message = 128, "StartError", str(exc)
            else:
                self._processes[name] = process
                if self._stop.is_set():  # stopped while it was starting
                    task = asyncio.get_running_loop().create_task(self._halt_how(process))
                    self._stopping_tasks.add(task)
                    task.add_done_callback(self._stopping_tasks.discard)
                started = now_rfc3339()
                code = await self._supervise(container, process, started)
                file = termination_file(self._pod_dir, name)
                message = termination_message(container, file, code, log_path)
            state = terminated_state(code, started, now_rfc3339(), reason=reason, message=message)
            self._states[name] = state
            restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if self._stop.is_set() or not restart:
                await self._publish()
                return
            self._restarts[name] = self._restarts.get(name, 0) + 1
            self._last_states[name] = state
            self._states[name] = waiting_state(
                "CrashLoopBackOff",
                f"back-off restarting failed container {name} in pod {self.name}_{self.namespace}",
            )
            await self._publish()
            delay = retry_delay(
                self._restarts[name],
                self._settings.retry_base_delay,
                self._settings.retry_max_delay,
            )
            await self._sleep(self._stop, delay)

    async def _supervise(
        self, container: dict[str, Any], process: ContainerProcess, started: str
    ) -> int:
        name = str(container["name"])
        probe: ProbeSpec | None = None
        probe_error: str | None = None
        try:
            probe = parse_probe(container)
        except ProbeConfigError as exc:
            probe_error = str(exc)
        self._ready[name] = probe is None and probe_error is None
        self._states[name] = running_state(started)
        await self._publish()
        await self._event("Normal", "Started", f"Started container {name}")
        if probe_error is not None:
            await self._event("Warning", "Unhealthy", f"Readiness probe errored: {probe_error}")
        loop = asyncio.get_running_loop()
        probers = []
        if probe is not None:
            probers.append(loop.create_task(self._probe(name, probe, process)))
        try:
            liveness = parse_probe(container, "livenessProbe")
        except ProbeConfigError as exc:
            await self._event("Warning", "Unhealthy", f"Liveness probe errored: {exc}")
        else:
            if liveness is not None:
                probers.append(loop.create_task(self._keep_alive(name, liveness, process)))
        try:
            return await process.wait()
        finally:
            self._ready[name] = False
            for prober in probers:
                prober.cancel()
                with contextlib.suppress(asyncio.CancelledError, _PodGoneError):
                    await prober

    async def _probe(self, name: str, probe: ProbeSpec, process: ContainerProcess) -> None:
        tracker = ReadinessTracker(probe)
        await asyncio.sleep(probe.initial_delay)
        while True:
            # every pod listens on 127.0.0.1: only this container's own listener counts
            success = process.listens_on(probe.port) and await probe_once(probe)
            if tracker.record(success):
                self._ready[name] = tracker.ready
                await self._publish()
                if not tracker.ready:
                    await self._event(
                        "Warning", "Unhealthy", f"Readiness probe failed: port {probe.port}"
                    )
            await asyncio.sleep(probe.period)

    async def _keep_alive(self, name: str, probe: ProbeSpec, process: ContainerProcess) -> None:
        """The livenessProbe: after failureThreshold failures in a row the container is
        stopped (SIGTERM, the pod's grace period, SIGKILL) and restarted by its policy."""
        await asyncio.sleep(probe.initial_delay)
        failures = 0
        while True:
            if process.listens_on(probe.port) and await probe_once(probe):
                failures = 0
            else:
                failures += 1
                if failures >= probe.failure_threshold:
                    await self._event(
                        "Warning", "Unhealthy", f"Liveness probe failed: port {probe.port}"
                    )
                    await self._event(
                        "Normal",
                        "Killing",
                        f"Container {name} failed liveness probe, will be restarted",
                    )
                    grace = float(self._pod["spec"].get("terminationGracePeriodSeconds", 30))
                    await process.terminate(grace)
                    return
            await asyncio.sleep(probe.period)

    async def _keep_volumes_current(self) -> None:
        """The periodic pod sync (syncFrequency + jitter), or at once when the pod changed:
        configMap/secret/projected volumes follow their sources through the atomic swap."""
        while True:
            period = self._settings.sync_period * (1 + random.random() * SYNC_JITTER)
            await self._sleep(self._sync, period)
            self._sync.clear()  # before reading: a change made meanwhile wakes us again
            if self._stop.is_set():
                return
            try:
                snapshot = await fetch_sources(self._api, self._pod)
                lookup = snapshot.lookup()
                volumes = self._pod["spec"].get("volumes") or []
                plain = [v for v in volumes if "configMap" in v or "secret" in v]
                refresh_projected_volumes(self._plain_volumes_pod(plain), lookup, self._pod_dir)
                for volume in volumes:
                    if "projected" in volume:
                        payload = await projected_payload(self._pod, volume, lookup, self._tokens)
                        write_payload(self._pod_dir / "volumes" / str(volume["name"]), payload)
            except (ApiStatusError, OSError, TimeoutError, VolumeMountError) as exc:
                _log.warning("pod %s/%s: volume sync: %s", self.namespace, self.name, exc)

    async def _enforce_deadline(self, seconds: int) -> None:
        await asyncio.sleep(seconds)
        self._deadline_exceeded = True
        await self._event("Normal", "DeadlineExceeded", _DEADLINE_MESSAGE)
        self._halt(lambda process: _kill(process))

    # --- status ---------------------------------------------------------------------------

    def _phase(self) -> str:
        if self._deadline_exceeded or self._init_failed:
            return "Failed"
        if not self._initialized:
            return "Pending"
        states = [self._states[str(c["name"])] for c in self._containers]
        if all("terminated" in s for s in states):
            codes = [s["terminated"]["exitCode"] for s in states]
            return "Succeeded" if all(code == 0 for code in codes) else "Failed"
        if not self._started_at:
            return "Pending"
        return "Running"

    async def _publish(self) -> None:
        if self._gone:
            raise _PodGoneError
        async with self._publish_lock:
            statuses = [self._container_status(c) for c in self._containers]
            phase = self._phase()
            scheduled = next(
                (
                    c.get("lastTransitionTime")
                    for c in (self._pod.get("status") or {}).get("conditions") or []
                    if c.get("type") == "PodScheduled"
                ),
                None,
            )
            status = node_status(
                phase,
                statuses,
                scheduled_at=str(scheduled or self._started_at or now_rfc3339()),
                start_time=self._started_at or now_rfc3339(),
                now=now_rfc3339(),
                qos_class=qos_class(self._pod["spec"]),
                reason="DeadlineExceeded" if self._deadline_exceeded else None,
                message=_DEADLINE_MESSAGE if self._deadline_exceeded else None,
            )
            if self._init_containers:
                init = [self._container_status(c) for c in self._init_containers]
                for entry in init:  # an init container is ready once it completed
                    entry["ready"] = entry["state"].get("terminated", {}).get("exitCode") == 0
                status["initContainerStatuses"] = init
                if not self._initialized:
                    waiting = [e["name"] for e in init if not e["ready"]]
                    for condition in status["conditions"]:
                        if condition["type"] == "Initialized":
                            condition["status"] = "False"
                            condition["reason"] = "ContainersNotInitialized"
                            condition["message"] = (
                                f"containers with incomplete status: [{' '.join(waiting)}]"
                            )
            try:
                updated = await self._api.merge_patch(f"{self._path}/status", {"status": status})
            except ApiStatusError as exc:
                if exc.code == 404:
                    self._gone = True
                    raise _PodGoneError from exc
                raise
            self._pod = {**self._pod, "status": updated.get("status")}

    def _container_status(self, container: dict[str, Any]) -> dict[str, Any]:
        name = str(container["name"])
        status = container_status(
            container,
            self._states[name],
            restart_count=self._restarts.get(name, 0),
            last_state=self._last_states.get(name),
        )
        status["ready"] = bool(status["ready"] and self._ready.get(name))
        status["containerID"] = f"process://{self.uid[:8]}-{name}"
        return status

    async def _delete_object(self) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.uid},
        }
        try:
            await self._api.delete(self._path, body)
        except ApiStatusError as exc:
            if exc.code not in (404, 409):
                _log.warning("pod %s/%s: delete: %s", self.namespace, self.name, exc)

    async def _event(self, event_type: str, reason: str, message: str) -> None:
        await record_pod_event(
            self._api, self._pod, self._settings.node_name, event_type, reason, message
        )

    @staticmethod
    async def _sleep(event: asyncio.Event, seconds: float) -> None:
        """Up to `seconds`, or until `event` is set (the caller clears it)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()


async def _kill(process: ContainerProcess) -> None:
    process.send(signal.SIGKILL)


def _no_claims(claim: str) -> Path:
    raise VolumeMountError(f'persistentvolumeclaim "{claim}" is resolved elsewhere')


def _host_port(server: str) -> tuple[str, str]:
    rest = server.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return host, port
