"""docs/gitops: the Argo CD health check (run in Lua, as Argo CD runs it) gives each DataMigration
state its health, and the ignore lists name exactly what the operator writes into the app's
objects (derived from the builders' patches, not restated)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamigration_operator.api import reasons
from datamigration_operator.api.names import DEFAULT_CONFIGMAP_KEY
from datamigration_operator.api.phases import State
from datamigration_operator.builders.configmap import mode_patch
from datamigration_operator.builders.workloads import stamp_patch

lupa = pytest.importorskip("lupa")

GITOPS = Path(__file__).resolve().parents[3] / "docs" / "gitops"
HEALTH_LUA = GITOPS / "argocd" / "datamigration-health.lua"
HEALTH_KEY = "resource.customizations.health.migrations.gremlins.ai_DataMigration"
GATE_REASONS = (
    reasons.MIGRATION_REQUIRED,
    reasons.DUAL_WRITE_REQUIRED,
    reasons.VALIDATION_REQUIRED,
    reasons.VALIDATION_STALE,
    reasons.OUTBOX_NOT_DRAINED,
)
INPUT_REASONS = (
    reasons.CONFIGMAP_NOT_FOUND,
    reasons.CONFIGMAP_OWNED_BY_OTHER,
    reasons.CONFIGMAP_UNKNOWN_MODE,
    reasons.COLLECTION_OWNED_BY_OTHER,
    reasons.WORKLOAD_NOT_FOUND,
    reasons.SECRET_NOT_FOUND,
    reasons.CLAIM_NOT_FOUND,
    reasons.JOB_IMAGE_NOT_ALLOWED,
    reasons.JOB_SERVICE_ACCOUNT_NOT_ALLOWED,
)


def health(obj: Mapping[str, Any], script: str | None = None) -> dict[str, str]:
    """Runs the check the way Argo CD does: the script body with a global `obj`, returning a
    table with status and message."""
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = _to_lua(runtime, obj)
    source = script if script is not None else HEALTH_LUA.read_text()
    result = runtime.execute(source)
    return {key: result[key] for key in ("status", "message") if result[key] is not None}


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def dm(
    state: State | None,
    *,
    phase: str = "validate",
    generation: int = 3,
    observed: int = 3,
    message: str = "",
    ready_reason: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "metadata": {"name": "chat-history", "namespace": "chat", "generation": generation},
        "spec": {"phase": phase},
    }
    if state is not None:
        status: dict[str, Any] = {"observedGeneration": observed, "state": state, "phase": phase}
        if message:
            status["message"] = message
        if ready_reason:
            status["conditions"] = [
                {"type": "Validated", "status": "False", "reason": "NotStarted"},
                {"type": "Ready", "status": "False", "reason": ready_reason},
            ]
        obj["status"] = status
    return obj


# -- health -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("Pending", "Progressing"),
        ("Running", "Progressing"),
        ("Succeeded", "Healthy"),
        ("Failed", "Degraded"),
    ],
)
def test_states_map_to_argo_health(state: State, expected: str) -> None:
    result = health(dm(state, message="copy Job chat-history-migrate-1 running"))
    assert result["status"] == expected
    assert result["message"] == f"validate: {state}: copy Job chat-history-migrate-1 running"


@pytest.mark.parametrize("reason", GATE_REASONS)
def test_blocked_by_a_gate_is_suspended_with_the_operators_message(reason: str) -> None:
    message = "switch needs a passing validation (Validated=True)"
    result = health(dm("Blocked", phase="switch", message=message, ready_reason=reason))
    assert result == {"status": "Suspended", "message": f"switch: Blocked: {message}"}


@pytest.mark.parametrize(
    "reason",
    [
        *INPUT_REASONS,
        # switch after a validation that failed or proves nothing
        reasons.VALIDATION_MISMATCH,
        reasons.VALIDATION_NOT_FROM_ITS_JOB,
        reasons.OUTBOX_NOT_DRAINING,
        # switch refused on the validate Job's read-performance figures
        reasons.READ_PERFORMANCE_BELOW_TARGET,
        reasons.READ_PERFORMANCE_NOT_MEASURED,
        "SomethingNew",
    ],
)
def test_blocked_by_a_missing_or_refused_input_is_degraded(reason: str) -> None:
    result = health(dm("Blocked", message="ConfigMap chat-app not found", ready_reason=reason))
    assert result["status"] == "Degraded"
    assert "ConfigMap chat-app not found" in result["message"]


def test_every_blocked_reason_is_classified() -> None:
    """A new Blocked reason in api/reasons.py must be placed in one of the two lists."""
    names = [n for n in vars(reasons) if n.isupper()]
    section = names[
        names.index("MIGRATION_REQUIRED") : names.index("JOB_SERVICE_ACCOUNT_NOT_ALLOWED") + 1
    ]
    blocked = {vars(reasons)[n] for n in section}
    assert blocked == set(GATE_REASONS) | set(INPUT_REASONS)


def test_before_the_operator_caught_up_it_is_progressing() -> None:
    assert health(dm(None))["status"] == "Progressing"
    stale = health(dm("Succeeded", phase="switch", generation=4, observed=3))
    assert stale == {
        "status": "Progressing",
        "message": "Waiting for the operator to observe phase switch",
    }
    # an old Succeeded must not read Healthy right after a commit moved spec.phase
    assert health(dm("Succeeded", generation=4, observed=4))["status"] == "Healthy"


def test_an_unknown_state_is_unknown() -> None:
    assert health(dm("Paused"))["status"] == "Unknown"  # type: ignore[arg-type]


def test_argocd_cm_embeds_the_script_verbatim() -> None:
    config = yaml.safe_load((GITOPS / "argocd" / "argocd-cm.yaml").read_text())
    assert config["kind"] == "ConfigMap"
    embedded = config["data"][HEALTH_KEY]
    assert embedded == HEALTH_LUA.read_text()
    assert health(dm("Failed"), embedded)["status"] == "Degraded"


# -- what the operator writes vs. what the GitOps tools are told to ignore -------------------


def _pointers(patch: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in patch.items():
        path = f"{prefix}/{key.replace('~', '~0').replace('/', '~1')}"
        if isinstance(value, Mapping):
            yield from _pointers(value, path)
        else:
            yield path


def _written_by_operator() -> dict[str, set[str]]:
    configmap = set(
        _pointers(mode_patch(DEFAULT_CONFIGMAP_KEY, "dual_write", "", "chat/x", claim=True))
    )
    workload = set(_pointers(stamp_patch("dual_write")))
    return {"ConfigMap": configmap, "Deployment": workload}


def test_argocd_ignore_differences_cover_what_the_operator_writes() -> None:
    app = yaml.safe_load((GITOPS / "argocd" / "application.yaml").read_text())
    ignored = {
        entry["kind"]: set(entry["jsonPointers"]) for entry in app["spec"]["ignoreDifferences"]
    }
    assert ignored == _written_by_operator()
    # without it a sync (not only the diff) would write Git's value back
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_flux_drift_detection_ignores_what_the_operator_writes() -> None:
    docs = list(yaml.safe_load_all((GITOPS / "flux" / "operator-helmrelease.yaml").read_text()))
    (app,) = [d for d in docs if d["kind"] == "HelmRelease" and d["metadata"]["name"] == "chat"]
    ignored = {
        rule["target"]["kind"]: set(rule["paths"])
        for rule in app["spec"]["driftDetection"]["ignore"]
    }
    assert ignored == _written_by_operator()
    configmap = yaml.safe_load((GITOPS / "flux" / "app-configmap.yaml").read_text())
    assert configmap["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/ssa"] == "IfNotPresent"
    assert DEFAULT_CONFIGMAP_KEY in configmap["data"]
