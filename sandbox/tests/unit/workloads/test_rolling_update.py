"""The rollout planner: strategy defaults and the bounds of each RollingUpdate step."""

from __future__ import annotations

import pytest

from datamigration_sandbox.workloads.rolling_update import (
    Plan,
    PodView,
    Strategy,
    StrategyError,
    parse_strategy,
    plan,
)

SURGE_ONE = Strategy(recreate=False, max_surge=1, max_unavailable=0)


def pod(name: str, *, updated: bool, ready: bool, rank: int = 0) -> PodView:
    return PodView(name, updated, ready, rank)


def test_defaults_are_25_percent_rounded_as_the_controller() -> None:
    assert parse_strategy({}, 1) == Strategy(False, 1, 0)
    assert parse_strategy({}, 10) == Strategy(False, 3, 2)
    rolling = {"strategy": {"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "10%"}}}
    assert parse_strategy(rolling, 3) == Strategy(False, 0, 1)  # 0/0 after rounding -> 1
    assert parse_strategy({"strategy": {"type": "Recreate"}}, 3).recreate


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ({"type": "BlueGreen"}, "Unsupported value"),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, "may not be 0"),
        ({"rollingUpdate": {"maxSurge": "lots"}}, "non-negative integer or percentage"),
    ],
)
def test_invalid_strategies_are_refused(strategy: dict[str, object], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        parse_strategy({"strategy": strategy}, 2)


def test_first_rollout_starts_every_replica() -> None:
    assert plan(3, parse_strategy({}, 3), []) == Plan(3, ())


def test_single_replica_surges_then_stops_the_old_pod_once_the_new_is_ready() -> None:
    old = pod("old", updated=False, ready=True, rank=1)

    assert plan(1, SURGE_ONE, [old]) == Plan(1, ())
    new_unready = pod("new", updated=True, ready=False, rank=2)
    assert plan(1, SURGE_ONE, [old, new_unready]) == Plan(0, ())
    new_ready = pod("new", updated=True, ready=True, rank=2)
    assert plan(1, SURGE_ONE, [old, new_ready]) == Plan(0, ("old",))


def test_unready_old_pods_go_first_and_cost_no_availability() -> None:
    pods = [
        pod("old-ready", updated=False, ready=True, rank=1),
        pod("old-crashing", updated=False, ready=False, rank=2),
    ]
    strategy = Strategy(False, 0, 1)

    result = plan(2, strategy, pods)

    assert result.stop[0] == "old-crashing"
    assert result.create == 0  # no surge: room for new pods only once old ones are gone


def test_a_crashing_new_pod_never_takes_the_last_ready_old_pod() -> None:
    pods = [
        pod("old", updated=False, ready=True, rank=1),
        pod("new", updated=True, ready=False, rank=2),
    ]

    assert plan(1, SURGE_ONE, pods) == Plan(0, ())


def test_scale_to_zero_stops_everything() -> None:
    pods = [
        pod("a", updated=True, ready=True, rank=1),
        pod("b", updated=True, ready=False, rank=2),
        pod("c", updated=False, ready=True, rank=3),
    ]

    result = plan(0, parse_strategy({}, 0), pods)

    assert sorted(result.stop) == ["a", "b", "c"]
    assert result.create == 0


def test_scale_down_prefers_unready_then_youngest() -> None:
    pods = [
        pod("a", updated=True, ready=True, rank=1),
        pod("b", updated=True, ready=True, rank=3),
        pod("c", updated=True, ready=False, rank=2),
    ]

    assert plan(1, parse_strategy({}, 1), pods).stop == ("c", "b")


def test_recreate_stops_old_pods_before_starting_new_ones() -> None:
    recreate = parse_strategy({"strategy": {"type": "Recreate"}}, 2)
    old = [pod("o1", updated=False, ready=True), pod("o2", updated=False, ready=True)]

    assert plan(2, recreate, old) == Plan(0, ("o1", "o2"))
    assert plan(2, recreate, []) == Plan(2, ())
