"""Refusals, rollback, workloads and Job failures against a real operator process."""

from __future__ import annotations

import time

import kubernetes

from tests.integration.operator.conftest import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    Sandbox,
    advance,
    conditions,
    config_map_mode,
    get_dm,
    new_datamigration,
    patch_spec,
    prepare_namespace,
    settled,
    state_is,
    wait_for,
    warnings_of,
)


def test_second_datamigration_on_one_config_map_is_blocked(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "first")
    wait_for(lambda: settled(sandbox, namespace, "first", "migrate"), "first migrate")
    new_datamigration(sandbox, namespace, "second")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "second", "Blocked", "ConfigMapOwnedByOther"),
        "second Blocked",
    )
    assert f"{namespace}/first" in dm["status"]["message"]
    assert len(warnings_of(sandbox, namespace, "second", "ConfigMapOwnedByOther")) == 1
    assert not [name for _, name in sandbox.runs(namespace) if name.startswith("second-")]
    cm = sandbox.core.read_namespaced_config_map("app-config", namespace)
    assert cm.metadata.annotations["migrations.gremlins.ai/owner"] == f"{namespace}/first"


def test_rollback_is_immediate_and_deletes_running_jobs(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app")
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    advance(sandbox, namespace, "app", "dual-write")
    sandbox.behave(namespace, "app", "validate", sleep=60)
    patch_spec(sandbox, namespace, "app", phase="validate")
    running = wait_for(lambda: state_is(sandbox, namespace, "app", "Running"), "validate running")
    job = running["status"]["jobs"][-1]["name"]

    started = time.monotonic()
    patch_spec(sandbox, namespace, "app", phase="rollback")
    wait_for(lambda: config_map_mode(sandbox, namespace) == "sqlite_only", "sqlite_only")
    dm = wait_for(lambda: settled(sandbox, namespace, "app", "rollback"), "rolled back")
    print(f"rollback: RolledBack=True {time.monotonic() - started:.2f}s after the patch")
    assert conditions(dm)["RolledBack"]["status"] == "True"
    assert next(r for r in dm["status"]["jobs"] if r["name"] == job)["state"] == "Deleted"
    selector = "migrations.gremlins.ai/datamigration=app"
    wait_for(
        lambda: (
            job
            not in {
                j.metadata.name
                for j in sandbox.batch.list_namespaced_job(namespace, label_selector=selector).items
            }
        ),
        "the validate Job to be gone",
    )


def test_workload_mode_is_applied_only_after_its_rollout(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    sandbox.apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {
                "name": "web",
                "annotations": {"sandbox.gremlins.ai/hold-rollout": "true"},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
            },
        },
    )
    workloads = [{"kind": "Deployment", "name": "web"}]
    new_datamigration(
        sandbox,
        namespace,
        "app",
        app={"configMapRef": {"name": "app-config"}, "workloads": workloads},
    )
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Running", "WaitingForRollout"), "rollout wait"
    )
    assert config_map_mode(sandbox, namespace) == "sqlite_only"
    assert dm["status"]["mode"].get("applied") is None
    template = sandbox.apps.read_namespaced_deployment("web", namespace).spec.template
    assert template.metadata.annotations["migrations.gremlins.ai/migration-mode"] == "sqlite_only"

    sandbox.apps.patch_namespaced_deployment(
        "web", namespace, {"metadata": {"annotations": {"sandbox.gremlins.ai/hold-rollout": None}}}
    )
    dm = wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate after rollout")
    assert dm["status"]["mode"]["applied"] == "sqlite_only"


