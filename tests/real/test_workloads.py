"""Workloads on the process kubelet driven by the real controllers: a Deployment's readiness
and rolling update with graceful termination, a ConfigMap volume's atomic refresh, and a claim
bound by the real PV controller to a hostPath volume of our provisioner."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tests.real.conftest import RealCluster, eventually, python_pod_spec

# An HTTP server on a fixed port with SO_REUSEPORT (every pod shares 127.0.0.1: the old and the
# new pod of a rolling update listen together), that logs SIGTERM to a host file and exits 0.
SERVER = """
import http.server, os, signal, socket, sys
port, record = int(sys.argv[1]), sys.argv[2]
def stop(*_):
    with open(record, "a") as handle:
        handle.write(os.environ["POD"] + " SIGTERM\\n")
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
server = http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler,
                                bind_and_activate=False)
server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
server.server_bind(); server.server_activate()
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass
server.RequestHandlerClass = Ok
server.serve_forever()
"""

# Copies the mounted file to a host file whenever it changes.
WATCHER = """
import sys, time
source, target = sys.argv[1], sys.argv[2]
last = None
while True:
    text = open(source).read()
    if text != last:
        with open(target + ".tmp", "w") as handle:
            handle.write(text)
        import os; os.replace(target + ".tmp", target)
        last = text
    time.sleep(0.1)
