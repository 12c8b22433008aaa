from __future__ import annotations

import re

import pytest

from datamigration_operator.reconcile.job_names import job_name

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_name_is_deterministic_and_readable() -> None:
    name = job_name("shop", "dual-write", 3, 0)
    assert name == job_name("shop", "dual-write", 3, 0)
    assert name.startswith("shop-dual-write-")


@pytest.mark.parametrize(
    ("other"),
    [("shop", "validate", 3, 0), ("shop", "dual-write", 4, 0), ("shop", "dual-write", 3, 1)],
)
def test_each_phase_generation_and_rerun_gets_its_own_job(other: tuple) -> None:  # type: ignore[type-arg]
    assert job_name("shop", "dual-write", 3, 0) != job_name(*other)


def test_long_and_dotted_names_fit_a_dns_label_and_stay_distinct() -> None:
    a = job_name("a" * 250 + ".x", "dual-write", 1, 0)
    b = job_name("a" * 250 + ".y", "dual-write", 1, 0)
    assert len(a) <= 63
    assert DNS_LABEL.match(a)
    assert a != b
    assert DNS_LABEL.match(job_name("my.app-", "migrate", 1, 0))
