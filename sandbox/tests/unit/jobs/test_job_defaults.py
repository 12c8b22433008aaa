"""Jobs get the API server's defaults and generated selector, and bad Jobs a 422."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.jobs.job_defaults import admit_job
from datamigration_sandbox.kube.resource_kinds import BUILTIN_TYPES
from datamigration_sandbox.kube.status_errors import ApiError

JOBS = next(rt for rt in BUILTIN_TYPES if rt.key == ("batch", "jobs"))
CONFIG_MAPS = next(rt for rt in BUILTIN_TYPES if rt.key == ("", "configmaps"))


def job(**spec: Any) -> dict[str, Any]:
    pod_spec = {"restartPolicy": "Never", "containers": [{"name": "main", "image": "app:1.0"}]}
    pod_spec.update(spec.pop("pod", {}))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "copy", "namespace": "default", "uid": "uid-1"},
        "spec": {"template": {"spec": pod_spec}, **spec},
    }


def test_defaults_match_the_api_server() -> None:
    admitted = admit_job("CREATE", JOBS, job(), None)

    spec = admitted["spec"]
    assert spec["parallelism"] == 1
    assert spec["completions"] == 1
    assert spec["backoffLimit"] == 6
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    container = spec["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"


def test_selector_and_template_labels_are_generated_from_uid_and_name() -> None:
    admitted = admit_job("CREATE", JOBS, job(), None)

    assert admitted["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}
    }
    assert admitted["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "uid-1",
        "batch.kubernetes.io/job-name": "copy",
        "controller-uid": "uid-1",
        "job-name": "copy",
    }


def test_uid_is_assigned_when_admission_runs_before_the_store_does() -> None:
    body = job()
    del body["metadata"]["uid"]

    admitted = admit_job("CREATE", JOBS, body, None)

    uid = admitted["metadata"]["uid"]
    assert admitted["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == uid


def test_set_values_are_kept() -> None:
    admitted = admit_job("CREATE", JOBS, job(backoffLimit=0, parallelism=2, completions=4), None)

    assert (admitted["spec"]["backoffLimit"], admitted["spec"]["parallelism"]) == (0, 2)
    assert admitted["spec"]["completions"] == 4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            job(pod={"restartPolicy": "Always"}),
            'spec.template.spec.restartPolicy: Unsupported value: "Always": '
            'supported values: "OnFailure", "Never"',
        ),
        (
            job(pod={"restartPolicy": None}),
            'spec.template.spec.restartPolicy: Unsupported value: "Always"',
        ),
        (
            job(
                pod={"restartPolicy": "OnFailure"},
                podFailurePolicy={
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [2]}}
                    ]
                },
            ),
            'only "Never" is supported when podFailurePolicy is specified',
        ),
        (job(backoffLimit=-1), "spec.backoffLimit: Invalid value: -1"),
        (job(activeDeadlineSeconds=0), "spec.activeDeadlineSeconds: Invalid value: 0"),
        (job(pod={"containers": []}), "spec.template.spec.containers: Required value"),
        (
            job(podFailurePolicy={"rules": [{"action": "Retry", "onExitCodes": {}}]}),
            'spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry"',
        ),
        (
            job(
                podFailurePolicy={
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}
                    ]
                }
            ),
            "must not be 0 for the In operator",
        ),
    ],
)
def test_invalid_jobs_are_rejected_with_422(body: dict[str, Any], message: str) -> None:
    if body["spec"]["template"]["spec"].get("restartPolicy", "") is None:
        del body["spec"]["template"]["spec"]["restartPolicy"]

    with pytest.raises(ApiError) as caught:
        admit_job("CREATE", JOBS, body, None)

    assert caught.value.code == 422
    assert caught.value.reason == "Invalid"
    assert caught.value.message.startswith('Job.batch "copy" is invalid: ')
    assert message in caught.value.message


def test_template_is_immutable_on_update() -> None:
    old = admit_job("CREATE", JOBS, job(), None)
    new = admit_job("CREATE", JOBS, job(), None)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "app:2.0"

    with pytest.raises(ApiError) as caught:
        admit_job("UPDATE", JOBS, new, old)

    assert "spec.template: Invalid value: field is immutable" in caught.value.message


def test_backoff_limit_and_suspend_may_change_on_update() -> None:
    old = admit_job("CREATE", JOBS, job(), None)
    new = admit_job("CREATE", JOBS, job(backoffLimit=1, suspend=True), None)

    assert admit_job("UPDATE", JOBS, new, old)["spec"]["backoffLimit"] == 1


def test_other_types_pass_untouched() -> None:
    body = {"metadata": {"name": "x"}, "data": {"a": "b"}}

    assert admit_job("CREATE", CONFIG_MAPS, body, None) is body
