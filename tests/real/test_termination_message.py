"""The process kubelet keeps a container's termination message as a kubelet does, under the real
API server and Job controller: what the container wrote at its terminationMessagePath (the real
API server defaults it to /dev/termination-log), else with FallbackToLogsOnError the tail of
the log of a container that failed."""

from __future__ import annotations

from typing import Any

from tests.real.conftest import RealCluster, eventually, python_pod_spec

WRITE = (
    "import os, sys; open(os.environ['MSG'], 'w').write('SQLite file /d/x.db does not exist');"
    " sys.exit(42)"
)


def _job(name: str, code: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": python_pod_spec(code, restartPolicy="Never", container=container)},
        },
    }


def test_the_termination_message_reaches_the_pod_status(
    real_cluster: RealCluster, namespace: str
) -> None:
    batch, core = real_cluster.batch, real_cluster.core
    env = [{"name": "MSG", "value": "/dev/termination-log"}]
    batch.create_namespaced_job(namespace, _job("wrote", WRITE, env=env))
    crash = "print('first'); print('last words'); raise SystemExit(3)"
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    batch.create_namespaced_job(namespace, _job("crashed", crash, **fallback))

    def terminated(job: str) -> Any:
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
        if not pods or not pods[0].status.container_statuses:
            return None
        return pods[0].status.container_statuses[0].state.terminated

    wrote = eventually(lambda: terminated("wrote"), "pod of wrote terminated", 90)
    assert (wrote.exit_code, wrote.message) == (42, "SQLite file /d/x.db does not exist")
    crashed = eventually(lambda: terminated("crashed"), "pod of crashed terminated", 90)
    assert crashed.message.splitlines()[-1] == "last words"
