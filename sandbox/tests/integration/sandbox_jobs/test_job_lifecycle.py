"""Jobs run to completion or failure with the Job controller's status, pods and events."""

from __future__ import annotations

from sandbox_jobs.conftest import Cluster, conditions


async def test_successful_job_completes_with_controller_status(cluster: Cluster) -> None:
    cluster.create_job("hello", "print('hello from the job')")

    job = await cluster.wait_finished("hello")

    status = job["status"]
    assert status["succeeded"] == 1
    assert "failed" not in status
    assert "active" not in status
    assert status["ready"] == 0
    assert "startTime" in status
    assert "completionTime" in status
    conds = conditions(job)
    assert conds["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
    assert conds["Complete"]["status"] == "True"
    assert conds["Complete"]["message"] == "Reached expected number of succeeded pods"
    [pod] = cluster.pods_of("hello")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["spec"]["nodeName"] == "sandbox-node"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    owner = pod["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Job"
    assert owner["uid"] == job["metadata"]["uid"]
    assert owner["controller"] is True
    assert owner["blockOwnerDeletion"] is True
    log = cluster.runner.pod_log("default", pod["metadata"]["name"], None)
    assert log == "hello from the job\n"


async def test_failing_pod_is_retried_until_backoff_limit(cluster: Cluster) -> None:
    cluster.create_job("flaky", "raise SystemExit(3)", backoffLimit=2)

    job = await cluster.wait_finished("flaky")

    assert job["status"]["failed"] == 3
    assert "succeeded" not in job["status"]
    conds = conditions(job)
    assert conds["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert "Complete" not in conds
    pods = cluster.pods_of("flaky")
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
        assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"


async def test_fail_job_rule_fails_at_once_on_a_non_retryable_exit_code(cluster: Cluster) -> None:
    policy = {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
            },
        ]
    }
    cluster.create_job("fatal", "raise SystemExit(42)", backoffLimit=6, podFailurePolicy=policy)

    job = await cluster.wait_finished("fatal")

    [pod] = cluster.pods_of("fatal")
    conds = conditions(job)
    assert conds["Failed"]["reason"] == "PodFailurePolicy"
    assert conds["Failed"]["message"] == (
        f"Container main for pod default/{pod['metadata']['name']} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )
    assert job["status"]["failed"] == 1


async def test_ignore_rule_does_not_count_toward_backoff(cluster: Cluster) -> None:
    marker = cluster.data_dir / "first-attempt-done"
    script = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "if not p.exists():\n    p.touch(); sys.exit(7)\n"
    )
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}]}
    cluster.create_job("ignored", script, backoffLimit=0, podFailurePolicy=policy)

    job = await cluster.wait_finished("ignored")

    assert conditions(job)["Complete"]["status"] == "True"
    assert "failed" not in job["status"]
    assert len(cluster.pods_of("ignored")) == 2


async def test_active_deadline_kills_the_process_and_fails_the_job(cluster: Cluster) -> None:
    cluster.create_job("slow", "import time; time.sleep(60)", activeDeadlineSeconds=1)

    job = await cluster.wait_finished("slow", within=5)

    conds = conditions(job)
    assert conds["Failed"]["reason"] == "DeadlineExceeded"
    assert conds["Failed"]["message"] == "Job was active longer than specified deadline"
    [pod] = cluster.pods_of("slow")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137


async def test_ttl_after_finished_deletes_the_job_and_its_pods(cluster: Cluster) -> None:
    cluster.create_job("short-lived", "pass", ttlSecondsAfterFinished=0)

    await cluster.wait_for(lambda: cluster.job("short-lived") is None, what="job deletion")

    await cluster.wait_for(lambda: not cluster.pods_of("short-lived"), what="pod deletion")


async def test_on_failure_restarts_the_container_in_the_same_pod(cluster: Cluster) -> None:
    counter = cluster.data_dir / "attempts"
    script = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "sys.exit(0 if n >= 2 else 1)\n"
    )
    cluster.create_job("restarts", script, backoffLimit=6, pod={"restartPolicy": "OnFailure"})

    job = await cluster.wait_finished("restarts")

    assert conditions(job)["Complete"]["status"] == "True"
    [pod] = cluster.pods_of("restarts")
    container = pod["status"]["containerStatuses"][0]
    assert container["restartCount"] == 2
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert pod["status"]["phase"] == "Succeeded"


async def test_on_failure_restarts_count_toward_the_backoff_limit(cluster: Cluster) -> None:
    cluster.create_job(
        "crashloop", "raise SystemExit(1)", backoffLimit=2, pod={"restartPolicy": "OnFailure"}
    )

    job = await cluster.wait_finished("crashloop")

    assert conditions(job)["Failed"]["reason"] == "BackoffLimitExceeded"
    # The controller deletes the crash-looping pod when it fails the Job.
    await cluster.wait_for(lambda: not cluster.pods_of("crashloop"), what="pod removal")


async def test_suspended_job_runs_no_pod_until_resumed(cluster: Cluster) -> None:
    cluster.create_job("parked", "pass", suspend=True)

    suspended = await cluster.wait_for(
        lambda: conditions(cluster.job("parked") or {}).get("Suspended"), what="Suspended"
    )
    assert suspended["status"] == "True"
    assert suspended["reason"] == "JobSuspended"
    assert cluster.pods_of("parked") == []

    cluster.store.patch(
        cluster.jobs,
        "default",
        "parked",
        "application/merge-patch+json",
        {"spec": {"suspend": False}},
    )

    job = await cluster.wait_finished("parked")
    assert conditions(job)["Suspended"]["status"] == "False"
    assert conditions(job)["Suspended"]["reason"] == "JobResumed"
    assert job["status"]["succeeded"] == 1


async def test_job_events_tell_the_story(cluster: Cluster) -> None:
    cluster.create_job("told", "pass")
    await cluster.wait_finished("told")

    events, _ = cluster.store.list(
        cluster.rt("", "events"), "default", field_selector="involvedObject.name=told"
    )

    assert sorted(e["reason"] for e in events) == ["Completed", "SuccessfulCreate"]
    for event in events:
        assert event["source"]["component"] == "job-controller"
        assert event["involvedObject"]["kind"] == "Job"


async def test_parallel_pods_run_together_until_completions(cluster: Cluster) -> None:
    cluster.create_job("wide", "import time; time.sleep(0.3)", parallelism=2, completions=3)

    active = await cluster.wait_for(
        lambda: ((cluster.job("wide") or {}).get("status") or {}).get("active") == 2,
        what="two active pods",
    )
    assert active

    job = await cluster.wait_finished("wide")
    assert job["status"]["succeeded"] == 3
    assert len(cluster.pods_of("wide")) == 3
