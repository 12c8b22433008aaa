"""Issue 11, items 3 and 6, against a real operator process and the RBAC-enforcing sandbox:
each DataMigration's Jobs run as a ServiceAccount of its own whose token reaches only that
DataMigration's status; a validation report that its validate Job did not write opens no
gate; Job images and ServiceAccounts come only from the operator's allow-lists."""

from __future__ import annotations

import json

import kubernetes

from datamigration_operator.reconcile.job_names import job_account_name
from tests.integration.operator.conftest import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    Sandbox,
    advance,
    config_map_mode,
    get_dm,
    new_datamigration,
    patch_spec,
    settled,
    state_is,
    wait_for,
    warnings_of,
)


def _owned_by(obj: object, dm: dict[str, object]) -> bool:
    refs = obj.metadata.owner_references or []  # type: ignore[attr-defined]
    meta = dm["metadata"]
    assert isinstance(meta, dict)
    return any(r.uid == meta["uid"] and r.controller for r in refs)


def test_each_migration_gets_its_own_job_account_whose_token_reaches_only_its_status(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    sandbox.behave(namespace, "a", "copy", trespass="b")
    a = new_datamigration(sandbox, namespace, "a")
    # one DataMigration per ConfigMap: b migrates another app of the namespace
    sandbox.core.create_namespaced_config_map(namespace, {"metadata": {"name": "b-config"}})
    b = new_datamigration(sandbox, namespace, "b", app={"configMapRef": {"name": "b-config"}})
    for name in ("a", "b"):
        wait_for(lambda name=name: settled(sandbox, namespace, name, "migrate"), name)  # type: ignore[misc]

    rbac = kubernetes.client.RbacAuthorizationV1Api(sandbox.api)
    for dm in (a, b):
        name = dm["metadata"]["name"]
        account = job_account_name(name)
        sa = sandbox.core.read_namespaced_service_account(account, namespace)
        role = rbac.read_namespaced_role(account, namespace)
        binding = rbac.read_namespaced_role_binding(account, namespace)
        assert all(_owned_by(o, dm) for o in (sa, role, binding))
        assert role.rules[0].resource_names == [name]
        assert binding.subjects[0].name == account
        (job,) = sandbox.batch.list_namespaced_job(
            namespace, label_selector=f"{GROUP}/datamigration={name}"
        ).items
        assert job.spec.template.spec.service_account_name == account

    # The copy Job of a, with its pod's own token, tried to write b's status and its own.
    (job_a,) = [j for kind, j in sandbox.runs(namespace) if kind == "copy" and j.startswith("a-")]
    outcome = json.loads((sandbox.control_dir / f"trespass_{namespace}_{job_a}.json").read_text())
    assert outcome == {"b": 403, "a": 200}


def test_a_forged_passing_validation_does_not_open_switch(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    """The issue's case: the real validation found 100 rows missing; a passing report is
    written over it by someone who may patch the status, and switch is asked for."""
    new_datamigration(sandbox, namespace, "app")
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    advance(sandbox, namespace, "app", "dual-write")
    sandbox.behave(namespace, "app", "validate", report={"missing": 100})
    patch_spec(sandbox, namespace, "app", phase="validate")
    dm = wait_for(lambda: state_is(sandbox, namespace, "app", "Failed"), "validate to fail")
    real = dm["status"]["validation"]
    assert real["missing"] == 100
    assert real["jobUid"]  # the Job signed its report with its uid

    forged = {**real, "missing": 0, "passed": True, "jobUid": "0000-forged"}
    sandbox.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "app", {"status": {"validation": forged}}
    )
    patch_spec(sandbox, namespace, "app", phase="switch")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "ValidationNotFromItsJob"),
        "switch to be Blocked",
    )
    assert "not written by the validate Job the operator created" in dm["status"]["message"]
    assert warnings_of(sandbox, namespace, "app", "ValidationNotFromItsJob")
    assert config_map_mode(sandbox, namespace) == "dual_write"
    unsigned = {**forged, "jobUid": None}
    sandbox.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "app", {"status": {"validation": unsigned}}
    )
    wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "ValidationNotFromItsJob"),
        "switch to stay Blocked",
    )
    assert config_map_mode(sandbox, namespace) == "dual_write"


def test_a_job_image_or_account_the_operator_does_not_allow_blocks_without_a_job(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    cases = {
        "img": ({"image": "attacker.example/anything:latest"}, "JobImageNotAllowed"),
        "sa": ({"serviceAccountName": "powerful-sa"}, "JobServiceAccountNotAllowed"),
    }
    for name, (template, _) in cases.items():
        new_datamigration(sandbox, namespace, name, jobTemplate=template)
    for name, (_, reason) in cases.items():
        dm = wait_for(
            lambda name=name, reason=reason: state_is(sandbox, namespace, name, "Blocked", reason),  # type: ignore[misc]
            f"{name} Blocked",
        )
        assert "allowed" in dm["status"]["message"]
        assert len(warnings_of(sandbox, namespace, name, reason)) == 1
    assert sandbox.batch.list_namespaced_job(namespace).items == []
    assert not [
        s
        for s in sandbox.core.list_namespaced_service_account(namespace).items
        if s.metadata.name.startswith(("img-", "sa-"))
    ]
    # the operator's own image is always allowed, and the phase then proceeds
    patch_spec(sandbox, namespace, "img", jobTemplate={"image": None})
    wait_for(lambda: settled(sandbox, namespace, "img", "migrate"), "img migrate")
    assert get_dm(sandbox, namespace, "img")["status"]["state"] == "Succeeded"
