"""Storage quantities as the API server writes them, to bytes and back."""

from __future__ import annotations

import pytest

from datamigration_operator.api.quantities import mebibytes, quantity_bytes


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1Gi", 2**30),
        ("500M", 500 * 10**6),
        ("1.5Ti", 3 * 2**39),
        ("1024", 1024),
        ("0.5Ki", 512),
        (" 2Gi ", 2 * 2**30),
    ],
)
def test_quantities_are_bytes(text: str, size: int) -> None:
    assert quantity_bytes(text) == size


@pytest.mark.parametrize("text", ["", "Gi", "1Zi", "1e3", "-1Gi", "1 Gi"])
def test_what_is_not_a_quantity_is_none(text: str) -> None:
    assert quantity_bytes(text) is None


def test_mebibytes_round_up() -> None:
    assert mebibytes(2**20) == "1Mi"
    assert mebibytes(2**20 + 1) == "2Mi"
