"""handlers/metrics.py: the gauges follow the status, the counters count each change once."""

from __future__ import annotations

from typing import Any

from datamigration_operator.handlers.metrics import OperatorMetrics, job_outcomes
from datamigration_operator.reconcile.actions import EmitEvent, SetStatus

AT = "2025-03-01T10:00:00Z"


def _value(metrics: OperatorMetrics, series: str, /, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(series, labels)


def _entry(phase: str, result: str) -> dict[str, Any]:
    return {"phase": phase, "at": AT, "result": result, "message": ""}


def test_gauges_are_one_hot_over_phases_and_states_and_follow_progress() -> None:
    metrics = OperatorMetrics()
    key = {"namespace": "shop", "name": "dm"}
    metrics.status_seen(
        "shop",
        "dm",
        {
            "phase": "dual-write",
            "state": "Running",
            "history": [_entry("dual-write", "Running")],
            "progress": {
                "percent": 40,
                "rowsDone": 40,
                "rowsTotal": 100,
                "rowsPerSecond": 2.5,
                "failed": 3,
            },
        },
    )
    assert _value(metrics, "datamigration_phase", **key, phase="dual-write") == 1
    assert _value(metrics, "datamigration_phase", **key, phase="migrate") == 0
    assert _value(metrics, "datamigration_state", **key, state="Running") == 1
    assert _value(metrics, "datamigration_state", **key, state="Blocked") == 0
    assert _value(metrics, "datamigration_progress_percent", **key) == 40
    assert _value(metrics, "datamigration_progress_rows_per_second", **key) == 2.5
    assert _value(metrics, "datamigration_progress_failed_objects", **key) == 3
    assert _value(metrics, "datamigration_state_since_timestamp_seconds", **key) == 1740823200
    # a status without progress (a new phase's Job has not reported) has no progress series
    metrics.status_seen("shop", "dm", {"phase": "validate", "state": "Blocked"})
    assert _value(metrics, "datamigration_progress_percent", **key) is None
    assert _value(metrics, "datamigration_progress_failed_objects", **key) is None
    assert _value(metrics, "datamigration_state", **key, state="Blocked") == 1
    assert _value(metrics, "datamigration_state", **key, state="Running") == 0
    # a Job's progress without failures: none failed (yet), not "unknown"
    metrics.status_seen("shop", "dm", {"phase": "migrate", "progress": {"rowsDone": 1}})
    assert _value(metrics, "datamigration_progress_failed_objects", **key) == 0
    # a status not yet written by the operator: Pending, no phase
    metrics.status_seen("shop", "new", {})
    assert _value(metrics, "datamigration_state", namespace="shop", name="new", state="Pending")
    assert (
        _value(metrics, "datamigration_phase", namespace="shop", name="new", phase="migrate") == 0
    )


def test_a_planned_transition_and_a_job_outcome_count_once() -> None:
    metrics = OperatorMetrics()
    before = {
        "phase": "migrate",
        "state": "Running",
        "history": [_entry("migrate", "Running")],
        "jobs": [{"phase": "migrate", "name": "dm-migrate-1", "state": "Running"}],
    }
    patch = {
        "state": "Succeeded",
        "history": [_entry("migrate", "Running"), _entry("migrate", "Succeeded")],
        "jobs": [{"phase": "migrate", "name": "dm-migrate-1", "state": "Succeeded"}],
    }
    metrics.reconciled("shop", "dm", before, [SetStatus(patch), EmitEvent("Normal", "R", "m")])
    after = {**before, **patch}
    metrics.reconciled("shop", "dm", after, [])  # planning again changes nothing
    labels = {"namespace": "shop", "name": "dm", "phase": "migrate", "state": "Succeeded"}
    assert _value(metrics, "datamigration_phase_transitions_total", **labels) == 1
    job = {"kind": "copy", "result": "Succeeded"}
    assert _value(metrics, "datamigration_jobs_finished_total", **job) == 1
    assert (
        _value(metrics, "datamigration_state", namespace="shop", name="dm", state="Succeeded") == 1
    )


def test_history_trimmed_to_its_last_entries_still_yields_only_the_new_one() -> None:
    metrics = OperatorMetrics()
    old = [_entry("migrate", "Running" if i % 2 else "Blocked") for i in range(20)]
    new = [*old[1:], _entry("migrate", "Failed")]
    metrics.reconciled("a", "b", {"history": old}, [SetStatus({"history": new})])
    labels = {"namespace": "a", "name": "b", "phase": "migrate"}
    assert _value(metrics, "datamigration_phase_transitions_total", **labels, state="Failed") == 1
    assert (
        _value(metrics, "datamigration_phase_transitions_total", **labels, state="Running") is None
    )


def test_job_outcomes_are_the_records_that_ended() -> None:
    before = [
        {"phase": "dual-write", "name": "s1", "state": "Running"},
        {"phase": "migrate", "name": "c1", "state": "Failed"},
    ]
    after = [
        {"phase": "dual-write", "name": "s1", "state": "Deleted"},
        {"phase": "migrate", "name": "c1", "state": "Failed"},
        {"phase": "validate", "name": "v1", "state": "Failed"},
        {"phase": "validate", "name": "v2", "state": "Running"},
    ]
    assert job_outcomes(before, after) == [("sync", "Deleted"), ("validate", "Failed")]
    assert job_outcomes(None, None) == []


def test_errors_and_a_deleted_datamigrations_series() -> None:
    metrics = OperatorMetrics()
    key = {"namespace": "shop", "name": "dm"}
    history = [_entry("migrate", "Failed")]
    metrics.reconciled(
        "shop", "dm", {}, [SetStatus({"phase": "migrate", "state": "Failed", "history": history})]
    )
    metrics.status_seen("shop", "other", {"phase": "migrate", "state": "Running"})
    metrics.reconcile_failed("shop", "dm")
    metrics.reconcile_failed("shop", "dm")
    assert _value(metrics, "datamigration_reconcile_errors_total", **key) == 2
    metrics.forget("shop", "dm")
    names = {
        s.name
        for family in metrics.registry.collect()
        for s in family.samples
        if s.labels.get("name") == "dm"
    }
    assert names == set()
    # others keep theirs, and the per-kind Job counters are not per DataMigration
    assert _value(metrics, "datamigration_state", namespace="shop", name="other", state="Running")
