"""Opted-in Deployments run their pods as local processes; the real kubernetes client watches."""

from __future__ import annotations

import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sandbox_workloads.conftest import (
    CONFIG_MAP,
    Sandbox,
    app_deployment,
    free_port,
    http_get,
    process_alive,
    rolled_out,
    rollout_complete,
    wait_for,
)


def _pid(port: int) -> int:
    answer = wait_for(lambda: http_get(port, "/pid"), "the app to answer")
    return int(answer[1])


def _patch_mode(sandbox: Sandbox, namespace: str, mode: str) -> None:
    sandbox.core.patch_namespaced_config_map(
        CONFIG_MAP, namespace, {"data": {"migration_mode": mode}}
    )


def test_deployment_pod_runs_serves_and_logs(sandbox: Sandbox, namespace: str) -> None:
    port = free_port()
    sandbox.apps.create_namespaced_deployment(namespace, app_deployment("chat", port))

    deployment = rolled_out(sandbox, namespace, "chat", "the rollout")

    # Without a readinessProbe the pod is ready once its process started, maybe before it
    # listens (as in Kubernetes): wait for the app to answer.
    assert wait_for(lambda: http_get(port, "/mode"), "the app") == (200, "sqlite_only")
    assert deployment.status.ready_replicas == 1
    conditions = {c.type: c for c in deployment.status.conditions}
    assert conditions["Available"].status == "True"
    assert conditions["Progressing"].reason == "NewReplicaSetAvailable"
    (pod,) = sandbox.pods_of(namespace, "chat")
    (owner,) = pod.metadata.owner_references
    assert (owner.kind, owner.uid, owner.controller) == (
        "Deployment",
        deployment.metadata.uid,
        True,
    )
    assert pod.status.phase == "Running"
    assert pod.metadata.labels["pod-template-hash"] in pod.metadata.name
    log = wait_for(
        lambda: (
            "mode=sqlite_only" in (text := sandbox.pod_log(namespace, pod.metadata.name)) and text
        ),
        "the pod log",
    )
    assert f"serving on {port}" in log
    api_log = sandbox.core.read_namespaced_pod_log(pod.metadata.name, namespace)
    assert "mode=sqlite_only" in api_log


def test_config_map_patch_reaches_the_running_pod(sandbox: Sandbox, namespace: str) -> None:
    port = free_port()
    manifest = app_deployment(
        "chat",
        port,
        env={"FROZEN_FILE": "/etc/frozen/migration_mode"},
        container={
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/app", "readOnly": True},
                {"name": "config", "mountPath": "/etc/frozen", "subPath": "migration_mode"},
            ]
        },
    )
    # The subPath mount is the file itself, so FROZEN_FILE names the mountPath.
    manifest["spec"]["template"]["spec"]["containers"][0]["env"][-1]["value"] = "/etc/frozen"
    sandbox.apps.create_namespaced_deployment(namespace, manifest)
    pid = _pid(port)
    assert http_get(port, "/mode") == (200, "sqlite_only")

    started = time.monotonic()
    _patch_mode(sandbox, namespace, "dual_write")
    wait_for(lambda: http_get(port, "/mode") == (200, "dual_write"), "the new mode in the file")
    print(f"\nConfigMap patch -> mounted file changed: {time.monotonic() - started:.3f} s")

    assert _pid(port) == pid  # the same process saw the change: no restart
    assert http_get(port, "/frozen") == (200, "sqlite_only")  # subPath mounts never update
    (pod,) = sandbox.pods_of(namespace, "chat")
    volume = sandbox.plane.data_dir / "pods" / namespace / pod.metadata.name / "volumes" / "config"
    data = volume / "..data"
    assert data.is_symlink()
    assert re.fullmatch(r"\.\.\d{4}(_\d{2}){5}\.\w+", os.readlink(data))
    assert os.readlink(volume / "migration_mode") == "..data/migration_mode"
    # Exactly one payload folder is left after the swap.
    assert [p.name for p in volume.iterdir() if p.name.startswith("..2")] == [os.readlink(data)]
    log = wait_for(
        lambda: (
            "mode=dual_write" in (text := sandbox.pod_log(namespace, pod.metadata.name)) and text
        ),
        "the app to log the change",
    )
    assert log.index("mode=sqlite_only") < log.index("mode=dual_write")


