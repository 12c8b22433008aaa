"""RollbackReady: before reads move to Weaviate, the way back must be known to work.

A rollback writes sqlite_only and the app reads and writes SQLite alone again; it loses
nothing only if SQLite really is the app's live, written database, and it is fast only if a
mode change reaches the pods fast. Four parts, each from what the operator can observe:

- The outbox drains: a Job's last look at the app's database (status.outbox: the validate Job
  takes one after its verdict, the sync Job one too) found an app process holding the drain
  lease and the oldest waiting entry within spec.rollback.maxOutboxLag. The look must be from
  the current dual-write epoch and younger than spec.rollback.maxObservationAge: the operator
  cannot read the file itself, so an older look says nothing about now; run validate again.
- SQLite is the app's live, written file: the drain lease is a row in that file that the app's
  drainer rewrites (a write transaction) every ttl/4 and stamps with the stop time on a clean
  stop, so its expiry is the latest app write we can see there without the app having to
  write any data. An expiry after the dual-write epoch began proves app writes were landing
  in this very file after dual-write began; an expiry before it means nothing of the app has
  written there since (a stale copy, a wrong spec.source.path, or an app without the library).
- The ConfigMap records what it held before the migration (the original-mode annotation the
  operator writes when it claims the key, which deletion restores).
- The last mode change reached every pod of spec.app.workloads (status.mode changedAt ->
  appliedAt) within spec.rollback.maxPropagation: a rollback's change travels the same way.

False names the first part that fails (its reason, and what to do); Unknown means nothing
failed but a part cannot be observed (no listed workloads, no outbox in the database), which
the message says; True only when every part was seen to hold. switch is Blocked on False.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from datamigration_operator.api import reasons
from datamigration_operator.api.durations import parse_duration
from datamigration_operator.api.names import ANNOTATION_CONFIGMAP_ORIGINAL
from datamigration_operator.api.reasons import ConditionStatus
from datamigration_operator.api.status import ModeStatus, OutboxStatus
from datamigration_operator.reconcile.actions import ApplyMode
from datamigration_operator.reconcile.draft import Draft
from datamigration_operator.reconcile.observed import Observation, ObservedConfigMap

_RUN_VALIDATE = "run validate again (bump spec.rerun in validate, or set spec.phase to validate)"


@dataclass(frozen=True)
class Readiness:
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class _Part:
    """One part's finding: a failure (reason), a part that cannot be observed, or a pass."""

    message: str
    failure: str | None = None
    unobserved: bool = False


def rollback_readiness(
    obs: Observation,
    *,
    mode: ModeStatus,
    config_map: ObservedConfigMap,
    me: str,
    now: datetime,
    reads_switched: bool = False,
) -> Readiness:
    """The RollbackReady condition for `obs` with the app's `mode` (its dualWriteSince is the
    current dual-write epoch) and `config_map` as they stand (or will, once the plan's actions
    took effect); `me`: this DataMigration's owner id. `reads_switched`: weaviate_primary is
    in the ConfigMap, so the switch gate was passed and a look that aged is Unknown, not a
    reason to validate again (which would move reads back to SQLite)."""
    parts = (
        _outbox_part(obs, mode.dual_write_since, now, reads_switched),
        _config_map_part(config_map, obs.spec.app.config_map_ref.name, me),
        _propagation_part(obs, mode, now),
    )
    failed = [p for p in parts if p.failure is not None]
    if failed:
        assert failed[0].failure is not None
        return Readiness("False", failed[0].failure, "; ".join(p.message for p in failed))
    unobserved = [p for p in parts if p.unobserved]
    if unobserved:
        observed = "; ".join(p.message for p in parts if not p.unobserved)
        return Readiness(
            "Unknown",
            reasons.ROLLBACK_PATH_UNOBSERVED,
            f"{'; '.join(p.message for p in unobserved)} (seen to hold: {observed})",
        )
    return Readiness("True", reasons.ROLLBACK_PATH_READY, "; ".join(p.message for p in parts))


