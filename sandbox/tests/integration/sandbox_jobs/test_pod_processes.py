"""What a Job's process gets: env, mounted volumes as local folders, signals, a KUBECONFIG."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

from sandbox_jobs.conftest import Cluster, conditions

DUMP_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def _claim(cluster: Cluster, name: str) -> None:
    cluster.create(
        "",
        "persistentvolumeclaims",
        {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )


def _read_kubeconfig(path: Path) -> tuple[dict[str, Any], int]:
    return yaml.safe_load(path.read_text()), stat.S_IMODE(path.stat().st_mode)


def _pod_name(cluster: Cluster, job: str) -> str:
    [pod] = cluster.pods_of(job)
    return str(pod["metadata"]["name"])


async def test_env_comes_from_values_secrets_config_maps_and_the_downward_api(
    cluster: Cluster,
) -> None:
    password = "s3cr3t-value"
    cluster.create(
        "",
        "secrets",
        {
            "metadata": {"name": "db"},
            "data": {"password": base64.b64encode(password.encode()).decode()},
        },
    )
    cluster.create("", "configmaps", {"metadata": {"name": "app"}, "data": {"MODE": "dual_write"}})
    env = [
        {"name": "PLAIN", "value": "x"},
        {"name": "EXPANDED", "value": "$(PLAIN)-y"},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "CM_MODE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "MODE"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    env_from = [{"configMapRef": {"name": "app"}, "prefix": "APP_"}]
    cluster.create_job("env", DUMP_ENV, container={"env": env, "envFrom": env_from})

    await cluster.wait_finished("env")

    pod = _pod_name(cluster, "env")
    seen = json.loads(cluster.runner.pod_log("default", pod, "main") or "{}")
    assert seen["PLAIN"] == "x"
    assert seen["EXPANDED"] == "x-y"
    assert seen["PASSWORD"] == password
    assert seen["CM_MODE"] == "dual_write"
    assert seen["APP_MODE"] == "dual_write"
    assert seen["POD_NAME"] == pod
    assert seen["POD_NS"] == "default"
    assert seen["HOSTNAME"] == pod
    assert seen["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    stored = json.dumps(cluster.store.get(cluster.pods, "default", pod))
    assert password not in stored


async def test_missing_secret_keeps_the_pod_pending_until_it_exists(cluster: Cluster) -> None:
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}]
    cluster.create_job("waits", "import os; print(os.environ['TOKEN'])", container={"env": env})

    def config_error() -> dict[str, object] | None:
        pods = cluster.pods_of("waits")
        statuses = (pods[0].get("status") or {}).get("containerStatuses") if pods else None
        return statuses[0]["state"].get("waiting") if statuses else None

    waiting = await cluster.wait_for(config_error, what="CreateContainerConfigError")
    assert waiting["reason"] == "CreateContainerConfigError"
    assert waiting["message"] == 'secret "late" not found'
    assert cluster.pods_of("waits")[0]["status"]["phase"] == "Pending"

    cluster.create("", "secrets", {"metadata": {"name": "late"}, "stringData": {"token": "t0k"}})

    await cluster.wait_finished("waits")
    assert cluster.runner.pod_log("default", _pod_name(cluster, "waits"), None) == "t0k\n"


async def test_claim_mount_paths_map_to_the_claim_folder(cluster: Cluster) -> None:
    _claim(cluster, "source")
    (cluster.runner.claim_dir("default", "source") / "app.db").write_text("rows")
    config = json.dumps({"sqlite": "/data/app.db", "out": "/data/copy.txt"})
    script = (
        "import json, os, sys\n"
        "cfg = json.loads(os.environ['JOB_CONFIG'])\n"
        "data = open(cfg['sqlite']).read()\n"
        "open(cfg['out'], 'w').write(data + ' copied by ' + sys.argv[1])\n"
        "print(os.getcwd())\n"
    )
    container = {
        "command": ["python", "-c", script, "/data/app.db"],
        "env": [{"name": "JOB_CONFIG", "value": config}],
        "volumeMounts": [{"name": "db", "mountPath": "/data"}],
        "workingDir": "/data",
    }
    volumes = [{"name": "db", "persistentVolumeClaim": {"claimName": "source"}}]
    cluster.create_job("copy", "", container=container, pod={"volumes": volumes})

    job = await cluster.wait_finished("copy")

    assert conditions(job)["Complete"]["status"] == "True"
    claim_dir = cluster.runner.claim_dir("default", "source")
    assert claim_dir == cluster.data_dir / "pvcs" / "default" / "source"
    assert (claim_dir / "copy.txt").read_text() == f"rows copied by {claim_dir}/app.db"
    log = cluster.runner.pod_log("default", _pod_name(cluster, "copy"), "main")
    assert log == f"{claim_dir}\n"
    pvc = cluster.store.get(cluster.rt("", "persistentvolumeclaims"), "default", "source")
    assert pvc["status"]["phase"] == "Bound"


async def test_config_map_volume_is_materialized_as_files(cluster: Cluster) -> None:
    cluster.create(
        "", "configmaps", {"metadata": {"name": "mode"}, "data": {"migration_mode": "dual_write"}}
    )
    container = {
        "command": [
            "python",
            "-c",
            "import sys; print(open(sys.argv[1]).read())",
            "/etc/app/migration_mode",
        ],
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app", "readOnly": True}],
    }
    volumes = [{"name": "cfg", "configMap": {"name": "mode"}}]
    cluster.create_job("reads-cm", "", container=container, pod={"volumes": volumes})

    await cluster.wait_finished("reads-cm")

    assert cluster.runner.pod_log("default", _pod_name(cluster, "reads-cm"), None) == "dual_write\n"


async def test_pod_without_its_claim_or_matching_affinity_stays_unschedulable(
    cluster: Cluster,
) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/hostname",
                                "operator": "In",
                                "values": ["other-node"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    cluster.create_job("elsewhere", "pass", pod={"affinity": affinity})
    volumes = [{"name": "db", "persistentVolumeClaim": {"claimName": "absent"}}]
    cluster.create_job("no-claim", "pass", pod={"volumes": volumes})

    def scheduled_condition(job: str) -> dict[str, object] | None:
        pods = cluster.pods_of(job)
        conds = (pods[0].get("status") or {}).get("conditions") if pods else None
        return next((c for c in conds or [] if c["type"] == "PodScheduled"), None)

    cond = await cluster.wait_for(lambda: scheduled_condition("elsewhere"), what="PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert "didn't match Pod's node affinity/selector" in str(cond["message"])
    cond = await cluster.wait_for(lambda: scheduled_condition("no-claim"), what="PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert 'persistentvolumeclaim "absent" not found' in str(cond["message"])
    assert "nodeName" not in cluster.pods_of("no-claim")[0]["spec"]

    _claim(cluster, "absent")

    job = await cluster.wait_finished("no-claim")
    assert job["status"]["succeeded"] == 1
    assert cluster.pods_of("elsewhere")[0]["status"]["phase"] == "Pending"


async def test_killed_process_fails_its_pod_and_the_job_retries(cluster: Cluster) -> None:
    marker = cluster.data_dir / "killed-once"
    script = (
        "import pathlib, time\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "if not p.exists():\n    p.touch(); time.sleep(60)\n"
    )
    cluster.create_job("victim", script, backoffLimit=1)
    await cluster.wait_for(marker.exists, what="first attempt to start")

    assert cluster.runner.kill("default", "victim", signal.SIGKILL)

    job = await cluster.wait_finished("victim")
    assert job["status"]["succeeded"] == 1
    assert job["status"]["failed"] == 1
    failed = [p for p in cluster.pods_of("victim") if p["status"]["phase"] == "Failed"]
    terminated = failed[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 137
    assert not cluster.runner.kill("default", "victim")


async def test_deleting_the_job_kills_its_process(cluster: Cluster) -> None:
    pid_file = cluster.data_dir / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    cluster.create_job("doomed", script)
    await cluster.wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="pid")
    pid = int(pid_file.read_text())

    cluster.store.delete(cluster.jobs, "default", "doomed", propagation_policy="Background")

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    await cluster.wait_for(gone, within=5, what="process to end")
    assert cluster.pods_of("doomed") == []


async def test_container_without_command_fails_its_pod(cluster: Cluster) -> None:
    cluster.create_job("no-cmd", "", container={"command": []}, backoffLimit=0)

    job = await cluster.wait_finished("no-cmd")

    assert conditions(job)["Failed"]["reason"] == "BackoffLimitExceeded"
    [pod] = cluster.pods_of("no-cmd")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "StartError"
    assert terminated["message"] == "sandbox: container needs an explicit command"


async def test_process_gets_a_kubeconfig_for_its_service_account(tmp_path: Path) -> None:
    from datamigration_sandbox.jobs.runner import JobRunner
    from datamigration_sandbox.kube.store import Store

    class Tokens:
        def mint_service_account_token(self, namespace: str, name: str) -> str:
            return f"token-for-{namespace}-{name}"

    store = Store()
    runner = JobRunner(
        store, data_dir=tmp_path, api_url="http://127.0.0.1:6443", authenticator=Tokens()
    )
    runner.start()
    cluster = Cluster(store, runner, tmp_path)
    try:
        cluster.create("", "serviceaccounts", {"metadata": {"name": "copier"}})
        script = "import os; print(os.environ['KUBECONFIG'])"
        cluster.create_job("sa", script, pod={"serviceAccountName": "copier"})
        await cluster.wait_finished("sa")
        path = Path((runner.pod_log("default", _pod_name(cluster, "sa"), None) or "").strip())
        config, mode = _read_kubeconfig(path)
        assert mode == 0o600
        assert config["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:6443"
        assert config["users"][0]["user"]["token"] == "token-for-default-copier"
        assert config["contexts"][0]["context"]["namespace"] == "default"
    finally:
        await runner.stop()


async def test_missing_service_account_is_a_failed_create(cluster: Cluster) -> None:
    cluster.create_job("no-sa", "pass", pod={"serviceAccountName": "ghost"})

    def failed_create() -> list[dict[str, object]]:
        events, _ = cluster.store.list(
            cluster.rt("", "events"), "default", field_selector="reason=FailedCreate"
        )
        return events

    [event, *_] = await cluster.wait_for(failed_create, what="FailedCreate event")
    assert 'serviceaccount "ghost" not found' in str(event["message"])
    assert cluster.pods_of("no-sa") == []

    cluster.create("", "serviceaccounts", {"metadata": {"name": "ghost"}})

    await cluster.wait_finished("no-sa")


async def test_the_termination_message_is_what_the_container_wrote_else_its_log_tail(
    cluster: Cluster,
) -> None:
    """terminationMessagePath maps to a per-container file (the container cannot write
    /dev/termination-log here); the pod's terminated state carries what it wrote. With
    FallbackToLogsOnError, a failed container that wrote nothing leaves its log's tail."""
    write = (
        "import os, sys; open(os.environ['MSG'], 'w').write('SQLite file /d/x.db does not exist');"
        " sys.exit(42)"
    )
    env = [{"name": "MSG", "value": "/dev/termination-log"}]
    policy = {"terminationMessagePath": "/dev/termination-log"}
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    cluster.create_job("wrote", write, backoffLimit=0, container={"env": env, **policy})
    cluster.create_job(
        "crashed",
        "print('first'); print('last words'); raise SystemExit(3)",
        backoffLimit=0,
        container=fallback,
    )
    cluster.create_job("quiet", "raise SystemExit(3)", backoffLimit=0)

    for name in ("wrote", "crashed", "quiet"):
        await cluster.wait_finished(name)

    def terminated(job: str) -> dict[str, Any]:
        [pod] = cluster.pods_of(job)
        ended: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        return ended

    wrote = terminated("wrote")
    assert (wrote["exitCode"], wrote["message"]) == (42, "SQLite file /d/x.db does not exist")
    assert terminated("crashed")["message"].splitlines()[-1] == "last words"
    assert "message" not in terminated("quiet")  # policy File, nothing written