def test_readers_of_the_mounted_key_never_see_a_partial_update(
    sandbox: Sandbox, namespace: str
) -> None:
    port = free_port()
    sandbox.apps.create_namespaced_deployment(namespace, app_deployment("chat", port))
    _pid(port)
    (pod,) = sandbox.pods_of(namespace, "chat")
    key = (
        sandbox.plane.data_dir
        / "pods"
        / namespace
        / pod.metadata.name
        / "volumes"
        / "config"
        / "migration_mode"
    )
    values = [letter * 200_000 for letter in "abcdefgh"]
    seen: set[str] = set()
    stop = threading.Event()

    def read_continuously() -> None:
        while not stop.is_set():
            seen.add(Path(key).read_text())

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for value in values:
            _patch_mode(sandbox, namespace, value)
            wait_for(lambda v=value: key.read_text() == v, "the value in the file")
    finally:
        stop.set()
        reader.join()

    assert seen <= {"sqlite_only", *values}
    assert len(seen) > 1


def test_template_change_rolls_the_pod(sandbox: Sandbox, namespace: str) -> None:
    port = free_port()
    sandbox.apps.create_namespaced_deployment(namespace, app_deployment("chat", port))
    rolled_out(sandbox, namespace, "chat", "the first rollout")
    (old,) = sandbox.pods_of(namespace, "chat")
    old_pid = _pid(port)

    patched = sandbox.apps.patch_namespaced_deployment(
        "chat",
        namespace,
        {"spec": {"template": {"metadata": {"annotations": {"migration-mode": "dual_write"}}}}},
    )

    def rolled() -> object:
        deployment = sandbox.apps.read_namespaced_deployment("chat", namespace)
        pods = sandbox.pods_of(namespace, "chat")
        names = [p.metadata.name for p in pods]
        return rollout_complete(deployment) and old.metadata.name not in names and deployment

    deployment = wait_for(rolled, "the second rollout")
    status = deployment.status
    assert status.observed_generation == patched.metadata.generation == 2
    assert status.replicas == status.updated_replicas == status.ready_replicas == 1
    assert status.available_replicas == 1
    (new,) = sandbox.pods_of(namespace, "chat")
    assert new.metadata.annotations["migration-mode"] == "dual_write"
    wait_for(lambda: not process_alive(old_pid), "the old process to end")
    assert _pid(port) != old_pid
    assert "SIGTERM: stopping" in sandbox.pod_log(namespace, old.metadata.name)


