"""Garbage-collector thresholds for bulk work (the copy, the sandbox Weaviate's store).

Bulk work allocates many short-lived containers per batch (or keeps millions of long-lived
ones): at CPython's default thresholds (700, 10, 10) young collections cost 10-25% of the run.
These only ever raise the thresholds; cycles are still collected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

Thresholds = tuple[int, int, int]
BULK_THRESHOLDS: Final[Thresholds] = (10_000, 50, 100)


def raise_thresholds(thresholds: Thresholds = BULK_THRESHOLDS) -> Thresholds:
    """Raises each threshold to at least `thresholds`; returns the previous ones."""
    previous = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(previous[:3], thresholds, strict=True)))
    return (previous[0], previous[1], previous[2])


@contextmanager
def relaxed_gc(thresholds: Thresholds = BULK_THRESHOLDS) -> Iterator[None]:
    """raise_thresholds for the duration of the block, restored afterwards."""
    previous = raise_thresholds(thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
