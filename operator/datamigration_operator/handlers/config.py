"""The operator process's settings, from the command line or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from datamigration_operator import __version__
from datamigration_operator.reconcile.observed import JobPolicy

JOB_IMAGE_ENV: Final = "DATAMIGRATION_JOB_IMAGE"
# The operator's own image runs the Jobs (`dmctl job ...`) unless spec.jobTemplate.image says
# otherwise; the Deployment sets DATAMIGRATION_JOB_IMAGE to the image it runs.
OPERATOR_IMAGE_REPOSITORY: Final = "ghcr.io/gremlins-ai/datamigration-operator"
DEFAULT_JOB_IMAGE: Final = f"{OPERATOR_IMAGE_REPOSITORY}:{__version__}"
RESYNC_ENV: Final = "DATAMIGRATION_RESYNC_SECONDS"
# What spec.jobTemplate may ask for beyond the defaults (the operator's own image, the
# ServiceAccount it creates per DataMigration): comma-separated lists, empty by default.
ALLOWED_JOB_IMAGES_ENV: Final = "DATAMIGRATION_ALLOWED_JOB_IMAGES"
ALLOWED_JOB_SERVICE_ACCOUNTS_ENV: Final = "DATAMIGRATION_ALLOWED_JOB_SERVICE_ACCOUNTS"


def split_list(values: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...]:
    """`a,b` and repeated options alike: the non-empty items, in order, once each."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    words = (word.strip() for item in items for word in item.split(","))
    return tuple(dict.fromkeys(word for word in words if word))


def resync_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """How often a DataMigration that has not Succeeded is re-planned (kopf timer interval,
    fixed when the handlers are registered); default 10 s."""
    text = environ.get(RESYNC_ENV, "10")
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.5 <= value <= 3600:
        raise ValueError(f"{RESYNC_ENV} must be a number of seconds in [0.5, 3600], got {text!r}")
    return value


RESYNC_SECONDS: Final = resync_seconds()


@dataclass(frozen=True)
class OperatorConfig:
    job_image: str = DEFAULT_JOB_IMAGE
    kubeconfig: Path | None = None
    """None: $KUBECONFIG, the in-cluster ServiceAccount, or ~/.kube/config."""
    allowed_job_images: tuple[str, ...] = ()
    """Images spec.jobTemplate.image may name besides job_image."""
    allowed_job_service_accounts: tuple[str, ...] = ()
    """ServiceAccounts spec.jobTemplate.serviceAccountName may name besides the one the
    operator creates per DataMigration."""

    @property
    def job_policy(self) -> JobPolicy:
        return JobPolicy(
            default_image=self.job_image,
            allowed_images=frozenset(self.allowed_job_images),
            allowed_service_accounts=frozenset(self.allowed_job_service_accounts),
        )

    @classmethod
    def from_env(cls) -> OperatorConfig:
        return cls(
            job_image=os.environ.get(JOB_IMAGE_ENV) or DEFAULT_JOB_IMAGE,
            allowed_job_images=split_list(os.environ.get(ALLOWED_JOB_IMAGES_ENV)),
            allowed_job_service_accounts=split_list(
                os.environ.get(ALLOWED_JOB_SERVICE_ACCOUNTS_ENV)
            ),
        )
