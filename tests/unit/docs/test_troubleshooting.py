"""docs/troubleshooting.md names every reason constant of api/reasons.py with a meaning and a
fix, and the Blocked and Failed ones in their own tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datamigration_operator.api import reasons

PAGE = Path(__file__).resolve().parents[3] / "docs" / "troubleshooting.md"

BLOCKED = (
    reasons.MIGRATION_REQUIRED,
    reasons.DUAL_WRITE_REQUIRED,
    reasons.VALIDATION_REQUIRED,
    reasons.VALIDATION_STALE,
    reasons.VALIDATION_NOT_FROM_ITS_JOB,
    reasons.OUTBOX_NOT_DRAINED,
    reasons.OUTBOX_NOT_OBSERVED,
    reasons.DRAINER_NOT_RUNNING,
    reasons.OUTBOX_LAGGING,
    reasons.SOURCE_NOT_CURRENT,
    reasons.PREVIOUS_MODE_NOT_RECORDED,
    reasons.MODE_PROPAGATION_PENDING,
    reasons.MODE_PROPAGATION_SLOW,
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
FAILED = (reasons.JOB_FAILED, reasons.VALIDATION_MISMATCH, reasons.OUTBOX_NOT_DRAINING)


def reason_constants() -> set[str]:
    """Every reason string reasons.py defines (condition types are not reasons)."""
    return {
        value
        for name, value in vars(reasons).items()
        if name.isupper() and isinstance(value, str) and name not in _CONDITION_TYPE_NAMES
    }


_CONDITION_TYPE_NAMES = {
    "MIGRATED",
    "DUAL_WRITE_READY",
    "VALIDATED",
    "READS_SWITCHED",
    "ROLLED_BACK",
    "ROLLBACK_READY",
    "READY",
}


def _rows(section: str) -> dict[str, list[str]]:
    """reason -> the other cells of its row, in the table under this heading."""
    text = PAGE.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `(\w+)` \|(.*)\|$", line)
        if match:
            rows[match[1]] = [cell.strip() for cell in match[2].split(" | ")]
    return rows


def test_every_reason_constant_is_on_the_page() -> None:
    text = PAGE.read_text()
    missing = sorted(r for r in reason_constants() if f"`{r}`" not in text)
    assert missing == [], f"add these reasons to docs/troubleshooting.md: {missing}"


def test_the_reason_list_is_complete_enough_to_fail() -> None:
    """The constants found include the ones the operator blocks and fails with."""
    assert set(BLOCKED) | set(FAILED) <= reason_constants()
    assert "Ready" not in reason_constants()


@pytest.mark.parametrize(("section", "expected"), [("Blocked", BLOCKED), ("Failed", FAILED)])
def test_blocked_and_failed_reasons_have_a_meaning_and_a_fix(
    section: str, expected: tuple[str, ...]
) -> None:
    heading = next(
        line[3:] for line in PAGE.read_text().splitlines() if line.startswith(f"## {section}")
    )
    rows = _rows(heading)
    assert set(expected) <= set(rows), sorted(set(expected) - set(rows))
    for reason in expected:
        meaning, fix = rows[reason]
        assert len(meaning) > 20, reason
        assert len(fix) > 10, reason
