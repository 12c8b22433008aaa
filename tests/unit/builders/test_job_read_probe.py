"""spec.validation.readProbe reaches the validate Job (and only it) through its JobConfig, and
`dmctl job validate` turns it into the run's probe settings."""

from __future__ import annotations

from typing import Any

import pytest

from datamigration_operator.api.job_contract import JobConfig
from datamigration_operator.api.phases import JobKind
from datamigration_operator.builders.job import job_config
from datamigration_operator.cli.job import settings_of
from datamigration_operator.migration.runs.read_probe import ProbeSettings
from tests.unit.reconcile.scenario import datamigration


def config(kind: JobKind, **validation: Any) -> JobConfig:
    dm = datamigration(validation=validation) if validation else datamigration()
    return JobConfig.model_validate_json(job_config(dm, kind, "shop-x-1").model_dump_json())


def test_the_validate_job_probes_reads_by_default() -> None:
    validate = config("validate")
    assert validate.read_probe is not None
    assert settings_of(validate).read_probe == ProbeSettings(requests=200, concurrency=4)


def test_the_spec_sets_requests_and_concurrency() -> None:
    validate = config("validate", readProbe={"requests": 50, "concurrency": 8})
    assert settings_of(validate).read_probe == ProbeSettings(requests=50, concurrency=8)


@pytest.mark.parametrize(
    ("kind", "validation"),
    [("validate", {"readProbe": {"enabled": False}}), ("copy", {}), ("sync", {})],
)
def test_no_probe_when_disabled_or_for_copy_and_sync(
    kind: JobKind, validation: dict[str, Any]
) -> None:
    job = config(kind, **validation)
    assert job.read_probe is None
    assert settings_of(job).read_probe is None
