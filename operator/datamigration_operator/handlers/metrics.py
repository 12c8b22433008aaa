"""The operator's Prometheus metrics, served on `/metrics` (`--metrics-port`).

Fed from what the operator already has, never from extra API calls:
- every watch event of a DataMigration (status as the API server holds it, progress written by
  the Jobs included) sets the per-migration gauges: a Job's throughput, failures and last
  report reach Prometheus through the operator, with no scrape target on the Job's pod;
- every reconcile's planned status patch, applied to the status it was planned from, counts
  what the operator changed: phase transitions (a new history entry) and Job outcomes (a Job
  record that became Succeeded, Failed or Deleted). Planning is level-based, so a change is
  planned once and counted once; a restarted operator reads the outcome as already recorded.

Labels are (namespace, name) of the DataMigration, so the series follow the objects; a deleted
DataMigration's series are removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from datamigration_operator.api.job_contract import JOB_KIND_BY_PHASE
from datamigration_operator.api.phases import PHASES
from datamigration_operator.reconcile.actions import Action, SetStatus
from datamigration_operator.reconcile.status_patch import apply_merge_patch

STATES: Final = ("Pending", "Running", "Succeeded", "Failed", "Blocked")
ENDED_JOB_STATES: Final = frozenset({"Succeeded", "Failed", "Deleted"})
KEY_LABELS: Final = ("namespace", "name")
KIND_BY_PHASE: Final[dict[str, str]] = {str(p): str(k) for p, k in JOB_KIND_BY_PHASE.items()}
RECONCILE_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Key = tuple[str, str]


class OperatorMetrics:
    """One set of series per registry (a fresh registry by default, so tests do not share)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.phase = Gauge(
            "datamigration_phase",
            "1 for the phase the operator reconciles (status.phase), 0 for the others",
            [*KEY_LABELS, "phase"],
            registry=r,
        )
        self.state = Gauge(
            "datamigration_state",
            "1 for the DataMigration's status.state, 0 for the others",
            [*KEY_LABELS, "state"],
            registry=r,
        )
        self.state_since = Gauge(
            "datamigration_state_since_timestamp_seconds",
            "When phase and state last changed (the latest status.history entry), Unix time",
            KEY_LABELS,
            registry=r,
        )
        self.progress_percent = Gauge(
            "datamigration_progress_percent",
            "status.progress.percent of the running or last copy/sync Job",
            KEY_LABELS,
            registry=r,
        )
        self.rows_done = Gauge(
            "datamigration_progress_rows_done",
            "status.progress.rowsDone: rows processed",
            KEY_LABELS,
            registry=r,
        )
        self.rows_total = Gauge(
            "datamigration_progress_rows_total",
            "status.progress.rowsTotal: rows to process",
            KEY_LABELS,
            registry=r,
        )
        self.rows_per_second = Gauge(
            "datamigration_progress_rows_per_second",
            "status.progress.rowsPerSecond: recent throughput of the Job",
            KEY_LABELS,
            registry=r,
        )
        self.failed_objects = Gauge(
            "datamigration_progress_failed_objects",
            "status.progress.failed: objects the copy/sync Job could not write after every "
            "retry (the Job fails when there are any)",
            KEY_LABELS,
            registry=r,
        )
        self.progress_updated = Gauge(
            "datamigration_progress_updated_timestamp_seconds",
            "status.progress.updatedAt: when the Job last reported, Unix time",
            KEY_LABELS,
            registry=r,
        )
        self.validation_differences = Gauge(
            "datamigration_validation_differences",
            "Differences the latest validation found (missing + extra + mismatched)",
            KEY_LABELS,
            registry=r,
        )
        self.transitions = Counter(
            "datamigration_phase_transitions",
            "Phase or state changes the operator recorded (status.history entries)",
            [*KEY_LABELS, "phase", "state"],
            registry=r,
        )
        self.jobs_finished = Counter(
            "datamigration_jobs_finished",
            "Jobs of DataMigrations that ended, by kind (copy, sync, validate) and result "
            "(Succeeded, Failed, Deleted)",
            ["kind", "result"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "datamigration_reconcile_duration_seconds",
            "Time of one reconcile: read, observe, plan and execute",
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "datamigration_reconcile_errors",
            "Reconciles that failed with an API error (retried)",
            KEY_LABELS,
            registry=r,
        )
        self._keyed: tuple[Gauge | Counter, ...] = (
            self.state_since,
            self.progress_percent,
            self.rows_done,
            self.rows_total,
            self.rows_per_second,
            self.failed_objects,
            self.progress_updated,
            self.validation_differences,
            self.reconcile_errors,
        )
        self._transition_labels: dict[Key, set[tuple[str, str]]] = {}

    # -- what the handlers report -----------------------------------------------------------

    def status_seen(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """The gauges of one DataMigration from its status."""
        key = (namespace, name)
        phase, state = status.get("phase"), status.get("state") or "Pending"
        for each_phase in PHASES:
            self.phase.labels(*key, each_phase).set(1 if each_phase == phase else 0)
        for each_state in STATES:
            self.state.labels(*key, each_state).set(1 if each_state == state else 0)
        history = status.get("history") or []
        since = _timestamp(history[-1].get("at")) if history else None
        _set_or_remove(self.state_since, key, since)
        progress = status.get("progress") or {}
        _set_or_remove(self.progress_percent, key, _number(progress.get("percent")))
        _set_or_remove(self.rows_done, key, _number(progress.get("rowsDone")))
        _set_or_remove(self.rows_total, key, _number(progress.get("rowsTotal")))
        _set_or_remove(self.rows_per_second, key, _number(progress.get("rowsPerSecond")))
        # a Job reports `failed` once objects failed for good: until then, none have
        failed = _number(progress.get("failed") or 0) if progress else None
        _set_or_remove(self.failed_objects, key, failed)
        _set_or_remove(self.progress_updated, key, _timestamp(progress.get("updatedAt")))
        validation = status.get("validation") or {}
        differences = (
            sum(int(validation.get(k) or 0) for k in ("missing", "extra", "mismatched"))
            if validation.get("finishedAt")
            else None
        )
        _set_or_remove(self.validation_differences, key, differences)

    def reconciled(
        self,
        namespace: str,
        name: str,
        before: Mapping[str, Any],
        actions: Sequence[Action],
    ) -> None:
        """Counts what a reconcile changed: `before` is the status it planned from, `actions`
        what it executed (their status patches give the status it wrote)."""
        after = dict(before)
        for action in actions:
            if isinstance(action, SetStatus):
                after = apply_merge_patch(after, dict(action.patch))
        for entry in _added(before.get("history"), after.get("history")):
            labels = (str(entry.get("phase")), str(entry.get("result")))
            self._transition_labels.setdefault((namespace, name), set()).add(labels)
            self.transitions.labels(namespace, name, *labels).inc()
        for kind, result in job_outcomes(before.get("jobs"), after.get("jobs")):
            self.jobs_finished.labels(kind, result).inc()
        self.status_seen(namespace, name, after)

    def reconcile_failed(self, namespace: str, name: str) -> None:
        self.reconcile_errors.labels(namespace, name).inc()

    def forget(self, namespace: str, name: str) -> None:
        """A deleted DataMigration: its series go."""
        key = (namespace, name)
        for each_phase in PHASES:
            _remove(self.phase, (*key, each_phase))
        for each_state in STATES:
            _remove(self.state, (*key, each_state))
        for metric in self._keyed:
            _remove(metric, key)
        for labels in self._transition_labels.pop(key, set()):
            _remove(self.transitions, (*key, *labels))


def job_outcomes(
    before: Iterable[Mapping[str, Any]] | None, after: Iterable[Mapping[str, Any]] | None
) -> list[tuple[str, str]]:
    """(kind, result) of each Job record that ended between two status.jobs lists."""
    ended_before = {r.get("name") for r in before or () if r.get("state") in ENDED_JOB_STATES}
    outcomes = []
    for record in after or ():
        state, phase = record.get("state"), record.get("phase")
        if state in ENDED_JOB_STATES and record.get("name") not in ended_before:
            outcomes.append((KIND_BY_PHASE.get(str(phase), str(phase)), str(state)))
    return outcomes


def serve(metrics: OperatorMetrics, port: int, address: str = "0.0.0.0") -> WSGIServer:
    """`GET /metrics` (any path answers) on a daemon thread; OSError when the port is taken.
    Bound before kopf starts, so a taken port stops the operator at once with the reason."""
    server, _ = start_http_server(port, addr=address, registry=metrics.registry)
    return server


def _added(
    before: Sequence[Mapping[str, Any]] | None, after: Sequence[Mapping[str, Any]] | None
) -> list[Mapping[str, Any]]:
    """History entries in `after` that `before` lacks (history keeps its last 20 entries, so
    the old tail is found as a prefix of the new list)."""
    old, new = list(before or ()), list(after or ())
    if old == new:
        return []
    for start in range(len(old) + 1):
        tail = old[start:]
        if new[: len(tail)] == tail:
            return new[len(tail) :]
    return new


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _set_or_remove(gauge: Gauge, key: Key, value: float | None) -> None:
    if value is None:
        _remove(gauge, key)
    else:
        gauge.labels(*key).set(value)


def _remove(metric: Gauge | Counter, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):  # never set
        metric.remove(*labels)
