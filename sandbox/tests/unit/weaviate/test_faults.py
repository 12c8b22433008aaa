"""Fault selection is reproducible and its settings are checked."""

from __future__ import annotations

import pytest

from datamigration_sandbox.weaviate.faults import Faults, FaultsError

IDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(100)]


def test_same_seed_fails_the_same_objects() -> None:
    first = Faults(fail_fraction=0.1, seed=3).failures(IDS)
    second = Faults(fail_fraction=0.1, seed=3).failures(IDS)
    assert first == second
    assert len(first) == 10


def test_always_failing_id_fails_in_every_call() -> None:
    faults = Faults(always_fail_ids={IDS[7].upper()}, fail_message="boom")
    assert faults.failures(IDS) == {7: "boom"}
    assert faults.failures(IDS[5:]) == {2: "boom"}


def test_unavailable_bursts_are_used_up() -> None:
    faults = Faults(unavailable_bursts=2)
    assert [faults.take_unavailable() for _ in range(3)] == [True, True, False]


def test_update_is_all_or_nothing() -> None:
    faults = Faults()
    with pytest.raises(FaultsError, match="fail_fraction"):
        faults.update({"latency_ms": 5, "fail_fraction": 1.5})
    assert faults.latency_ms == 0
    with pytest.raises(FaultsError, match="unknown fault setting 'nope'"):
        faults.update({"nope": 1})
    faults.update({"latency_ms": 5, "always_fail_ids": [IDS[1]]})
    assert faults.latency_ms == 5
    assert faults.failures(IDS[:3]) == {1: faults.fail_message}
