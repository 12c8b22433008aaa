"""Bad inputs, one per row: each ends in an admission error (422 naming the field) or in a
Blocked/Failed status naming the problem; nothing else changes (the ConfigMap keeps its data
and gets none of our annotations, no Job beyond the ones the row expects), and the operator
keeps serving a healthy DataMigration in another namespace."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from datamigration_operator.api.names import ANNOTATION_CONFIGMAP_OWNER
from tests.integration.operator_acceptance.conftest import (
    Operators,
    Sandbox,
    condition,
    eventually,
    manifest,
)

TIMEOUT = 30.0
HEALTHY_NS = "healthy"
API_KEY_REF = {"name": "weaviate", "key": "api-key"}


@dataclass(frozen=True)
class Admission:
    """The API server refuses the create (or the patch) with this code and these words."""

    field: str
    words: str
    code: int = 422


@dataclass(frozen=True)
class Refused:
    """The operator sets this state and Ready reason, with these words in status.message."""

    state: str
    reason: str
    words: str
    jobs: int = 0
    """Jobs that exist afterwards (a Job that itself found the problem)."""
    claims_config_map: bool = False
    """Phase migrate ran before the problem showed: our owner annotations are on the ConfigMap
    (its data is still untouched)."""


@dataclass(frozen=True)
class Case:
    id: str
    outcome: Admission | Refused
    spec: dict[str, Any] = field(default_factory=dict)
    """Overrides of the valid manifest's spec."""
    name: str = "dm"
    config_map: str | None = "sqlite_only"
    """Value of the mode key; None: no ConfigMap at all."""
    config_map_owner: str | None = None
    tables: tuple[str, ...] = ("items", "tags")
    claim: bool = True
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    patch: dict[str, Any] | None = None
    """Applied after the DataMigration reached this state (created with a valid spec)."""
    patch_after: str = "Succeeded"
    strict: bool = False
    """Create with fieldValidation=Strict, as kubectl does."""


def _collections(count: int) -> list[dict[str, str]]:
    return [{"table": f"t{i}", "collection": f"C{i}"} for i in range(count)]


def _workloads(count: int) -> dict[str, Any]:
    workloads = [{"kind": "Deployment", "name": f"web-{i}"} for i in range(count)]
    return {"configMapRef": {"name": "app"}, "workloads": workloads}


