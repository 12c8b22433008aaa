"""The operator SIGKILLed at the worst moments and restarted: it converges without duplicates.

The kill lands after the API server stored the operator's write and before the operator can
read the answer (conftest's `Sandbox.kill_on_write`)."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_operator.api.names import (
    ANNOTATION_CONFIGMAP_OWNER,
    ANNOTATION_CONFIGMAP_PREVIOUS,
)
from tests.integration.operator_acceptance.conftest import (
    CONFIG_MAP,
    Operators,
    Sandbox,
    WriteTrigger,
    Written,
    condition,
    eventually,
    manifest,
)

TIMEOUT = 40.0


def _job_created_in(ns: str) -> WriteTrigger:
    def matches(written: Written) -> bool:
        return (
            written.verb == "create"
            and (written.group, written.plural) == ("batch", "jobs")
            and written.namespace == ns
        )

    return matches


def _mode_set_in(ns: str, mode: str) -> WriteTrigger:
    def matches(written: Written) -> bool:
        return (
            written.verb == "update"
            and (written.group, written.plural) == ("", "configmaps")
            and written.namespace == ns
            and written.data.get("migration_mode") == mode
        )

    return matches


@pytest.mark.parametrize("edit_spec_while_down", [False, True], ids=["restart", "spec-edited"])
def test_killed_between_job_create_and_status_write_ends_with_one_job(
    sandbox: Sandbox, operators: Operators, edit_spec_while_down: bool
) -> None:
    ns = sandbox.namespace(f"crash-create-{int(edit_spec_while_down)}")
    sandbox.config_map(ns)
    sandbox.claim(ns)
    operator = operators.start()
    with sandbox.kill_on_write(operator, _job_created_in(ns)) as killer:
        sandbox.create_dm(ns, manifest())
        assert killer.fired.wait(TIMEOUT), operators.logs()
    eventually(lambda: not operator.running(), "the operator to die")
    [job] = sandbox.jobs(ns, "dm", "migrate")
    recorded = [j["name"] for j in sandbox.status(ns, "dm").get("jobs") or []]
    assert job.metadata.name not in recorded, "the kill came after the status write"

    if edit_spec_while_down:  # a new generation must not mean a new Job for the same phase
        sandbox.patch_dm(ns, "dm", {"spec": {"validation": {"maxMismatches": 3}}})
    operators.start()

    def migrated() -> dict[str, Any] | None:
        status = sandbox.status(ns, "dm")
        return status if condition(status, "Migrated").get("status") == "True" else None

    status = eventually(migrated, "Migrated=True after the restart", TIMEOUT)
    jobs = sandbox.jobs(ns, "dm")
    assert [j.metadata.name for j in jobs] == [job.metadata.name], operators.logs()
    assert [j["name"] for j in status["jobs"]] == [job.metadata.name]
    assert status["state"] == "Succeeded"
    assert status["observedGeneration"] == (2 if edit_spec_while_down else 1)


def test_killed_during_rollback_finishes_it_after_restart(
    sandbox: Sandbox, operators: Operators
) -> None:
    ns = sandbox.namespace("crash-rollback")
    sandbox.config_map(ns)
    sandbox.claim(ns, behaviour={"sync": "sleep"})
    operator = operators.start()
    sandbox.create_dm(ns, manifest())
    eventually(
        lambda: condition(sandbox.status(ns, "dm"), "Migrated").get("status") == "True",
        "Migrated=True",
        TIMEOUT,
    )
    sandbox.patch_dm(ns, "dm", {"spec": {"phase": "dual-write"}})
    [sync] = eventually(
        lambda: [j for j in sandbox.jobs(ns, "dm", "dual-write") if (j.status.active or 0) > 0],
        "a running sync Job",
        TIMEOUT,
    )
    assert sandbox.config_map_data(ns)[0]["migration_mode"] == "dual_write"

    with sandbox.kill_on_write(operator, _mode_set_in(ns, "sqlite_only")) as killer:
        sandbox.patch_dm(ns, "dm", {"spec": {"phase": "rollback"}})
        assert killer.fired.wait(TIMEOUT), operators.logs()
    eventually(lambda: not operator.running(), "the operator to die")
    # Killed right after the mode flip: the sync Job still runs, RolledBack is not recorded.
    assert [j.metadata.name for j in sandbox.jobs(ns, "dm", "dual-write")] == [sync.metadata.name]
    assert condition(sandbox.status(ns, "dm"), "RolledBack").get("status") != "True"

    operators.start()

    def rolled_back() -> dict[str, Any] | None:
        status = sandbox.status(ns, "dm")
        return status if condition(status, "RolledBack").get("status") == "True" else None

    status = eventually(rolled_back, "RolledBack=True after the restart", TIMEOUT)
    eventually(lambda: not sandbox.jobs(ns, "dm", "dual-write"), "the sync Job deleted", TIMEOUT)
    eventually(
        lambda: (
            not sandbox.core.list_namespaced_pod(
                ns, label_selector=f"job-name={sync.metadata.name}"
            ).items
        ),
        "the sync Job's pod gone (its process killed)",
        TIMEOUT,
    )
    data, annotations = sandbox.config_map_data(ns, CONFIG_MAP)
    assert data == {"migration_mode": "sqlite_only", "other": "kept"}
    assert annotations[ANNOTATION_CONFIGMAP_OWNER] == f"{ns}/dm"
    assert annotations[ANNOTATION_CONFIGMAP_PREVIOUS] == "dual_write"
    assert status["state"] == "Succeeded"
    assert status["mode"]["configMap"] == "sqlite_only"
    [record] = [j for j in status["jobs"] if j["name"] == sync.metadata.name]
    assert record["state"] == "Deleted"


def test_killed_between_mode_patch_and_status_write_converges_once(
    sandbox: Sandbox, operators: Operators
) -> None:
    ns = sandbox.namespace("crash-mode")
    sandbox.config_map(ns)
    sandbox.claim(ns)
    operator = operators.start()
    sandbox.create_dm(ns, manifest())
    eventually(
        lambda: condition(sandbox.status(ns, "dm"), "Migrated").get("status") == "True",
        "Migrated=True",
        TIMEOUT,
    )
    with sandbox.kill_on_write(operator, _mode_set_in(ns, "dual_write")) as killer:
        sandbox.patch_dm(ns, "dm", {"spec": {"phase": "dual-write"}})
        assert killer.fired.wait(TIMEOUT), operators.logs()
    eventually(lambda: not operator.running(), "the operator to die")
    # Killed after the mode flip: status still tells migrate, no sync Job yet.
    assert sandbox.status(ns, "dm")["phase"] == "migrate"
    assert sandbox.jobs(ns, "dm", "dual-write") == []

    operators.start()

    def dual_write_ready() -> dict[str, Any] | None:
        status = sandbox.status(ns, "dm")
        return status if condition(status, "DualWriteReady").get("status") == "True" else None

    status = eventually(dual_write_ready, "DualWriteReady=True after the restart", TIMEOUT)
    assert len(sandbox.jobs(ns, "dm", "dual-write")) == 1
    assert status["mode"]["applied"] == "dual_write"
    assert status["mode"]["dualWriteSince"]
    mode_events = [
        e
        for e in sandbox.core.list_namespaced_event(
            ns, field_selector="involvedObject.name=dm"
        ).items
        if e.reason == "ModeChanged" and e.message.endswith("-> dual_write")
    ]
    assert len(mode_events) == 1
    assert mode_events[0].count == 1
