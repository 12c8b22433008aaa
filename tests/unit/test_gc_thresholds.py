"""Collector thresholds for bulk work: raised, never lowered, restored after the block."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from datamigration_operator.gc_thresholds import BULK_THRESHOLDS, raise_thresholds, relaxed_gc


@pytest.fixture(autouse=True)
def restored_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_defaults_are_raised_and_the_previous_ones_returned() -> None:
    gc.set_threshold(700, 10, 10)
    assert raise_thresholds() == (700, 10, 10)
    assert gc.get_threshold() == BULK_THRESHOLDS


def test_relaxed_inside_the_block_and_restored_after() -> None:
    gc.set_threshold(700, 10, 10)
    with relaxed_gc((10_000, 50, 100)):
        assert gc.get_threshold() == (10_000, 50, 100)
    assert gc.get_threshold() == (700, 10, 10)


def _fail_inside(seen: list[tuple[int, ...]]) -> None:
    with relaxed_gc((10_000, 50, 100)):
        seen.append(gc.get_threshold())
        raise RuntimeError("boom")


def test_higher_thresholds_are_never_lowered_and_an_error_still_restores() -> None:
    gc.set_threshold(50_000, 5, 500)
    seen: list[tuple[int, ...]] = []
    with pytest.raises(RuntimeError):
        _fail_inside(seen)
    assert seen == [(50_000, 50, 500)]
    assert gc.get_threshold() == (50_000, 5, 500)