def test_readiness_probe_gates_ready_replicas(
    sandbox: Sandbox, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    flag = tmp_path / "ready"
    probe = {
        "httpGet": {"path": "/ready", "port": "http"},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    manifest = app_deployment(
        "chat", port, env={"READY_FLAG": str(flag)}, container={"readinessProbe": probe}
    )
    sandbox.apps.create_namespaced_deployment(namespace, manifest)
    (pod,) = wait_for(lambda: sandbox.pods_of(namespace, "chat"), "the pod")
    name = pod.metadata.name
    wait_for(lambda: "readiness probe: 503" in sandbox.pod_log(namespace, name), "a failed probe")

    deployment = sandbox.apps.read_namespaced_deployment("chat", namespace)
    assert not deployment.status.ready_replicas
    assert deployment.status.unavailable_replicas == 1
    pod = sandbox.core.read_namespaced_pod(name, namespace)
    ready = {c.type: c.status for c in pod.status.conditions}["Ready"]
    assert (pod.status.phase, ready) == ("Running", "False")

    flag.touch()
    deployment = rolled_out(sandbox, namespace, "chat", "the probe to pass")
    assert deployment.status.ready_replicas == 1
    pod = sandbox.core.read_namespaced_pod(name, namespace)
    assert pod.status.container_statuses[0].ready is True


def test_a_probe_answered_by_another_process_does_not_make_the_pod_ready(
    sandbox: Sandbox, namespace: str, tmp_path: Path
) -> None:
    """Sandbox pods share 127.0.0.1: during a rolling update the old pod still answers on the
    port while the new one starts. Its answers must not mark the new pod ready."""
    port = free_port()
    old_pod = ThreadingHTTPServer(("127.0.0.1", port), _AlwaysReady)
    threading.Thread(target=old_pod.serve_forever, daemon=True).start()
    listen = tmp_path / "listen"
    probe = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1}
    manifest = app_deployment(
        "chat", port, env={"LISTEN_FLAG": str(listen)}, container={"readinessProbe": probe}
    )
    try:
        sandbox.apps.create_namespaced_deployment(namespace, manifest)
        wait_for(
            lambda: [p for p in sandbox.pods_of(namespace, "chat") if p.status.phase == "Running"],
            "the pod to run",
        )
        time.sleep(3)  # three probe periods, each answered 200 by the other process
        deployment = sandbox.apps.read_namespaced_deployment("chat", namespace)
        assert not deployment.status.ready_replicas
    finally:
        old_pod.shutdown()
        old_pod.server_close()

    listen.touch()  # the pod binds the port now that the other process let it go
    rolled_out(sandbox, namespace, "chat", "the pod's own listener to pass the probe")
    (pod,) = sandbox.pods_of(namespace, "chat")
    assert f"serving on {port}" in sandbox.pod_log(namespace, pod.metadata.name)


class _AlwaysReady(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_crashing_container_restarts_with_back_off(sandbox: Sandbox, namespace: str) -> None:
    crash = ["python3", "-c", "import sys; print('crashing', flush=True); sys.exit(3)"]
    sandbox.apps.create_namespaced_deployment(
        namespace, app_deployment("crashy", free_port(), command=crash)
    )

    def restarted_twice() -> object:
        pods = sandbox.pods_of(namespace, "crashy")
        statuses = pods[0].status.container_statuses if pods else None
        return statuses and statuses[0].restart_count >= 2 and pods[0]

    pod = wait_for(restarted_twice, "two restarts")
    status = pod.status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 3
    assert len(sandbox.pods_of(namespace, "crashy")) == 1  # restarted in place, not replaced
    deployment = sandbox.apps.read_namespaced_deployment("crashy", namespace)
    assert not deployment.status.ready_replicas
    available = {c.type: c for c in deployment.status.conditions}["Available"]
    assert (available.status, available.reason) == ("False", "MinimumReplicasUnavailable")
    assert "crashing" in sandbox.pod_log(namespace, pod.metadata.name)


def test_scale_to_zero_and_delete_stop_the_processes(sandbox: Sandbox, namespace: str) -> None:
    port = free_port()
    sandbox.apps.create_namespaced_deployment(namespace, app_deployment("chat", port))
    first = _pid(port)

    sandbox.apps.patch_namespaced_deployment("chat", namespace, {"spec": {"replicas": 0}})
    wait_for(lambda: not process_alive(first), "the process to stop")
    wait_for(lambda: not sandbox.pods_of(namespace, "chat"), "the pod to go")
    deployment = wait_for(
        lambda: (
            (d := sandbox.apps.read_namespaced_deployment("chat", namespace))
            and d.status.observed_generation == d.metadata.generation
            and d
        ),
        "the scaled status",
    )
    assert not deployment.status.replicas

    sandbox.apps.patch_namespaced_deployment("chat", namespace, {"spec": {"replicas": 1}})
    second = _pid(port)
    assert second != first
    sandbox.apps.delete_namespaced_deployment("chat", namespace)
    wait_for(lambda: not process_alive(second), "the process to stop after delete")
    wait_for(lambda: not sandbox.pods_of(namespace, "chat"), "the pod to be collected")


def test_deployment_without_the_annotation_keeps_the_simulated_status(
    sandbox: Sandbox, namespace: str
) -> None:
    manifest = app_deployment("manifest-only", free_port(), replicas=2, run_pods=False)
    sandbox.apps.create_namespaced_deployment(namespace, manifest)

    deployment = rolled_out(sandbox, namespace, "manifest-only", "the simulated rollout")

    assert deployment.status.available_replicas == 2
    assert sandbox.pods_of(namespace, "manifest-only") == []
