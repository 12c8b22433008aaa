"""Deterministic Job names: one Job per (phase, generation, rerun), so a retried create after a
crash finds the same name and gets AlreadyExists instead of a second Job."""

from __future__ import annotations

import hashlib
from typing import Final

from datamigration_operator.api.phases import Phase

MAX_JOB_NAME: Final = 63  # the Job controller copies the name into a label value


def job_name(datamigration: str, phase: Phase, generation: int, rerun: int) -> str:
    """`<dm>-<phase>-<hash>`; a long DataMigration name is cut, the hash (over the full name)
    keeps cut names distinct."""
    digest = hashlib.sha256(f"{datamigration}\0{phase}\0{generation}\0{rerun}".encode())
    suffix = f"-{phase}-{digest.hexdigest()[:8]}"
    prefix = datamigration.replace(".", "-")[: MAX_JOB_NAME - len(suffix)].rstrip("-")
    return prefix + suffix


def job_account_name(datamigration: str) -> str:
    """`<dm>-job-<hash>`: the ServiceAccount, Role and RoleBinding the operator creates for
    one DataMigration's Jobs (<= 63 chars; the hash over the full name keeps cut names
    distinct, and no two DataMigrations of a namespace share them)."""
    digest = hashlib.sha256(f"{datamigration}\0job-access".encode())
    suffix = f"-job-{digest.hexdigest()[:8]}"
    prefix = datamigration.replace(".", "-")[: MAX_JOB_NAME - len(suffix)].rstrip("-")
    return prefix + suffix
