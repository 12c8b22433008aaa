"""reconcile/validation.py: what a validation report is worth, and whose it is."""

from __future__ import annotations

import dataclasses

from datamigration_operator.api.status import ValidationReport
from datamigration_operator.reconcile.observed import ObservedJob
from datamigration_operator.reconcile.validation import validation_issuer, validation_verdict
from tests.unit.reconcile.phases.gate_inputs import EPOCH, JOB_UID, POLICY, finished
from tests.unit.reconcile.scenario import observation


def test_verdict_explains_the_counts() -> None:
    verdict = validation_verdict(finished(1, diffs=2), EPOCH, POLICY, JOB_UID)
    assert not verdict.passed
    assert "2 differences (maxMismatches 0)" in verdict.message


def test_the_issuer_is_the_validate_job_the_report_names() -> None:
    report = ValidationReport(job="shop-validate-1", job_uid="uid-1")
    obs = observation("switch")
    obs = dataclasses.replace(obs, status=obs.status.model_copy(update={"validation": report}))
    assert validation_issuer(obs) is None  # no such Job
    validate = ObservedJob("shop-validate-1", "validate", "Succeeded", 1, uid="uid-1")
    assert validation_issuer(dataclasses.replace(obs, jobs=(validate,))) == "uid-1"
    # a Job of that name that is not a validate Job issues nothing
    copy = dataclasses.replace(validate, phase="migrate")
    assert validation_issuer(dataclasses.replace(obs, jobs=(copy,))) is None


def test_reference_problems_fail_the_verdict_and_are_named_in_it() -> None:
    report = finished(1).model_copy(update={"dangling_references": 1, "wrong_references": 2})
    verdict = validation_verdict(report, EPOCH, POLICY, JOB_UID)
    assert not verdict.passed
    assert verdict.reason == "ValidationMismatch"
    assert "3 differences" in verdict.message
    assert "1 dangling references, 2 wrong references" in verdict.message
