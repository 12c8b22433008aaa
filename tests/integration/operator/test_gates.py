"""The phase gates and admission of phase jumps against a real operator process."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import kubernetes
import pytest

from tests.integration.operator.conftest import (
    CLAIM,
    OperatorProcess,
    Sandbox,
    advance,
    conditions,
    config_map_mode,
    get_dm,
    new_datamigration,
    patch_spec,
    settled,
    state_is,
    wait_for,
    warnings_of,
)


def test_switch_waits_for_a_passing_validation_then_proceeds(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app")
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    advance(sandbox, namespace, "app", "dual-write")
    sandbox.behave(namespace, "app", "validate", sleep=4)
    patch_spec(sandbox, namespace, "app", phase="validate")
    wait_for(lambda: state_is(sandbox, namespace, "app", "Running"), "validate Job running")

    patch_spec(sandbox, namespace, "app", phase="switch")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "ValidationRequired"), "Blocked"
    )
    assert "switch needs a passing validation" in dm["status"]["message"]
    assert config_map_mode(sandbox, namespace) == "dual_write"
    assert len(warnings_of(sandbox, namespace, "app", "ValidationRequired")) == 1

    # The validate Job reports a passing validation and ends: switch proceeds by itself.
    dm = wait_for(lambda: settled(sandbox, namespace, "app", "switch"), "switch", timeout=30)
    assert config_map_mode(sandbox, namespace) == "weaviate_primary"
    assert conditions(dm)["ReadsSwitched"]["status"] == "True"
    assert len(warnings_of(sandbox, namespace, "app", "ValidationRequired")) == 1


def test_validation_from_an_earlier_dual_write_epoch_blocks_switch(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app")
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    advance(sandbox, namespace, "app", "dual-write", "validate")
    # A rollback ends the epoch; dual-write again starts a new one after the old report.
    time.sleep(1.1)  # status timestamps have whole seconds
    advance(sandbox, namespace, "app", "rollback", "dual-write")
    sandbox.behave(namespace, "app", "validate", exit=42)  # fails without a new report
    patch_spec(sandbox, namespace, "app", phase="validate")
    wait_for(lambda: state_is(sandbox, namespace, "app", "Failed"), "validate to fail")

    patch_spec(sandbox, namespace, "app", phase="switch")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "ValidationStale"), "stale"
    )
    assert "before the current dual-write epoch" in dm["status"]["message"]
    assert config_map_mode(sandbox, namespace) == "dual_write"


def test_validation_older_than_max_age_blocks_switch(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app", validation={"maxAge": "2s"})
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    advance(sandbox, namespace, "app", "dual-write", "validate")
    time.sleep(3.5)
    patch_spec(sandbox, namespace, "app", phase="switch")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "ValidationStale"), "stale"
    )
    assert "older than maxAge 2s" in dm["status"]["message"]
    assert config_map_mode(sandbox, namespace) == "dual_write"


def test_illegal_jump_is_refused_with_the_rule_message(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app")
    before = wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    with pytest.raises(kubernetes.client.ApiException) as refused:
        patch_spec(sandbox, namespace, "app", phase="switch")
    assert refused.value.status == 422
    message = json.loads(refused.value.body)["message"]
    assert "migrate" in message
    assert "switch" in message

    if shutil.which("kubectl") is not None:
        manifest = dict(before)
        manifest["spec"] = {**before["spec"], "phase": "validate"}
        manifest.pop("status", None)
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(sandbox.kubeconfig), "apply", "-f", "-"],
            input=json.dumps(manifest),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert "Invalid" in result.stderr or "invalid" in result.stderr

    after = get_dm(sandbox, namespace, "app")
    assert after["spec"]["phase"] == "migrate"
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert config_map_mode(sandbox, namespace) == "sqlite_only"


def test_a_name_too_long_for_a_label_is_refused_at_admission(
    sandbox: Sandbox, namespace: str
) -> None:
    with pytest.raises(kubernetes.client.ApiException) as refused:
        new_datamigration(sandbox, namespace, "n" * 64)
    assert refused.value.status == 422
    assert "at most 63 characters" in json.loads(refused.value.body)["message"]
    new_datamigration(sandbox, namespace, "n" * 63)  # the longest name that works


def test_the_source_cannot_change_once_the_app_dual_writes(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app")
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    # during migrate the source may still be fixed (the copy is re-run with spec.rerun)
    patch_spec(sandbox, namespace, "app", source={"claimName": CLAIM, "path": "typo.db"})
    patch_spec(sandbox, namespace, "app", source={"claimName": CLAIM, "path": "app.db"})
    advance(sandbox, namespace, "app", "dual-write")
    before = get_dm(sandbox, namespace, "app")
    with pytest.raises(kubernetes.client.ApiException) as refused:
        patch_spec(sandbox, namespace, "app", source={"claimName": CLAIM, "path": "other.db"})
    assert refused.value.status == 422
    message = json.loads(refused.value.body)["message"]
    assert "cannot change in phase dual-write" in message
    assert "Roll back" in message
    assert get_dm(sandbox, namespace, "app")["spec"] == before["spec"]