"""


def _free_port() -> int:
    from datamigration_sandbox.real.loopback_ports import free_ports

    return free_ports(1)[0]


def _deployment(port: int, record: Path) -> dict[str, Any]:
    spec = python_pod_spec(
        SERVER,
        str(port),
        str(record),
        terminationGracePeriodSeconds=10,
        container={
            "ports": [{"containerPort": port}],
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "readinessProbe": {
                "httpGet": {"path": "/", "port": port},
                "periodSeconds": 1,
                "failureThreshold": 1,
            },
        },
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
        },
    }


def _ready_pods(cluster: RealCluster, namespace: str) -> list[Any]:
    pods = cluster.core.list_namespaced_pod(namespace, label_selector="app=web").items
    return [
        p
        for p in pods
        if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]


def test_deployment_becomes_available_and_rolls_with_graceful_termination(
    real_cluster: RealCluster, namespace: str, tmp_path: Path
) -> None:
    apps = real_cluster.apps
    record = tmp_path / "terminations.txt"
    apps.create_namespaced_deployment(namespace, _deployment(_free_port(), record))

    def available() -> bool:
        status = apps.read_namespaced_deployment("web", namespace).status
        conditions = {c.type: c.status for c in status.conditions or []}
        return status.available_replicas == 1 and conditions.get("Available") == "True"

    eventually(available, "the Deployment to become available", 60)
    (old,) = _ready_pods(real_cluster, namespace)
    apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"metadata": {"annotations": {"rollout": "2"}}}}},
    )

    def rolled() -> list[Any] | None:
        deployment = apps.read_namespaced_deployment("web", namespace)
        pods = real_cluster.core.list_namespaced_pod(namespace, label_selector="app=web").items
        done = (
            deployment.status.observed_generation == deployment.metadata.generation
            and deployment.status.updated_replicas == 1
            and deployment.status.available_replicas == 1
            and deployment.status.replicas == 1
            and [p.metadata.name for p in pods] != [old.metadata.name]
            and len(pods) == 1
        )
        return pods if done else None

    (new,) = eventually(rolled, "the rolling update to replace the pod", 90)
    assert new.metadata.annotations["rollout"] == "2"
    assert _ready_pods(real_cluster, namespace)[0].metadata.name == new.metadata.name
    # the old pod got SIGTERM (its handler ran), and the kubelet then removed its object
    assert record.read_text().splitlines() == [f"{old.metadata.name} SIGTERM"]


def test_configmap_volume_change_reaches_the_running_pod(
    real_cluster: RealCluster, namespace: str, tmp_path: Path
) -> None:
    core = real_cluster.core
    seen = tmp_path / "seen.txt"
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "app"}, "data": {"migration_mode": "sqlite_only"}}
    )
    spec = python_pod_spec(
        WATCHER,
        "/etc/app/migration_mode",
        str(seen),
        terminationGracePeriodSeconds=1,
        volumes=[{"name": "config", "configMap": {"name": "app"}}],
        container={"volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]},
    )
    core.create_namespaced_pod(namespace, {"metadata": {"name": "reader"}, "spec": spec})
    eventually(
        lambda: seen.exists() and seen.read_text() == "sqlite_only", "the first projection", 60
    )
    changed_at = time.monotonic()
    core.patch_namespaced_config_map("app", namespace, {"data": {"migration_mode": "dual_write"}})
    eventually(lambda: seen.read_text() == "dual_write", "the refreshed file", 15)
    delay = time.monotonic() - changed_at
    assert delay < 10  # sync period 1 s (+50% jitter) here; 60-90 s on a default kubelet
    volumes = list(real_cluster.plane.data_dir.glob("kubelet/pods/*/reader-*/volumes"))
    (volume,) = [v / "config" for v in volumes if v.parent.parent.name == namespace]
    assert os.readlink(volume / "migration_mode") == "..data/migration_mode"
    assert (volume / "..data").is_symlink()  # the atomic swap's link


def test_claim_binds_to_a_hostpath_volume_and_a_pod_writes_into_it(
    real_cluster: RealCluster, namespace: str
) -> None:
    core = real_cluster.core
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Mi"}},
            },
        },
    )
    spec = python_pod_spec(
        "import sys; open(sys.argv[1], 'w').write('written by the pod')",
        "/data/hello.txt",
        restartPolicy="Never",
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
    )
    core.create_namespaced_pod(namespace, {"metadata": {"name": "writer"}, "spec": spec})

    def succeeded() -> bool:
        return core.read_namespaced_pod("writer", namespace).status.phase == "Succeeded"

    eventually(succeeded, "the writer pod to succeed", 60)
    claim = core.read_namespaced_persistent_volume_claim("data", namespace)
    assert claim.status.phase == "Bound"
    volume = core.read_persistent_volume(claim.spec.volume_name)
    assert volume.status.phase == "Bound"
    assert volume.spec.claim_ref.name == "data"
    assert Path(volume.spec.host_path.path, "hello.txt").read_text() == "written by the pod"


def test_init_containers_run_first_and_in_order(real_cluster: RealCluster, namespace: str) -> None:
    """Each init container runs to completion before the next, the app containers after them;
    an emptyDir carries what they leave; `kubectl logs -c` reaches each one."""
    write = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + chr(10)); print(sys.argv[2])"
    mount = [{"name": "work", "mountPath": "/work"}]

    def step(name: str, word: str) -> dict[str, Any]:
        command = ["python", "-c", write, "/work/steps", word]
        image = "python:3.11-slim"
        return {"name": name, "image": image, "command": command, "volumeMounts": mount}

    spec = python_pod_spec(
        "import sys; print(open(sys.argv[1]).read().split())",
        "/work/steps",  # an argument: the process kubelet maps mountPaths in argv words
        restartPolicy="Never",
        initContainers=[step("first", "one"), step("second", "two")],
        volumes=[{"name": "work", "emptyDir": {}}],
        container={"volumeMounts": mount},
    )
    real_cluster.core.create_namespaced_pod(namespace, {"metadata": {"name": "init"}, "spec": spec})

    def done() -> Any:
        pod = real_cluster.core.read_namespaced_pod("init", namespace)
        return pod if pod.status.phase in ("Succeeded", "Failed") else None

    pod = eventually(done, "the pod to finish", 60)
    logs = {
        name: real_cluster.kubectl("logs", "init", "-c", name, "-n", namespace, check=False)
        for name in ("first", "second", "main")
    }
    assert pod.status.phase == "Succeeded", {n: r.stdout + r.stderr for n, r in logs.items()}
    init = {s.name: s.state.terminated.exit_code for s in pod.status.init_container_statuses}
    assert init == {"first": 0, "second": 0}
    assert logs["main"].stdout.strip() == "['one', 'two']"
    assert logs["second"].stdout == "two\n"


def test_a_failed_liveness_probe_restarts_the_container(
    real_cluster: RealCluster, namespace: str
) -> None:
    port = _free_port()  # nothing listens there: every probe fails
    spec = python_pod_spec(
        "import time; time.sleep(600)",
        terminationGracePeriodSeconds=2,
        container={
            "livenessProbe": {
                "tcpSocket": {"port": port},
                "periodSeconds": 1,
                "failureThreshold": 2,
            }
        },
    )
    real_cluster.core.create_namespaced_pod(namespace, {"metadata": {"name": "live"}, "spec": spec})

    def restarted() -> Any:
        pod = real_cluster.core.read_namespaced_pod("live", namespace)
        statuses = pod.status.container_statuses or []
        return pod if statuses and statuses[0].restart_count >= 1 else None

    pod = eventually(restarted, "a restart after the liveness probe failed", 60)
    assert pod.status.container_statuses[0].last_state.terminated is not None
    events = real_cluster.kubectl("get", "events", "-n", namespace).stdout
    assert "failed liveness probe, will be restarted" in events
