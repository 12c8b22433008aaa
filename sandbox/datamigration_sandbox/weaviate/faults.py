"""Fault knobs of the sandbox Weaviate: injected per-object failures, UNAVAILABLE bursts, latency.

A test changes them on a running server (`server.faults.update(...)`); the object
failures are drawn from a seeded `random.Random` so a run with the same seed fails the same
objects.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEFAULT_FAIL_MESSAGE = "sandbox: injected failure"


class FaultsError(ValueError):
    """An unknown fault setting or one out of range."""


@dataclass
class Faults:
    fail_fraction: float = 0.0
    fail_message: str = DEFAULT_FAIL_MESSAGE
    always_fail_ids: set[str] = field(default_factory=set)
    unavailable_bursts: int = 0
    latency_ms: int = 0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.always_fail_ids = {value.lower() for value in self.always_fail_ids}
        self._check()
        self._rng = random.Random(self.seed)

    def _check(self) -> None:
        if not 0.0 <= self.fail_fraction <= 1.0:
            raise FaultsError(f"fail_fraction must be within 0..1, got {self.fail_fraction}")
        if self.unavailable_bursts < 0:
            raise FaultsError(f"unavailable_bursts must be >= 0, got {self.unavailable_bursts}")
        if self.latency_ms < 0:
            raise FaultsError(f"latency_ms must be >= 0, got {self.latency_ms}")

    def failures(self, uuids: Sequence[str]) -> dict[int, str]:
        """Index -> message of the objects of one BatchObjects call that are to fail."""
        failed: dict[int, str] = {}
        if self.always_fail_ids:
            for index, uuid in enumerate(uuids):
                if uuid.lower() in self.always_fail_ids:
                    failed[index] = self.fail_message
        if self.fail_fraction > 0.0:
            count = round(len(uuids) * self.fail_fraction)
            for index in self._rng.sample(range(len(uuids)), count):
                failed[index] = self.fail_message
        return failed

    def take_unavailable(self) -> bool:
        """True (and one burst used up) when this call is to abort with UNAVAILABLE."""
        if self.unavailable_bursts <= 0:
            return False
        self.unavailable_bursts -= 1
        return True

    def update(self, changes: Mapping[str, Any]) -> None:
        """Change some settings at once; all-or-nothing, FaultsError names the bad one."""
        settings = {f.name for f in fields(self) if f.init}
        for key in changes:
            if key not in settings:
                raise FaultsError(f"unknown fault setting {key!r}")
        checked = replace(self, **changes)  # __post_init__ checks the ranges
        self.fail_fraction = checked.fail_fraction
        self.fail_message = checked.fail_message
        self.always_fail_ids = checked.always_fail_ids
        self.unavailable_bursts = checked.unavailable_bursts
        self.latency_ms = checked.latency_ms
        if "seed" in changes:
            self.seed = checked.seed
            self._rng = random.Random(self.seed)
