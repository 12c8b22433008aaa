"""What `dmctl status` shows and when `dmctl advance --wait` considers a phase settled."""

from __future__ import annotations

from typing import Any

from datamigration_operator.cli.migrations import settled, status_rows


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


def test_a_new_resource_shows_pending_without_progress_or_validation() -> None:
    rows = dict(status_rows({"metadata": {"generation": 1}, "spec": {"phase": "migrate"}}))
    assert rows["state"] == "Pending"
    assert "progress" not in rows
    assert "validation" not in rows


def test_settled_needs_the_current_generation_and_a_resting_state() -> None:
    assert settled(_dm(phase="validate", state="Succeeded", observedGeneration=3), "validate")
    assert settled(_dm(phase="validate", state="Blocked", observedGeneration=3), "validate")
    assert not settled(_dm(phase="validate", state="Running", observedGeneration=3), "validate")
    assert not settled(_dm(phase="validate", state="Succeeded", observedGeneration=2), "validate")
    rolled = [{"type": "RolledBack", "status": "True"}]
    assert settled(_dm(observedGeneration=3, conditions=rolled), "rollback")
    assert not settled(_dm(observedGeneration=3, conditions=[]), "rollback")