def _outbox_part(
    obs: Observation, epoch: datetime | None, now: datetime, reads_switched: bool
) -> _Part:
    """Drain and source together: both are read from one look at the app's database."""
    if epoch is None:
        return _Part(
            "the app is not dual-writing yet, so no look at its outbox counts",
            reasons.OUTBOX_NOT_OBSERVED,
        )
    policy = obs.spec.rollback
    max_age = parse_duration(policy.max_observation_age)
    look = obs.status.outbox
    if look is None or look.observed_at is None or look.observed_at < epoch:
        report = obs.status.validation
        if (
            report is not None
            and report.finished_at is not None
            and epoch <= report.finished_at
            and report.reason is None
            and report.outbox_mark is None
        ):
            return _Part(
                f"validate Job {report.job} found no dual-write outbox in spec.source's "
                "database, so whether the app drains and writes there cannot be observed "
                "(the app does not use the dual-write library?)",
                unobserved=True,
            )
        when = (
            ""
            if look is None or look.observed_at is None
            else f" (the last look, at {look.observed_at.isoformat()}, was before dual-write "
            f"began at {epoch.isoformat()})"
        )
        return _Part(
            f"no Job has looked at the app's outbox in this dual-write epoch{when}; "
            f"{_RUN_VALIDATE}",
            reasons.OUTBOX_NOT_OBSERVED,
        )
    seen = f"Job {look.job} at {look.observed_at.isoformat()}"
    if now - look.observed_at > max_age:
        if reads_switched:
            return _Part(
                f"the app's outbox was last looked at by {seen}, longer ago than "
                f"spec.rollback.maxObservationAge {policy.max_observation_age}; reads are "
                "switched, so only the next sync or validate Job's look tells again",
                unobserved=True,
            )
        return _Part(
            f"the app's outbox was last looked at by {seen}, longer ago than "
            f"spec.rollback.maxObservationAge {policy.max_observation_age}; {_RUN_VALIDATE}",
            reasons.OUTBOX_NOT_OBSERVED,
        )
    return _drain_part(look, seen, epoch, obs)


def _drain_part(look: OutboxStatus, seen: str, epoch: datetime, obs: Observation) -> _Part:
    assert look.observed_at is not None
    backlog = f"{look.depth} entries waiting, the oldest {look.oldest_age_seconds:.0f} s old"
    expires = look.lease_expires_at
    live = look.lease_holder is not None or (expires is not None and expires > look.observed_at)
    if not live:
        file = f"{obs.spec.source.claim_name}/{obs.spec.source.path}"
        if expires is not None and expires < epoch:
            return _Part(
                f"the last app write {seen} found in {file} is a drain lease heartbeat from "
                f"{expires.isoformat()}, before dual-write began at {epoch.isoformat()}: no app "
                "process has written to that file since; point spec.source at the database the "
                "app writes (not a copy) and make sure the app runs the dual-write library",
                reasons.SOURCE_NOT_CURRENT,
            )
        stopped = (
            "no app process ever held the drain lease"
            if expires is None
            else f"the drain lease lapsed at {expires.isoformat()}"
        )
        return _Part(
            f"the app's outbox drainer is not running ({stopped}, seen by {seen}; {backlog}): "
            f"start it (an app pod with the dual-write library running), then {_RUN_VALIDATE}",
            reasons.DRAINER_NOT_RUNNING,
        )
    max_lag = parse_duration(obs.spec.rollback.max_outbox_lag)
    if look.oldest_age_seconds > max_lag.total_seconds():
        return _Part(
            f"the app's outbox drain is behind ({backlog}, seen by {seen}; "
            f"spec.rollback.maxOutboxLag {obs.spec.rollback.max_outbox_lag}): check the app's "
            f"drainer and Weaviate, then {_RUN_VALIDATE}",
            reasons.OUTBOX_LAGGING,
        )
    holder = look.lease_holder or "an app process"
    return _Part(f"{holder} drains the outbox and writes to spec.source's file ({backlog}, {seen})")


