"""What must exist, and be allowed, before the operator changes anything for a phase: the
app's ConfigMap (ours to drive), the listed workloads, and for a Job its image, ServiceAccount,
claim and Secrets. A problem blocks the phase until it is fixed."""

from __future__ import annotations

from datetime import UTC, datetime

from datamigration_operator.api import reasons
from datamigration_operator.api.spec import SecretKeyRef
from datamigration_operator.builders.configmap import check_config_map
from datamigration_operator.reconcile.observed import Observation, OtherMigration

Problem = tuple[str, str]
"""(reason, message) of a Blocked phase."""


def config_map_problem(obs: Observation, me: str) -> Problem | None:
    """`me`: this DataMigration's owner id; a ConfigMap another one owns is refused."""
    app, cm = obs.spec.app, obs.config_map
    if not cm.exists:
        return (
            reasons.CONFIGMAP_NOT_FOUND,
            f"ConfigMap {app.config_map_ref.name} (spec.app.configMapRef) not found",
        )
    refusal = check_config_map(app.config_map_ref.name, app.key, cm.value, cm.owner, me)
    return None if refusal is None else (refusal.reason, refusal.message)


def endpoint_key(host: str, port: int) -> str:
    return f"{host.lower()}:{port}"


def collection_problem(obs: Observation, me: str) -> Problem | None:
    """A collection on the same Weaviate endpoint that another DataMigration, started or
    older, also names belongs to that one: two id namespaces in one collection would
    duplicate every row, and each sync would delete the other's objects. (The Jobs check the
    claim recorded on the collection too; this refuses before any Job runs, and across
    namespaces.)"""
    target = obs.spec.target.http
    endpoint = endpoint_key(target.host, target.port)
    mine = {c.collection.lower(): c.collection for c in obs.spec.collections}
    my_claim = _claim(bool(obs.status.jobs), obs.created_at, me)
    for other in sorted(obs.other_migrations, key=_other_claim):
        shared = sorted(mine[name] for name in other.collections & mine.keys())
        if other.endpoint != endpoint or not shared or _other_claim(other) > my_claim:
            continue
        listed = ", ".join(shared)
        return (
            reasons.COLLECTION_OWNED_BY_OTHER,
            f"collection {listed} on Weaviate {endpoint} belongs to DataMigration {other.owner} "
            "(started or created first); migrate into other collections (spec is immutable: "
            "create a new DataMigration), or delete that one and its collections first",
        )
    return None


def _claim(started: bool, created_at: datetime | None, owner: str) -> tuple[bool, datetime, str]:
    """Who keeps a collection, first first: one that has run a Job (it may have written),
    then the older (creationTimestamp has seconds only), then the owner id, so exactly one of
    two wins."""
    return not started, created_at or datetime.max.replace(tzinfo=UTC), owner


def _other_claim(other: OtherMigration) -> tuple[bool, datetime, str]:
    return _claim(other.started, other.created_at, other.owner)


def workload_problem(obs: Observation) -> Problem | None:
    missing = [w.ref for w in obs.workloads if not w.exists]
    if not missing:
        return None
    listed = ", ".join(f"{w.kind} {w.name}" for w in missing)
    return reasons.WORKLOAD_NOT_FOUND, f"spec.app.workloads: {listed} not found"


def job_problem(
    obs: Observation, *, image: str, service_account: str, own_account: str
) -> Problem | None:
    """Checked before a Job is created. `own_account`: the ServiceAccount the operator
    creates for this DataMigration's Jobs, always allowed like the operator's own image."""
    spec, policy = obs.spec, obs.job_policy
    if image != policy.default_image and image not in policy.allowed_images:
        return (
            reasons.JOB_IMAGE_NOT_ALLOWED,
            f"spec.jobTemplate.image {image} is not allowed: the operator runs "
            "Jobs from its own image or one it was started to allow (--allowed-job-images)",
        )
    if service_account != own_account and service_account not in policy.allowed_service_accounts:
        return (
            reasons.JOB_SERVICE_ACCOUNT_NOT_ALLOWED,
            f"spec.jobTemplate.serviceAccountName {service_account} is not allowed: Jobs run as "
            f"the ServiceAccount the operator creates for this DataMigration "
            f"({own_account}) or one it was started to allow "
            "(--allowed-job-service-accounts)",
        )
    if obs.claim is None:
        return (
            reasons.CLAIM_NOT_FOUND,
            f"PersistentVolumeClaim {spec.source.claim_name} (spec.source.claimName) not found",
        )
    refs: list[tuple[str, SecretKeyRef | None]] = [
        ("spec.target.apiKeySecretRef", spec.target.api_key_secret_ref),
        ("spec.target.tls.caSecretRef", spec.target.tls.ca_secret_ref),
    ]
    for where, ref in refs:
        if ref is None:
            continue
        if ref.name not in obs.secrets:
            return reasons.SECRET_NOT_FOUND, f"Secret {ref.name} ({where}) not found"
        keys = obs.secrets[ref.name]
        if keys is None:  # not ours to read: the Job's pod says so if it is missing
            continue
        if ref.key not in keys:
            return (
                reasons.SECRET_NOT_FOUND,
                f"Secret {ref.name} ({where}) has no key {ref.key}",
            )
    return None
