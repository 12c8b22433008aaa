"""What must exist, and be allowed, before the operator changes anything for a phase: the
app's ConfigMap (ours to drive), the listed workloads, and for a Job its image, ServiceAccount,
claim and Secrets. A problem blocks the phase until it is fixed."""

from __future__ import annotations

from datamigration_operator.api import reasons
from datamigration_operator.api.spec import SecretKeyRef
from datamigration_operator.builders.configmap import check_config_map
from datamigration_operator.reconcile.observed import Observation

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
        keys = obs.secrets.get(ref.name)
        if keys is None:
            return reasons.SECRET_NOT_FOUND, f"Secret {ref.name} ({where}) not found"
        if ref.key not in keys:
            return (
                reasons.SECRET_NOT_FOUND,
                f"Secret {ref.name} ({where}) has no key {ref.key}",
            )
    return None