def _config_map_part(cm: ObservedConfigMap, name: str, me: str) -> _Part:
    if cm.exists and cm.owner == me and cm.original is not None:
        was = repr(cm.original) if cm.original else "no key"
        return _Part(f"ConfigMap {name} records its value before the migration ({was})")
    if not cm.exists or cm.owner != me:
        return _Part(
            f"ConfigMap {name} is not claimed by this DataMigration yet, so nothing records "
            "its value before the migration; the operator claims it when it first writes a mode",
            reasons.PREVIOUS_MODE_NOT_RECORDED,
        )
    return _Part(
        f"ConfigMap {name} lacks the annotation {ANNOTATION_CONFIGMAP_ORIGINAL}, the value "
        "its key held before the migration; set it back (e.g. `kubectl annotate configmap "
        f"{name} {ANNOTATION_CONFIGMAP_ORIGINAL}=sqlite_only`)",
        reasons.PREVIOUS_MODE_NOT_RECORDED,
    )


def _propagation_part(obs: Observation, mode: ModeStatus, now: datetime) -> _Part:
    workloads = [w for w in obs.workloads if w.exists]
    if not workloads:
        return _Part(
            "how fast a mode change reaches the pods cannot be observed: spec.app.workloads "
            "lists none (a mounted ConfigMap alone refreshes on the kubelet's sync, 60-90 s); "
            "list the app's Deployments or StatefulSets",
            unobserved=True,
        )
    goal_text = obs.spec.rollback.max_propagation
    goal = parse_duration(goal_text)
    names = ", ".join(f"{w.ref.kind} {w.ref.name}" for w in workloads)
    if mode.changed_at is None:
        return _Part(
            f"no mode change of {names} was timed (the ConfigMap already held "
            f"{mode.desired or 'its mode'} when the operator claimed it)",
            unobserved=True,
        )
    if mode.applied_at is None or mode.applied != mode.desired:
        waited = (now - mode.changed_at).total_seconds()
        slow = waited > goal.total_seconds()
        return _Part(
            f"mode {mode.desired} was written {waited:.0f} s ago and has not reached every pod "
            f"of {names} yet (spec.rollback.maxPropagation {goal_text})"
            + ("; a rollback would be as slow: speed up the rollout" if slow else ""),
            reasons.MODE_PROPAGATION_SLOW if slow else reasons.MODE_PROPAGATION_PENDING,
        )
    took = (mode.applied_at - mode.changed_at).total_seconds()
    if took > goal.total_seconds():
        return _Part(
            f"the last mode change ({mode.desired}) took {took:.1f} s to reach every pod of "
            f"{names}, over spec.rollback.maxPropagation {goal_text}: a rollback would take as "
            "long; speed up the rollout (maxSurge, readiness probe) or raise the goal",
            reasons.MODE_PROPAGATION_SLOW,
        )
    return _Part(
        f"the last mode change ({mode.desired}) reached every pod of {names} in {took:.1f} s "
        f"(goal {goal_text})"
    )


def planned_readiness(draft: Draft) -> Readiness:
    """RollbackReady as it stands once the actions planned so far took effect, so planning
    again afterwards finds nothing to change: the mode as the draft records it, and the
    ConfigMap as its ApplyMode leaves it (a claim records the value before it)."""
    cm = draft.obs.config_map
    for action in draft.actions:
        if isinstance(action, ApplyMode):
            original = (action.previous or "") if action.claim else cm.original
            cm = replace(cm, exists=True, value=action.mode, owner=draft.me, original=original)
    return rollback_readiness(
        draft.obs,
        mode=draft.mode,
        config_map=cm,
        me=draft.me,
        now=draft.now,
        reads_switched=cm.value == "weaviate_primary" and cm.owner == draft.me,
    )


def record_rollback_readiness(draft: Draft) -> None:
    """Sets RollbackReady (every reconcile of dual-write, validate and switch)."""
    found = planned_readiness(draft)
    draft.condition(reasons.ROLLBACK_READY, found.status, found.reason, found.message)
