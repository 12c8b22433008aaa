"""The operator process's settings, from the command line or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

JOB_IMAGE_ENV: Final = "DATAMIGRATION_JOB_IMAGE"
# The operator's own image runs the Jobs (`dmctl job ...`) unless spec.jobTemplate.image says
# otherwise; the Deployment sets DATAMIGRATION_JOB_IMAGE to the image it runs.
DEFAULT_JOB_IMAGE: Final = "ghcr.io/gremlins-ai/datamigration-operator:0.1.0"
RESYNC_ENV: Final = "DATAMIGRATION_RESYNC_SECONDS"


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

    @classmethod
    def from_env(cls) -> OperatorConfig:
        return cls(job_image=os.environ.get(JOB_IMAGE_ENV) or DEFAULT_JOB_IMAGE)
