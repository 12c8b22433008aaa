"""Stand-in for `dmctl job copy|sync|validate` in the sandbox's Job containers.

The test decides each run's outcome in `<control dir>/<namespace>_<datamigration>.json`:
    {"copy": {"exit": 0, "sleep": 0}, "validate": {"exit": 0, "report": {"missing": 1}}}
(defaults: exit 0, no sleep; validate writes a passing report). Each run appends
`<kind> <namespace> <job name>` to `<control dir>/runs.log`. A validate run writes
status.validation through the status subresource with the Job's own kubeconfig (its
ServiceAccount), as the real Job does.
The control dir comes from $FAKE_DMCTL_CONTROL, set by the wrapper the conftest writes.
"""

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

CONTROL_DIR = Path(os.environ.get("FAKE_DMCTL_CONTROL", "."))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(config: dict, started: str, overrides: dict) -> None:
    import kubernetes

    kubernetes.config.load_kube_config()
    api = kubernetes.client.CustomObjectsApi()
    ref = config["datamigration"]
    counts = {"checked": 10, "missing": 0, "extra": 0, "mismatched": 0}
    counts.update({k: v for k, v in overrides.items() if k != "fields"})
    differences = counts["missing"] + counts["extra"] + counts["mismatched"]
    validation: dict = {
        "job": config["jobName"],
        # the downward API gives the pod its Job's uid, as the real Job signs its report
        "jobUid": os.environ.get("DATAMIGRATION_JOB_UID") or None,
        "startedAt": started,
        "finishedAt": _now(),
        "passed": differences <= config["maxMismatches"],
        **counts,
        **overrides.get("fields", {}),
    }
    api.patch_namespaced_custom_object_status(
        "migrations.gremlins.ai",
        "v1alpha1",
        ref["namespace"],
        "datamigrations",
        ref["name"],
        {"status": {"validation": validation}},
    )


def main() -> int:
    if sys.argv[1:2] != ["job"] or len(sys.argv) < 3:
        print(f"fake dmctl: unexpected arguments {sys.argv[1:]}", file=sys.stderr)
        return 2
    kind = sys.argv[2]
    config = json.loads(os.environ["DATAMIGRATION_JOB_CONFIG"])
    ref = config["datamigration"]
    control_file = CONTROL_DIR / f"{ref['namespace']}_{ref['name']}.json"
    control = json.loads(control_file.read_text()) if control_file.exists() else {}
    behaviour = control.get(kind, {})
    with open(CONTROL_DIR / "runs.log", "a") as log:
        log.write(f"{kind} {ref['namespace']} {config['jobName']}\n")
    started = _now()
    print(f"fake dmctl job {kind} {config['jobName']}: {behaviour}", flush=True)
    time.sleep(float(behaviour.get("sleep", 0)))
    code = int(behaviour.get("exit", 0))
    if kind == "validate" and code == 0:
        _report(config, started, behaviour.get("report", {}))
    if "trespass" in behaviour:  # try to write another DataMigration's status with our token
        _trespass(config, behaviour["trespass"])
    return code


def _trespass(config: dict, other: str) -> None:
    import kubernetes

    kubernetes.config.load_kube_config()
    api = kubernetes.client.CustomObjectsApi()
    namespace = config["datamigration"]["namespace"]
    outcome: dict = {}
    for target in (other, config["datamigration"]["name"]):
        try:
            api.patch_namespaced_custom_object_status(
                "migrations.gremlins.ai",
                "v1alpha1",
                namespace,
                "datamigrations",
                target,
                {"status": {"message": f"written by {config['jobName']}"}},
            )
            outcome[target] = 200
        except kubernetes.client.exceptions.ApiException as error:
            outcome[target] = error.status
    out = CONTROL_DIR / f"trespass_{namespace}_{config['jobName']}.json"
    out.write_text(json.dumps(outcome))


if __name__ == "__main__":
    sys.exit(main())