APP = {"configMapRef": {"name": "app"}}
CASES = [
    # -- admission: names ----------------------------------------------------------------------
    Case("dm-name-not-dns", Admission("metadata.name", "RFC 1123"), name="Bad_Name"),
    Case(
        "configmap-name-not-dns",
        Admission("spec.app.configMapRef.name", "should match"),
        spec={"app": {"configMapRef": {"name": "App_Config"}}},
    ),
    Case(
        "claim-name-not-dns",
        Admission("spec.source.claimName", "should match"),
        spec={"source": {"claimName": "my data", "path": "app.db"}},
    ),
    Case(
        "secret-name-not-dns",
        Admission("spec.target.apiKeySecretRef.name", "should match"),
        spec={
            "target": {
                "http": {"host": "127.0.0.1", "port": 8080},
                "grpc": {"host": "127.0.0.1", "port": 50051},
                "apiKeySecretRef": {"name": "Weaviate!", "key": "api-key"},
            }
        },
    ),
    Case(
        # any name SQLite takes is a table name (quoted wherever it reaches SQL); an empty one
        # is not
        "table-empty",
        Admission("spec.collections[0].table", "should match"),
        spec={"collections": [{"table": "", "collection": "Item"}]},
    ),
    Case(
        "collection-lower-case",
        Admission("spec.collections[0].collection", "should match"),
        spec={"collections": [{"table": "items", "collection": "item"}]},
    ),
    Case(
        "path-escapes-claim",
        Admission("spec.source.path", "should match"),
        spec={"source": {"claimName": "data", "path": "../../etc/passwd"}},
    ),
    # -- admission: sizes ----------------------------------------------------------------------
    Case(
        "too-many-collections",
        Admission("spec.collections", "must have at most 32 items"),
        spec={"collections": _collections(33)},
    ),
    Case(
        "too-many-workloads",
        Admission("spec.app.workloads", "must have at most 16 items"),
        spec={"app": _workloads(17)},
    ),
    Case(
        # its `<key>_read_percent` twin must fit a ConfigMap key's 253 characters too
        "configmap-key-too-long",
        Admission("spec.app.key", "may not be more than 240 bytes"),
        spec={"app": {**APP, "key": "k" * 241}},
    ),
    Case(
        "no-collections",
        Admission("spec.collections", "or set discover.tables: all"),
        spec={"collections": []},
    ),
    # -- admission: types and ranges -----------------------------------------------------------
    Case(
        "port-is-a-string",
        Admission("spec.target.http.port", "must be of type integer"),
        spec={
            "target": {
                "http": {"host": "127.0.0.1", "port": "8080"},
                "grpc": {"host": "127.0.0.1", "port": 50051},
            }
        },
    ),
    Case(
        "port-out-of-range",
        Admission("spec.target.grpc.port", "less than or equal to 65535"),
        spec={
            "target": {
                "http": {"host": "127.0.0.1", "port": 8080},
                "grpc": {"host": "127.0.0.1", "port": 70000},
            }
        },
    ),
    Case(
        "snapshot-is-a-string",
        Admission("spec.source.snapshot", "must be of type boolean"),
        spec={"source": {"claimName": "data", "path": "app.db", "snapshot": "yes"}},
    ),
    Case(
        "negative-rerun", Admission("spec.rerun", "greater than or equal to 0"), spec={"rerun": -1}
    ),
    Case(
        "negative-rate-limit",
        Admission("spec.jobTemplate.objectsPerSecond", "greater than or equal to 0"),
        spec={"jobTemplate": {"objectsPerSecond": -5}},
    ),
    Case(
        "zero-batch-size",
        Admission("spec.jobTemplate.batchSize", "greater than or equal to 1"),
        spec={"jobTemplate": {"batchSize": 0}},
    ),
    Case(
        "negative-max-mismatches",
        Admission("spec.validation.maxMismatches", "greater than or equal to 0"),
        spec={"validation": {"maxMismatches": -1}},
    ),
    Case(
        "workload-kind-unsupported",
        Admission("spec.app.workloads[0].kind", "Unsupported value"),
        spec={"app": {**APP, "workloads": [{"kind": "DaemonSet", "name": "web"}]}},
    ),
    Case(
        "unknown-field-strict",
        Admission("spec.batchSize", "unknown field", code=400),
        spec={"batchSize": 100},
        strict=True,
    ),
    Case(
        "missing-config-map-ref",
        Admission("spec.app.configMapRef", "Required value"),
        spec={"app": {"key": "migration_mode"}},
    ),
    # -- admission: durations ------------------------------------------------------------------
    Case(
        "bad-duration-max-age",
        Admission("spec.validation.maxAge", "should match"),
        spec={"validation": {"maxAge": "1 hour"}},
    ),
    Case(
        "bad-duration-recheck-delay",
        Admission("spec.validation.recheckDelay", "should match"),
        spec={"validation": {"recheckDelay": "-5s"}},
    ),
    # -- admission: cross-field rules (CEL) ----------------------------------------------------
    Case(
        "table-mapped-twice",
        Admission("spec.collections[1]", "Duplicate value"),
        spec={
            "collections": [
                {"table": "items", "collection": "Item"},
                {"table": "items", "collection": "Item2"},
            ]
        },
    ),
    Case(
        "collection-used-twice",
        Admission("spec.collections", "each Weaviate collection may appear only once"),
        spec={
            "collections": [
                {"table": "items", "collection": "Item"},
                {"table": "tags", "collection": "Item"},
            ]
        },
    ),
    Case(
        "reference-to-unmapped-table",
        Admission("spec.collections", "targetTable must be a table listed"),
        spec={
            "collections": [
                {
                    "table": "items",
                    "collection": "Item",
                    "references": [{"column": "owner_id", "targetTable": "users"}],
                }
            ]
        },
    ),
    Case(
        "vector-column-is-id",
        Admission("spec.collections", "vectorColumn must differ from idColumn"),
        spec={"collections": [{"table": "items", "collection": "Item", "vectorColumn": "id"}]},
    ),
    # -- admission: phase jumps ----------------------------------------------------------------
    Case(
        "created-in-switch",
        Admission("spec.phase", "must start with spec.phase: migrate"),
        spec={"phase": "switch"},
    ),
    Case("unknown-phase", Admission("spec.phase", "Unsupported value"), spec={"phase": "done"}),
    Case(
        "jump-migrate-to-switch",
        Admission("spec.phase", "cannot change from migrate to switch"),
        patch={"spec": {"phase": "switch"}},
    ),
    Case(
        "jump-migrate-to-validate",
        Admission("spec.phase", "cannot change from migrate to validate"),
        patch={"spec": {"phase": "validate"}},
    ),
    # -- the operator refuses ------------------------------------------------------------------
    # The CRD types quantities as int-or-string without a pattern: our model catches it.
    Case(
        "bad-quantity",
        Refused("Failed", "InvalidSpec", "spec.jobTemplate.resources.limits.memory"),
        spec={"jobTemplate": {"resources": {"limits": {"memory": "lots"}}}},
    ),
    Case(
        "missing-config-map",
        Refused("Blocked", "ConfigMapNotFound", "ConfigMap app (spec.app.configMapRef) not found"),
        config_map=None,
    ),
    Case(
        "config-map-unknown-mode",
        Refused("Blocked", "ConfigMapUnknownMode", "holds 'mysql_only'"),
        config_map="mysql_only",
    ),
    Case(
        "config-map-owned-by-other",
        Refused("Blocked", "ConfigMapOwnedByOther", "owned by DataMigration elsewhere/other"),
        config_map_owner="elsewhere/other",
    ),
    Case(
        "missing-claim",
        Refused("Blocked", "ClaimNotFound", "PersistentVolumeClaim data (spec.source.claimName)"),
        claim=False,
    ),
    Case(
        "missing-api-key-secret",
        Refused("Blocked", "SecretNotFound", "Secret weaviate (spec.target.apiKeySecretRef)"),
        spec={
            "target": {
                "http": {"host": "127.0.0.1", "port": 8080},
                "grpc": {"host": "127.0.0.1", "port": 50051},
                "apiKeySecretRef": API_KEY_REF,
            }
        },
    ),
    Case(
        "api-key-secret-without-key",
        Refused("Blocked", "SecretNotFound", "has no key api-key"),
        spec={
            "target": {
                "http": {"host": "127.0.0.1", "port": 8080},
                "grpc": {"host": "127.0.0.1", "port": 50051},
                "apiKeySecretRef": API_KEY_REF,
            }
        },
        secrets={"weaviate": {"token": "not-the-key"}},
    ),
    Case(
        "missing-ca-secret",
        Refused("Blocked", "SecretNotFound", "Secret weaviate-ca (spec.target.tls.caSecretRef)"),
        spec={
            "target": {
                "http": {"host": "127.0.0.1", "port": 8080},
                "grpc": {"host": "127.0.0.1", "port": 50051},
                "tls": {"enabled": True, "caSecretRef": {"name": "weaviate-ca", "key": "ca.crt"}},
            }
        },
    ),
    Case(
        "missing-workload",
        Refused("Blocked", "WorkloadNotFound", "Deployment web not found"),
        spec={"app": {**APP, "workloads": [{"kind": "Deployment", "name": "web"}]}},
    ),
    Case(
        "unknown-table",
        Refused("Failed", "JobFailed", "exit code 42", jobs=1, claims_config_map=True),
        tables=("items",),
    ),
    Case(
        "dual-write-after-failed-copy",
        Refused("Blocked", "MigrationRequired", "dual-write needs Migrated=True", jobs=1),
        tables=("items",),
        patch={"spec": {"phase": "dual-write"}},
        patch_after="Failed",
    ),
]


