"""Which pods a Deployment's rollout starts and stops next: the RollingUpdate and Recreate
strategies of the real Deployment controller, applied to pods directly (no ReplicaSets).

Pure: given the desired count, the strategy and the running pods (current template or not,
ready or not), `plan` returns how many new pods to start and which pods to stop. The controller
calls it on every sync, so each step only has to respect the bounds, never to finish the rollout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class StrategyError(ValueError):
    """An invalid Deployment strategy (what the API server's validation rejects)."""


@dataclass(frozen=True)
class PodView:
    name: str
    updated: bool  # runs the current pod template
    ready: bool
    age_rank: int  # larger = created later


@dataclass(frozen=True)
class Plan:
    create: int
    stop: tuple[str, ...]


@dataclass(frozen=True)
class Strategy:
    recreate: bool
    max_surge: int
    max_unavailable: int


def parse_strategy(spec: Mapping[str, Any], replicas: int) -> Strategy:
    """spec.strategy with the API defaults (RollingUpdate, 25% / 25%) resolved for `replicas`."""
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    if kind == "Recreate":
        return Strategy(True, 0, 0)
    if kind != "RollingUpdate":
        raise StrategyError(f'spec.strategy.type: Unsupported value: "{kind}"')
    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True, field="maxSurge")
    unavailable = _resolve(
        rolling.get("maxUnavailable", "25%"), replicas, round_up=False, field="maxUnavailable"
    )
    if surge == 0 and unavailable == 0:
        # The API rejects 0/0 as absolute values; a percentage that rounds to 0/0 gets 1
        # unavailable, as the real controller does.
        if rolling.get("maxSurge") == 0 and rolling.get("maxUnavailable") == 0:
            raise StrategyError(
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: "
                "may not be 0 when `maxSurge` is 0"
            )
        unavailable = 1
    return Strategy(False, surge, unavailable)


def _resolve(value: Any, replicas: int, *, round_up: bool, field: str) -> int:
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        scaled = int(value[:-1]) * replicas / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    raise StrategyError(
        f"spec.strategy.rollingUpdate.{field}: Invalid value: {value!r}: "
        "must be a non-negative integer or percentage"
    )


def plan(desired: int, strategy: Strategy, pods: Sequence[PodView]) -> Plan:
    new = [p for p in pods if p.updated]
    old = [p for p in pods if not p.updated]
    stop: list[PodView] = []
    # Surplus current-template pods (scale down): the unready and the youngest go first.
    if len(new) > desired:
        stop.extend(_stop_order(new)[: len(new) - desired])
        new = [p for p in new if p not in stop]
    if strategy.recreate:
        if old:
            return Plan(0, tuple(p.name for p in [*stop, *old]))
        return Plan(max(0, desired - len(new)), tuple(p.name for p in stop))
    total = len(new) + len(old)
    create = max(0, min(desired - len(new), desired + strategy.max_surge - total))
    stop.extend(_old_to_stop(desired, strategy, new, old))
    return Plan(create, tuple(p.name for p in stop))


def _old_to_stop(
    desired: int, strategy: Strategy, new: list[PodView], old: list[PodView]
) -> list[PodView]:
    """Old pods to stop now without dropping below desired - maxUnavailable available pods."""
    if not old:
        return []
    min_available = max(0, desired - strategy.max_unavailable)
    new_unready = sum(1 for p in new if not p.ready)
    budget = len(new) + len(old) - min_available - new_unready
    if budget <= 0:
        return []
    # Unready old pods cost no availability: they go first (cleanupUnhealthyReplicas).
    unready = [p for p in old if not p.ready][:budget]
    ready_old = [p for p in old if p.ready]
    available = sum(1 for p in new if p.ready) + len(ready_old)
    more = min(budget - len(unready), available - min_available, len(ready_old))
    ready_order = sorted(ready_old, key=lambda p: -p.age_rank)
    return [*unready, *ready_order[: max(0, more)]]


def _stop_order(pods: list[PodView]) -> list[PodView]:
    return sorted(pods, key=lambda p: (p.ready, -p.age_rank))
