"""The Job controller for one Job: creates its pods, counts their outcomes, keeps its status.

Each sync recomputes the status from the Job and the pods this controller runs, so a 409 on the
status write only means "sync again". Retries of failed pods back off exponentially from
`retry_base_delay` (the real controller starts at 10 s, which would make tests crawl).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from datamigration_sandbox.jobs.cluster_events import record_event
from datamigration_sandbox.jobs.job_status import (
    DEADLINE_EXCEEDED,
    POD_FAILURE_POLICY,
    PodCounts,
    Verdict,
    condition_status,
    deadline_remaining,
    decide,
    finished_type,
    format_time,
    match_pod_failure_policy,
    parse_time,
    pending_verdict,
    retry_delay,
    wanted_active,
    with_condition,
    with_counts,
    with_verdict,
)
from datamigration_sandbox.jobs.pod_manifest import pod_from_job, pod_name
from datamigration_sandbox.jobs.pod_worker import KubeletSettings, PodWorker, StopReason
from datamigration_sandbox.jobs.sync_loop import SyncLoop
from datamigration_sandbox.kube.status_errors import ApiError

_log = logging.getLogger(__name__)

_COMPONENT = "job-controller"


class JobController(SyncLoop):
    kind = "job"

    def __init__(
        self,
        settings: KubeletSettings,
        namespace: str,
        name: str,
        uid: str,
        on_closed: Callable[[JobController], None],
    ) -> None:
        self._settings = settings
        self._store = settings.store
        self._jobs = self._store.lookup("batch", "v1", "jobs")
        self._pods = self._store.lookup("", "v1", "pods")
        super().__init__(namespace, name, uid, on_closed)
        self.workers: dict[str, PodWorker] = {}
        self._delete_when_ended: set[str] = set()
        self._verdict: Verdict | None = None
        self._succeeded = 0
        self._failed = 0
        self._initialized = False
        self._last_failure: float | None = None
        self._precise_start: datetime | None = None
        self._create_failures = 0

    # --- control --------------------------------------------------------------------------

    def kick(self) -> None:
        """The cluster changed (nodes, claims, secrets...): re-check waiting pods and creation."""
        for worker in self.workers.values():
            worker.kick()
        self._wake.set()

    def pod_deleted(self, pod: str) -> None:
        worker = self.workers.get(pod)
        if worker is not None:
            worker.stop(StopReason.DELETED)

    def close(self) -> None:
        """The Job is gone: kill its processes and stop syncing."""
        self._closed = True
        for worker in self.workers.values():
            worker.stop(StopReason.DELETED)
        self._wake.set()

    async def halt(self) -> None:
        self._closed = True
        for worker in self.workers.values():
            await worker.halt()
        await self._cancel()

    def send_signal(self, sig: int) -> bool:
        return any(w.send_signal(sig) for w in self.workers.values() if w.active)

    # --- the sync loop --------------------------------------------------------------------

    def _sync(self) -> float | None:
        job = self._get_job()
        if job is None:
            self.close()
            return None
        if job["metadata"].get("deletionTimestamp"):
            return None  # the garbage collector removes the pods, which stops them
        now = datetime.now(UTC)
        spec, status = job["spec"], job.get("status") or {}
        if not self._initialized:
            self._initialized = True
            self._succeeded, self._failed = status.get("succeeded", 0), status.get("failed", 0)
            self._verdict = pending_verdict(job)
        if finished_type(job) is not None:
            return self._after_finish(job, now)
        self._account(spec)
        if spec.get("suspend") and self._verdict is None:
            return self._suspend(job, status, now)
        new = copy.deepcopy(status)
        if condition_status(status, "Suspended") == "True":
            new = with_condition(new, "Suspended", "JobResumed", "Job resumed", now, "False")
            new.pop("startTime", None)
            self._event(job, "Normal", "Resumed", "Job resumed", now)
        if "startTime" not in new:
            new["startTime"] = format_time(now)
            self._precise_start = now
        start = parse_time(new["startTime"])
        if self._precise_start is not None and format_time(self._precise_start) == new["startTime"]:
            # The stored time has second precision; the deadline counts from the real start.
            start = self._precise_start
        if self._verdict is None:
            restarts = sum(w.restart_count for w in self.workers.values() if w.outcome is None)
            self._verdict = decide(
                spec, self._counts(), restarts=restarts, start_time=start, now=now
            )
        if self._verdict is not None:
            return self._finish(job, new, now)
        timeout = self._create_pods(job, spec)
        self._write(job, with_counts(new, self._counts()))
        remaining = deadline_remaining(spec, start, now)
        if remaining is not None:
            # startTime has second precision: wake a little after the deadline, not before.
            timeout = min(timeout, remaining + 0.05) if timeout is not None else remaining + 0.05
        return timeout

    def _account(self, spec: dict[str, Any]) -> None:
        """Count pods that ended since the last sync; a FailJob rule match decides at once."""
        for worker in self.workers.values():
            if worker.outcome is None or worker.counted:
                continue
            worker.counted = True
            if worker.outcome == "Succeeded":
                self._succeeded += 1
                continue
            match = match_pod_failure_policy(spec.get("podFailurePolicy"), worker.final_pod)
            if match is not None and match.action == "Ignore":
                continue
            self._failed += 1
            self._last_failure = time.monotonic()
            if match is not None and match.action == "FailJob" and self._verdict is None:
                self._verdict = Verdict(False, POD_FAILURE_POLICY, match.message)
        for name in list(self._delete_when_ended):
            worker = self.workers[name]
            if worker.outcome is not None:
                self._delete_when_ended.discard(name)
                self._delete_pod(name)

    def _counts(self) -> PodCounts:
        running = [w for w in self.workers.values() if w.active]
        return PodCounts(
            active=len(running),
            ready=sum(1 for w in running if w.ready),
            succeeded=self._succeeded,
            failed=self._failed,
            terminating=sum(1 for w in self.workers.values() if w.terminating),
        )

    def _finish(self, job: dict[str, Any], status: dict[str, Any], now: datetime) -> float | None:
        verdict = self._verdict
        assert verdict is not None
        reason = (
            StopReason.DEADLINE if verdict.reason == DEADLINE_EXCEEDED else StopReason.TERMINATE
        )
        for worker in self.workers.values():
            if worker.active:
                worker.stop(reason)
                if reason is StopReason.TERMINATE:
                    self._delete_when_ended.add(worker.name)
                if verdict.succeeded:
                    worker.counted = True  # surplus pods of a complete Job are not failures
        counts = self._counts()
        final = counts.active == 0 and counts.terminating == 0 and not self._delete_when_ended
        new = with_verdict(with_counts(status, counts), verdict, now, final=final)
        if not self._write(job, new) or not final:
            return None
        if verdict.succeeded:
            self._event(job, "Normal", "Completed", "Job completed", now)
        else:
            self._event(job, "Warning", verdict.reason, verdict.message, now)
        return 0.0  # sync again: the finished Job may have a TTL

    def _suspend(self, job: dict[str, Any], status: dict[str, Any], now: datetime) -> float | None:
        for worker in self.workers.values():
            if worker.active:
                worker.counted = True  # pods removed by suspension are not failures
                worker.stop(StopReason.TERMINATE)
                self._delete_when_ended.add(worker.name)
        new = with_counts(status, self._counts())
        if condition_status(status, "Suspended") != "True":
            new = with_condition(new, "Suspended", "JobSuspended", "Job suspended", now)
            self._event(job, "Normal", "Suspended", "Job suspended", now)
        self._write(job, new)
        return None

    def _after_finish(self, job: dict[str, Any], now: datetime) -> float | None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            self._closed = True
            return None
        status = job.get("status") or {}
        finished_at = status.get("completionTime") or next(
            (
                c.get("lastTransitionTime")
                for c in status.get("conditions") or []
                if c.get("type") == "Failed"
            ),
            None,
        )
        elapsed = (now - parse_time(finished_at)).total_seconds() if finished_at else 0.0
        if elapsed < float(ttl):
            return float(ttl) - elapsed
        with contextlib.suppress(ApiError):
            self._store.delete(
                self._jobs,
                self.namespace,
                self.name,
                propagation_policy="Background",
                preconditions={"uid": self.uid},
            )
        self._closed = True
        return None

    def _create_pods(self, job: dict[str, Any], spec: dict[str, Any]) -> float | None:
        counts = self._counts()
        missing = wanted_active(spec, counts) - counts.active
        if missing <= 0:
            return None
        base, cap = self._settings.retry_base_delay, self._settings.retry_max_delay
        if self._last_failure is not None:
            wait = retry_delay(self._failed, base, cap) - (time.monotonic() - self._last_failure)
            if wait > 0:
                return wait
        for _ in range(missing):
            if not self._create_pod(job):
                self._create_failures += 1
                return retry_delay(self._create_failures, base, cap)
        self._create_failures = 0
        return None

    def _create_pod(self, job: dict[str, Any]) -> bool:
        now = datetime.now(UTC)
        name = pod_name(self.name)
        pod = pod_from_job(job, name)
        account = pod["spec"]["serviceAccountName"]
        try:
            if account != "default":  # the ServiceAccount admission plugin
                self._check_service_account(name, account)
            created = self._store.create(self._pods, self.namespace, pod)
        except ApiError as exc:
            self._event(job, "Warning", "FailedCreate", f"Error creating: {exc.message}", now)
            return False
        worker = PodWorker(self._settings, created, self.wake)
        self.workers[name] = worker
        worker.start()
        self._event(job, "Normal", "SuccessfulCreate", f"Created pod: {name}", now)
        return True

    def _check_service_account(self, pod: str, account: str) -> None:
        accounts = self._store.lookup("", "v1", "serviceaccounts")
        try:
            self._store.get(accounts, self.namespace, account)
        except ApiError as exc:
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{pod}" is forbidden: error looking up service account '
                f'{self.namespace}/{account}: serviceaccount "{account}" not found',
            ) from exc

    def _delete_pod(self, name: str) -> None:
        with contextlib.suppress(ApiError):
            self._store.delete(self._pods, self.namespace, name)

    def _write(self, job: dict[str, Any], status: dict[str, Any]) -> bool:
        """Writes the status; False (and a re-sync) when the Job changed meanwhile."""
        if status == job.get("status"):
            return True
        body = copy.deepcopy(job)
        body["status"] = status
        try:
            self._store.update(self._jobs, self.namespace, self.name, body, subresource="status")
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
            self._wake.set()
            return False
        return True

    def _get_job(self) -> dict[str, Any] | None:
        try:
            job = self._store.get(self._jobs, self.namespace, self.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return job if job["metadata"].get("uid") == self.uid else None

    def _event(
        self, job: dict[str, Any], event_type: str, reason: str, message: str, now: datetime
    ) -> None:
        record_event(self._store, job, event_type, reason, message, _COMPONENT, now)
