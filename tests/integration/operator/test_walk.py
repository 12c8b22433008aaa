"""The whole walk migrate -> dual-write -> validate -> switch -> rollback -> migrate with a real
operator process, checking mode, conditions, events and `kubectl get` columns after each step."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import psutil

from tests.integration.operator.conftest import (
    SECRET_VALUE,
    OperatorProcess,
    Sandbox,
    conditions,
    config_map_mode,
    events_of,
    get_dm,
    new_datamigration,
    patch_spec,
    wait_for,
)

NAME = "shop"


def _settled(sandbox: Sandbox, namespace: str, phase: str) -> dict[str, Any] | None:
    dm = get_dm(sandbox, namespace, NAME)
    status = dm.get("status") or {}
    done = (
        status.get("phase") == phase
        and status.get("observedGeneration") == dm["metadata"]["generation"]
        and status.get("state") == "Succeeded"
    )
    return dm if done else None


def _step(sandbox: Sandbox, namespace: str, phase: str) -> dict[str, Any]:
    patch_spec(sandbox, namespace, NAME, phase=phase)
    return wait_for(lambda: _settled(sandbox, namespace, phase), f"phase {phase} to succeed")


def _truths(dm: dict[str, Any]) -> set[str]:
    return {type_ for type_, c in conditions(dm).items() if c["status"] == "True"}


def _reasons(sandbox: Sandbox, namespace: str) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in events_of(sandbox, namespace, NAME)]


def _kubectl_row(sandbox: Sandbox, namespace: str) -> dict[str, str] | None:
    if shutil.which("kubectl") is None:
        return None
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(sandbox.kubeconfig), "get", "dm", NAME, "-n", namespace],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    # Columns are cut at the header's offsets: an empty cell (PROGRESS) must not shift the rest.
    header, row = out[0], out[1]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    bounds = zip(starts, [*starts[1:], None], strict=True)
    return {header[a:b].strip(): row[a:b].strip() for a, b in bounds}


def _check_columns(sandbox: Sandbox, namespace: str, phase: str, mode: str, validated: str) -> None:
    row = _kubectl_row(sandbox, namespace)
    if row is None:
        return  # kubectl absent: the API assertions above still hold
    assert row["PHASE"] == phase
    assert row["STATE"] == "Succeeded"
    assert row["MODE"] == mode
    assert row["VALIDATED"] == validated
    assert row["NAME"] == NAME
    assert row["AGE"]


def test_full_walk(sandbox: Sandbox, operator_process: OperatorProcess, namespace: str) -> None:
    new_datamigration(sandbox, namespace, NAME)
    dm = wait_for(lambda: _settled(sandbox, namespace, "migrate"), "migrate to succeed")
    assert config_map_mode(sandbox, namespace) == "sqlite_only"
    assert _truths(dm) == {"Migrated", "Ready"}
    copy_job = dm["status"]["jobs"][-1]["name"]
    assert ("copy", copy_job) in sandbox.runs(namespace)
    # The app's other keys are untouched; ownership is recorded.
    cm = sandbox.core.read_namespaced_config_map("app-config", namespace)
    assert cm.data["other"] == "kept"
    assert cm.metadata.annotations["migrations.gremlins.ai/owner"] == f"{namespace}/{NAME}"
    # Events follow the status write: wait for the last one, then check the set.
    wait_for(lambda: ("Normal", "PhaseSucceeded") in _reasons(sandbox, namespace), "events")
    reasons = _reasons(sandbox, namespace)
    for expected in ("PhaseStarted", "JobCreated", "ModeChanged", "PhaseSucceeded"):
        assert ("Normal", expected) in reasons
    assert not [r for r in reasons if r[0] == "Warning"]
    _check_columns(sandbox, namespace, "migrate", "sqlite_only", "False")

    dm = _step(sandbox, namespace, "dual-write")
    assert config_map_mode(sandbox, namespace) == "dual_write"
    assert {"Migrated", "DualWriteReady", "Ready"} <= _truths(dm)
    assert dm["status"]["mode"]["applied"] == "dual_write"
    assert [k for k, _ in sandbox.runs(namespace)].count("sync") == 1
    _check_columns(sandbox, namespace, "dual-write", "dual_write", "False")

    dm = _step(sandbox, namespace, "validate")
    assert config_map_mode(sandbox, namespace) == "dual_write"
    assert "Validated" in _truths(dm)
    report = dm["status"]["validation"]
    assert report["passed"] is True
    assert report["job"] == dm["status"]["jobs"][-1]["name"]
    _check_columns(sandbox, namespace, "validate", "dual_write", "True")

    dm = _step(sandbox, namespace, "switch")
    assert config_map_mode(sandbox, namespace) == "weaviate_primary"
    assert {"ReadsSwitched", "Validated", "Ready"} <= _truths(dm)
    _check_columns(sandbox, namespace, "switch", "weaviate_primary", "True")

    dm = _step(sandbox, namespace, "rollback")
    assert config_map_mode(sandbox, namespace) == "sqlite_only"
    truths = _truths(dm)
    assert {"RolledBack", "Ready"} <= truths
    assert not truths & {"DualWriteReady", "Validated", "ReadsSwitched"}
    cm = sandbox.core.read_namespaced_config_map("app-config", namespace)
    assert cm.metadata.annotations["migrations.gremlins.ai/previous-mode"] == "weaviate_primary"
    _check_columns(sandbox, namespace, "rollback", "sqlite_only", "False")

    copies_before = [k for k, _ in sandbox.runs(namespace)].count("copy")
    dm = _step(sandbox, namespace, "migrate")
    assert config_map_mode(sandbox, namespace) == "sqlite_only"
    assert "Migrated" in _truths(dm)
    assert "RolledBack" not in _truths(dm)
    assert [k for k, _ in sandbox.runs(namespace)].count("copy") == copies_before + 1
    _check_columns(sandbox, namespace, "migrate", "sqlite_only", "False")

    # Every transition told its story once: one PhaseStarted per phase entered.
    def started() -> list[Any]:
        return [e for e in events_of(sandbox, namespace, NAME) if e.reason == "PhaseStarted"]

    wait_for(lambda: len(started()) >= 6, "six PhaseStarted events")
    assert len(started()) == 6
    assert all(e.source.component == "datamigration-operator" for e in started())
    # The API key stays in its Secret: not in the log, status, events or Job specs.
    assert SECRET_VALUE not in operator_process.log()
    assert SECRET_VALUE not in json.dumps(get_dm(sandbox, namespace, NAME))
    assert SECRET_VALUE not in str(events_of(sandbox, namespace, NAME))
    assert SECRET_VALUE not in str(sandbox.batch.list_namespaced_job(namespace).items)
    if operator_process.process is not None:
        rss = psutil.Process(operator_process.process.pid).memory_info().rss
        print(f"operator RSS after the walk: {rss / 2**20:.1f} MiB")
    # kopf's bookkeeping stays under our prefix.
    annotations = get_dm(sandbox, namespace, NAME)["metadata"].get("annotations") or {}
    assert not [key for key in annotations if key.startswith("kopf.zalando.org")]
    assert operator_process.process is not None
    assert operator_process.process.poll() is None