def test_non_retryable_job_failure_fails_the_phase_and_rerun_retries(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    sandbox.behave(namespace, "app", "copy", exit=42)
    new_datamigration(sandbox, namespace, "app")
    dm = wait_for(lambda: state_is(sandbox, namespace, "app", "Failed", "JobFailed"), "failed")
    assert "bump spec.rerun to retry" in dm["status"]["message"]
    assert len(warnings_of(sandbox, namespace, "app", "JobFailed")) == 1
    copies = [n for k, n in sandbox.runs(namespace) if k == "copy" and n.startswith("app-")]
    assert len(set(copies)) == 1
    assert len(copies) == 1  # exit 42 fails the Job at once (podFailurePolicy), no retries

    sandbox.behave(namespace, "app", "copy", exit=0)
    patch_spec(sandbox, namespace, "app", rerun=1)
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate after rerun")


def test_a_second_datamigration_on_the_same_collections_is_blocked_across_namespaces(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    """Issue 11, case 1: namespaces base and tb naming one collection on one Weaviate."""
    shared = [{"table": "items", "collection": "Shared" + namespace.replace("-", "")}]
    new_datamigration(sandbox, namespace, "base", collections=shared)
    wait_for(lambda: settled(sandbox, namespace, "base", "migrate"), "base migrate")
    other = f"{namespace}-tb"
    prepare_namespace(sandbox.api, other, config_map_data={"other": "kept"})
    new_datamigration(sandbox, other, "happy2", collections=shared)
    dm = wait_for(
        lambda: state_is(sandbox, other, "happy2", "Blocked", "CollectionOwnedByOther"),
        "tb Blocked",
    )
    assert f"DataMigration {namespace}/base" in dm["status"]["message"]
    assert len(warnings_of(sandbox, other, "happy2", "CollectionOwnedByOther")) == 1
    assert not sandbox.runs(other)  # no Job: nothing written, nothing deleted
    assert config_map_mode(sandbox, other) is None
    assert get_dm(sandbox, namespace, "base")["status"]["state"] == "Succeeded"


def test_a_missing_secret_blocks_until_it_is_created(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    sandbox.core.delete_namespaced_secret("weaviate-auth", namespace)
    new_datamigration(sandbox, namespace, "app")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "SecretNotFound"), "Blocked"
    )
    assert "weaviate-auth" in dm["status"]["message"]
    assert config_map_mode(sandbox, namespace) is None  # nothing changed
    assert not sandbox.runs(namespace)
    assert len(warnings_of(sandbox, namespace, "app", "SecretNotFound")) == 1

    # Secrets are not watched: the resync timer notices the new one.
    sandbox.core.create_namespaced_secret(
        namespace, {"metadata": {"name": "weaviate-auth"}, "data": {"api-key": "c2s="}}
    )
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate after the Secret")


def test_deleting_a_datamigration_removes_its_jobs_and_restores_the_config_map(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    sandbox.behave(namespace, "app", "copy", sleep=60)
    new_datamigration(sandbox, namespace, "app")
    wait_for(lambda: state_is(sandbox, namespace, "app", "Running"), "copy running")
    sandbox.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "app")

    def gone() -> bool:
        try:
            get_dm(sandbox, namespace, "app")
        except kubernetes.client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, "the DataMigration to be deleted (our finalizer released)")
    wait_for(lambda: not sandbox.batch.list_namespaced_job(namespace).items, "Jobs collected")
    # the ConfigMap stays; its key goes back to what it was: absent in these namespaces
    assert sandbox.core.read_namespaced_config_map("app-config", namespace) is not None
    assert config_map_mode(sandbox, namespace) is None


def _deleted(sandbox: Sandbox, namespace: str, name: str) -> None:
    sandbox.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def gone() -> bool:
        try:
            get_dm(sandbox, namespace, name)
        except kubernetes.client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, f"{name} to be deleted (our finalizer released)")


def test_deleted_in_dual_write_gives_the_config_map_back_for_the_next_migration(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "first")
    wait_for(lambda: settled(sandbox, namespace, "first", "migrate"), "first migrate")
    advance(sandbox, namespace, "first", "dual-write")
    assert config_map_mode(sandbox, namespace) == "dual_write"
    _deleted(sandbox, namespace, "first")
    cm = sandbox.core.read_namespaced_config_map("app-config", namespace)
    assert "migration_mode" not in (cm.data or {})  # absent, as before "first" claimed it
    assert not any(k.startswith("migrations.gremlins.ai/") for k in cm.metadata.annotations or {})
    reasons = [e.reason for e in sandbox.core.list_namespaced_event(namespace).items]
    assert "ConfigMapReleased" in reasons
    new_datamigration(sandbox, namespace, "second")  # not Blocked by a stale owner
    wait_for(lambda: settled(sandbox, namespace, "second", "migrate"), "second migrate")
    assert get_dm(sandbox, namespace, "second")["status"]["state"] == "Succeeded"


def test_on_delete_keep_leaves_the_mode_and_releases_the_claim(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    app = {"configMapRef": {"name": "app-config"}, "onDelete": "keep"}
    new_datamigration(sandbox, namespace, "done", app=app)
    wait_for(lambda: settled(sandbox, namespace, "done", "migrate"), "migrate")
    advance(sandbox, namespace, "done", "dual-write")
    _deleted(sandbox, namespace, "done")
    cm = sandbox.core.read_namespaced_config_map("app-config", namespace)
    assert cm.data["migration_mode"] == "dual_write"
    assert "migrations.gremlins.ai/owner" not in (cm.metadata.annotations or {})
