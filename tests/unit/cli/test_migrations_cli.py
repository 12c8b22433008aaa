"""What `dmctl status` shows and when `dmctl advance --wait` considers a phase settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from datamigration_operator.cli.main import app
from datamigration_operator.cli.migrations import (
    _columns,
    age,
    list_row,
    settled,
    status_rows,
    watch_line,
)
from datamigration_operator.cli.progress_bar import remaining

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _dm(generation: int = 3, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "chat", "generation": generation},
        "spec": {"phase": "validate"},
        "status": status,
    }


def test_status_rows_tell_phase_mode_progress_validation_and_conditions() -> None:
    dm = _dm(
        phase="validate",
        state="Succeeded",
        observedGeneration=3,
        mode={"desired": "dual_write", "configMap": "dual_write", "applied": "dual_write"},
        progress={"percent": 100, "rowsDone": 10, "rowsTotal": 10, "rowsPerSecond": 5000},
        validation={"finishedAt": "2026-11-26T07:00:00Z", "passed": True, "checked": 10},
        conditions=[{"type": "Validated", "status": "True", "reason": "Passed", "message": "ok"}],
    )
    rows = dict(status_rows(dm))
    assert rows["phase"] == "validate (observed: validate)"
    assert rows["mode"] == "desired dual_write, ConfigMap dual_write, applied dual_write"
    assert rows["progress"] == "100% (10/10 rows, 5000 rows/s)"
    assert rows["validation"].startswith("passed at 2026-11-26T07:00:00Z: checked 10")
    assert rows["  Validated"] == "True Passed: ok"


@pytest.mark.parametrize(
    ("lease", "says"),
    [
        (
            {"leaseHolder": "web-1/7/ab", "leaseExpiresAt": "2026-11-26T07:00:09Z"},
            "drained by web-1/7/ab",
        ),
        (
            {"leaseExpiresAt": "2026-11-26T06:58:00Z"},
            "no drainer (lease lapsed at 2026-11-26T06:58:00Z)",
        ),
        ({}, "no drainer ever held the lease"),
    ],
)
def test_status_shows_the_outbox_rollback_readiness_judges(
    lease: dict[str, str], says: str
) -> None:
    outbox = {
        "job": "chat-validate-1",
        "depth": 2,
        "oldestAgeSeconds": 0.5,
        "observedAt": "2026-11-26T07:00:00Z",
    }
    rows = dict(status_rows(_dm(outbox={**outbox, **lease})))
    assert (
        rows["outbox"]
        == f"2 waiting, oldest 0.5 s, {says}; seen by chat-validate-1 at 2026-11-26T07:00:00Z"
    )


def test_status_rows_name_the_backup_the_copy_kept() -> None:
    backup = {
        "claim": "chat-data",
        "path": ".datamigration/backups/chat/chat-migrate-1-20261203T120000Z.sqlite",
        "sizeBytes": 4096,
        "sha256": "ab" * 32,
        "takenAt": "2026-12-03T12:00:00Z",
        "retained": ["chat-migrate-1-20261203T120000Z.sqlite", "older.sqlite"],
    }
    rows = dict(status_rows(_dm(phase="migrate", state="Succeeded", backup=backup)))
    assert rows["backup"] == (
        "chat-data:.datamigration/backups/chat/chat-migrate-1-20261203T120000Z.sqlite "
        f"(4096 bytes, sha256 {'ab' * 32}, taken 2026-12-03T12:00:00Z; 2 kept)"
    )


def test_a_new_resource_shows_pending_without_progress_or_validation() -> None:
    rows = dict(status_rows({"metadata": {"generation": 1}, "spec": {"phase": "migrate"}}))
    assert rows["state"] == "Pending"
    assert "progress" not in rows
    assert "validation" not in rows
    assert "backup" not in rows


def test_settled_needs_the_current_generation_and_a_resting_state() -> None:
    assert settled(_dm(phase="validate", state="Succeeded", observedGeneration=3), "validate")
    assert settled(_dm(phase="validate", state="Blocked", observedGeneration=3), "validate")
    assert not settled(_dm(phase="validate", state="Running", observedGeneration=3), "validate")
    assert not settled(_dm(phase="validate", state="Succeeded", observedGeneration=2), "validate")
    rolled = [{"type": "RolledBack", "status": "True"}]
    assert settled(_dm(observedGeneration=3, conditions=rolled), "rollback")
    assert not settled(_dm(observedGeneration=3, conditions=[]), "rollback")


def test_wide_status_adds_the_jobs_and_the_history() -> None:
    dm = _dm(
        jobs=[{"phase": "validate", "name": "chat-validate-1", "state": "Running"}],
        history=[{"phase": "validate", "at": "2026-11-26T07:00:00Z", "result": "Running"}],
    )
    assert "  job chat-validate-1" not in dict(status_rows(dm))
    wide = dict(status_rows(dm, wide=True))
    assert wide["  job chat-validate-1"].startswith("validate Running")
    assert wide["  2026-11-26T07:00:00Z"] == "validate Running: "


def test_list_rows_are_the_printer_columns_and_wide_adds_why() -> None:
    dm = _dm(
        state="Blocked",
        message="Secret weaviate-auth not found",
        mode={"configMap": "dual_write", "applied": "dual_write"},
        progress={"percent": 40, "rowsDone": 400, "eta": "2026-11-26T12:05:00Z"},
        conditions=[
            {"type": "Validated", "status": "False", "reason": "NotStarted"},
            {"type": "Ready", "status": "False", "reason": "SecretNotFound"},
        ],
    )
    dm["metadata"]["creationTimestamp"] = "2026-11-26T11:00:00Z"
    assert list_row(dm, NOW) == [
        "chat", "validate", "Blocked", "dual_write", "40%", "False", "60m"
    ]  # fmt: skip
    assert list_row(dm, NOW, wide=True)[7:] == [
        "SecretNotFound",
        "dual_write",
        "400",
        "2026-11-26T12:05:00Z",
        "Secret weaviate-auth not found",
    ]
    fresh = {"metadata": {"name": "new"}, "spec": {"phase": "migrate"}}
    assert list_row(fresh, NOW) == ["new", "migrate", "Pending", "", "", "", "<unknown>"]


def test_ages_read_as_kubectl_prints_them() -> None:
    def ago(**delta: float) -> str:
        return age((NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z"), NOW)

    assert ago(seconds=42) == "42s"
    assert ago(seconds=90) == "1m"
    assert ago(minutes=7) == "7m"
    assert ago(hours=3) == "3h"
    assert ago(days=5) == "5d"


def test_columns_are_aligned_without_trailing_blanks() -> None:
    text = _columns([["NAME", "STATE"], ["a-long-name", "Running"], ["b", ""]])
    assert text.splitlines() == ["NAME          STATE", "a-long-name   Running", "b"]


def test_watch_shows_the_jobs_eta_as_time_left() -> None:
    assert remaining({"eta": "2026-11-26T12:01:05Z"}, NOW) == "0:01:05"
    assert remaining({"eta": "2026-11-26T11:59:00Z"}, NOW) == "0:00:00"
    assert remaining({}, NOW) == "-:--:--"
    assert watch_line(_dm(phase="validate", state="Running")) == "validate: Running"
    assert watch_line({"spec": {"phase": "migrate"}}) == "migrate: Pending"


def test_a_mistyped_command_or_phase_names_the_closest() -> None:
    typo = CliRunner().invoke(app, ["stauts", "chat"])
    assert typo.exit_code == 2
    assert "Did you mean 'status'?" in typo.output
    unknown = CliRunner().invoke(app, ["frobnicate"])
    assert unknown.exit_code == 2
    assert "No such command 'frobnicate'." in unknown.output
    assert "Did you mean" not in unknown.output
    phase = CliRunner().invoke(app, ["advance", "chat", "swich"])
    assert phase.exit_code == 2
    assert "Did you mean 'switch'?" in phase.output


def test_list_refuses_a_namespace_with_all_namespaces() -> None:
    result = CliRunner().invoke(app, ["list", "-n", "a", "-A"])
    assert result.exit_code == 2
    assert "either --namespace or --all-namespaces" in result.output


def test_shell_completion_scripts_are_offered() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0, result.output
    assert "_DMCTL_COMPLETE" in result.output.upper().replace("-", "_")


def test_the_eta_shows_while_a_job_runs_and_not_once_it_finished() -> None:
    progress = {"percent": 40, "rowsDone": 4, "rowsTotal": 10, "eta": "2026-11-26T12:05:00Z"}
    running = _dm(state="Running", progress=progress)
    assert dict(status_rows(running))["progress"] == "40% (4/10 rows, eta 2026-11-26T12:05:00Z)"
    assert list_row(running, NOW, wide=True)[10] == "2026-11-26T12:05:00Z"
    final = {**progress, "percent": 100, "rowsDone": 10}
    for dm in (
        _dm(state="Succeeded", progress=final),
        _dm(state="Running", progress=final),  # every row done: the Job is finishing
        _dm(state="Failed", progress=progress),
    ):
        assert "eta" not in dict(status_rows(dm))["progress"]
        assert list_row(dm, NOW, wide=True)[10] == ""


def test_status_rows_show_each_switch_step_with_its_figures() -> None:
    from datamigration_operator.cli.migrations import switch_rows

    switch = {
        "step": 1,
        "readPercent": 0,
        "steps": [
            {
                "step": 1,
                "readPercent": 10,
                "startedAt": "2026-12-03T13:00:00Z",
                "result": "Failed",
                "compared": 80,
                "mismatched": 4,
                "weaviateReads": 90,
                "weaviateErrors": 0,
                "message": "step 1 (10 % of reads from Weaviate): read mismatch 5.00 %",
            }
        ],
    }
    rows = dict(switch_rows(switch))
    assert rows["switch"] == "step 1, 0% of reads from Weaviate"
    assert rows["  step 1"].startswith("10% Failed from 2026-12-03T13:00:00Z, mismatched 4/80")
    assert "read mismatch 5.00 %" in rows["  step 1"]
    assert switch_rows({}) == []