@pytest.fixture(scope="module")
def healthy(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], None]]:
    """The operator (one for the module) and a healthy DataMigration; the yielded check bumps
    the healthy one's spec and waits until the operator reconciled that generation."""
    operators = Operators(sandbox, tmp_path_factory.mktemp("operator"), [])
    operators.start()
    ns = sandbox.namespace(HEALTHY_NS)
    sandbox.config_map(ns)
    sandbox.claim(ns)
    sandbox.create_dm(ns, manifest())
    eventually(
        lambda: sandbox.status(ns, "dm").get("state") == "Succeeded", "a healthy migrate", TIMEOUT
    )
    bumps = iter(range(1, 1000))

    def still_serving() -> None:
        patched = sandbox.patch_dm(
            ns, "dm", {"spec": {"validation": {"maxMismatches": next(bumps)}}}
        )
        generation = patched["metadata"]["generation"]
        eventually(
            lambda: sandbox.status(ns, "dm").get("observedGeneration") == generation,
            "the healthy DataMigration to be reconciled",
            TIMEOUT,
        )
        assert sandbox.status(ns, "dm")["state"] == "Succeeded"

    try:
        yield still_serving
    finally:
        operators.kill_all()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    sandbox: Sandbox, healthy: Callable[[], None], case: Case
) -> None:
    ns = sandbox.namespace(f"bad-{case.id}")
    if case.config_map is not None:
        owner = {ANNOTATION_CONFIGMAP_OWNER: case.config_map_owner}
        sandbox.config_map(ns, value=case.config_map, annotations=owner)
    if case.claim:
        sandbox.claim(ns, tables=case.tables)
    for name, data in case.secrets.items():
        sandbox.secret(ns, name, data)
    body = manifest(case.name, **case.spec)

    if case.patch is not None:  # a valid DataMigration first, then the bad patch
        sandbox.create_dm(ns, body)
        eventually(
            lambda: sandbox.status(ns, case.name).get("state") == case.patch_after,
            f"state {case.patch_after} before the patch",
            TIMEOUT,
        )
    config_map_before = sandbox.config_map_data(ns) if case.config_map is not None else None
    dm_before = sandbox.dm(ns, case.name)
    jobs_before = [j.metadata.name for j in sandbox.jobs(ns, case.name)]

    bad_step: Callable[[], Any] = (
        (lambda: sandbox.create_dm(ns, body, **_strict(case)))
        if case.patch is None
        else (lambda: sandbox.patch_dm(ns, case.name, case.patch or {}))
    )
    if isinstance(case.outcome, Admission):
        _expect_422(bad_step, case.outcome)
        assert sandbox.dm(ns, case.name) == dm_before  # not created, or not changed at all
        assert [j.metadata.name for j in sandbox.jobs(ns, case.name)] == jobs_before
    else:
        admitted = bad_step()
        _expect_refusal(sandbox, ns, case.name, case.outcome)
        jobs = sandbox.jobs(ns, case.name)
        assert len(jobs) == case.outcome.jobs
        for job in jobs:  # the non-retryable exit code failed it at once: no second pod
            pods = sandbox.core.list_namespaced_pod(
                ns, label_selector=f"job-name={job.metadata.name}"
            )
            assert len(pods.items) == 1
        now = sandbox.dm(ns, case.name)
        assert now is not None
        assert now["spec"] == admitted["spec"], "the operator never writes spec"
        assert now["metadata"]["generation"] == admitted["metadata"]["generation"]

    if config_map_before is not None:
        data, annotations = sandbox.config_map_data(ns)
        assert data == config_map_before[0], "the ConfigMap data changed"
        if not (isinstance(case.outcome, Refused) and case.outcome.claims_config_map):
            assert annotations == config_map_before[1], "the ConfigMap annotations changed"
    healthy()


def _strict(case: Case) -> dict[str, Any]:
    return {"field_validation": "Strict"} if case.strict else {}


def _expect_422(call: Callable[[], Any], outcome: Admission) -> None:
    with pytest.raises(client.ApiException) as raised:
        call()
    assert raised.value.status == outcome.code, raised.value.body
    message = json.loads(raised.value.body)["message"]
    assert outcome.field in message, message
    assert outcome.words in message, message


def _expect_refusal(sandbox: Sandbox, ns: str, name: str, outcome: Refused) -> None:
    def refused() -> dict[str, Any] | None:
        status = sandbox.status(ns, name)
        ready = condition(status, "Ready")
        return status if ready.get("reason") == outcome.reason else None

    status = eventually(refused, f"Ready reason {outcome.reason}", TIMEOUT)
    assert status["state"] == outcome.state
    assert outcome.words in status["message"], status["message"]
    assert condition(status, "Ready")["status"] == "False"
    warnings = eventually(
        lambda: [e for e in sandbox.warnings(ns, name) if e.reason == outcome.reason],
        f"a Warning event {outcome.reason}",
        TIMEOUT,
    )
    assert len(warnings) == 1
    assert outcome.words in warnings[0].message
