"""The process kubelet as a Node of the real API server, and Jobs run by the REAL Job
controller: completion, and failure with the controller's own reasons."""

from __future__ import annotations

import json
from typing import Any

from tests.real.conftest import RealCluster, eventually, python_pod_spec

WHOAMI = """
import sys
from kubernetes import client, config
config.load_kube_config()
review = client.AuthenticationV1Api().create_self_subject_review({})
print("user", review.status.user_info.username)
print("namespace", open(sys.argv[1] + "/namespace").read())
"""


def test_node_is_ready_with_a_lease_heartbeat(real_cluster: RealCluster) -> None:
    lines = real_cluster.kubectl("get", "nodes").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATUS"]
    assert lines[1].split()[:2] == ["real-node", "Ready"]
    version = real_cluster.kubectl("version", "-o", "json").stdout
    assert json.loads(version)["serverVersion"]["gitVersion"] == "v1.32.9"
    lease = real_cluster.kubectl(
        "get", "lease", "-n", "kube-node-lease", "real-node", "-o", "json"
    ).stdout
    assert json.loads(lease)["spec"]["holderIdentity"] == "real-node"


def _job(name: str, code: str, *args: str, backoff: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff,
            "template": {"spec": python_pod_spec(code, *args, restartPolicy="Never")},
        },
    }


def _conditions(job: Any) -> dict[str, Any]:
    return {c.type: c for c in (job.status.conditions or []) if c.status == "True"}


def test_jobs_complete_and_fail_through_the_real_job_controller(
    real_cluster: RealCluster, namespace: str
) -> None:
    batch, core = real_cluster.batch, real_cluster.core
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    batch.create_namespaced_job(namespace, _job("ok", WHOAMI, token_dir))
    batch.create_namespaced_job(namespace, _job("bad", "raise SystemExit(3)", backoff=1))

    def finished(name: str, kind: str) -> Any:
        job = batch.read_namespaced_job(name, namespace)
        return job if kind in _conditions(job) else None

    ok = eventually(lambda: finished("ok", "Complete"), "Job ok Complete", 60)
    assert "SuccessCriteriaMet" in _conditions(ok)  # 1.31+: the controller's two-step finish
    assert ok.status.succeeded == 1
    (pod,) = core.list_namespaced_pod(namespace, label_selector="job-name=ok").items
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert pod.status.phase == "Succeeded"
    assert pod.spec.node_name == "real-node"
    logs = real_cluster.kubectl("logs", "-n", namespace, pod.metadata.name).stdout
    # the in-pod client authenticated with the projected TokenRequest token
    assert f"user system:serviceaccount:{namespace}:default" in logs
    assert f"namespace {namespace}" in logs

    bad = eventually(lambda: finished("bad", "Failed"), "Job bad Failed", 90)
    failed = _conditions(bad)["Failed"]
    assert failed.reason == "BackoffLimitExceeded"
    assert failed.message == "Job has reached the specified backoff limit"
    assert "FailureTarget" in _conditions(bad)
    assert bad.status.failed == 2  # backoffLimit 1: the first try and one retry
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=bad").items
    states = [p.status.container_statuses[0].state.terminated for p in pods]
    assert sorted((s.exit_code, s.reason) for s in states) == [(3, "Error"), (3, "Error")]
    assert {p.status.phase for p in pods} == {"Failed"}
