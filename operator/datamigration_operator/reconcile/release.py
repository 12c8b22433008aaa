"""What deleting a DataMigration does: the app's ConfigMap goes back to the value it held before
the migration claimed it (spec.app.onDelete: restore) or keeps its mode (keep); either way the
claim is released, so another DataMigration may drive the ConfigMap, and running Jobs stop.
Pure, like the planner: observation -> actions."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.names import owner_id, read_percent_key
from datamigration_operator.api.phases import MODES, Mode
from datamigration_operator.reconcile.actions import (
    Action,
    DeleteJobs,
    EmitEvent,
    ReleaseConfigMap,
    StampWorkloads,
)
from datamigration_operator.reconcile.observed import Observation


def plan_release(observation: Observation) -> list[Action]:
    obs = observation
    app, cm = obs.spec.app, obs.config_map
    name, key = app.config_map_ref.name, app.key
    actions: list[Action] = []
    active = tuple(sorted(j.name for j in obs.jobs if j.active))
    if active:
        actions.append(DeleteJobs(active))
        actions.append(
            EmitEvent("Normal", reasons.EVENT_JOBS_DELETED, f"deleted Jobs {', '.join(active)}")
        )
    if not cm.exists or cm.owner != owner_id(obs.namespace, obs.name):
        return actions  # not ours (any more): nothing to give back
    # a partial read share is a switch in progress: it ends with the migration's claim
    share_key = read_percent_key(key) if cm.read_share is not None else None
    if app.on_delete == "keep":
        actions.append(
            ReleaseConfigMap(name, key, restore=False, value=None, read_share_key=share_key)
        )
        message = f"ConfigMap {name} {key} stays {cm.value} (spec.app.onDelete: keep); released"
    else:
        # the original is "" when the key was absent; unknown (claimed by an older operator):
        # sqlite_only, the one mode that is always safe
        original = cm.original if cm.original is not None else "sqlite_only"
        value = original or None
        actions.append(
            ReleaseConfigMap(name, key, restore=True, value=value, read_share_key=share_key)
        )
        restored = _mode(original)
        workloads = tuple(w.ref for w in obs.workloads if w.exists and w.stamped_mode != restored)
        if workloads:
            actions.append(StampWorkloads(restored, workloads))
        message = (
            f"ConfigMap {name} {key}: {cm.value} -> {value or '(removed)'}, the value it held "
            "before this migration; released"
        )
    actions.append(EmitEvent("Normal", reasons.EVENT_CONFIGMAP_RELEASED, message))
    return actions


def _mode(value: str) -> Mode:
    """The mode an app runs with this value of the key: an absent or unknown one is
    sqlite_only (the dual-write library's default)."""
    return next((mode for mode in MODES if mode == value), "sqlite_only")
