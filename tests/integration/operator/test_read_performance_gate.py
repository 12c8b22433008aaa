"""spec.validation.maxReadP99 against a real operator process: the validate Job's read-probe
figures keep switch Blocked (ReadPerformanceBelowTarget, one Warning event) while Weaviate's
p99 is above the threshold, and let it through under a looser one."""

from __future__ import annotations

from typing import Any

from tests.integration.operator.conftest import (
    OperatorProcess,
    Sandbox,
    advance,
    conditions,
    config_map_mode,
    new_datamigration,
    patch_spec,
    settled,
    state_is,
    wait_for,
    warnings_of,
)


def _latency(p50: float, p99: float) -> dict[str, Any]:
    return {"requests": 200, "errors": 0, "errorRate": 0.0, "p50Ms": p50, "p99Ms": p99,
            "meanMs": p50}  # fmt: skip


def _figures(weaviate_p99: float) -> dict[str, Any]:
    """What the validate Job's probe reports: bm25 on Weaviate at `weaviate_p99` ms."""
    fast = {"weaviate": _latency(1.2, 4.0), "sqlite": _latency(0.1, 0.9)}
    slow = {"weaviate": _latency(20.0, weaviate_p99), "sqlite": _latency(3.0, 12.0)}
    return {
        "requests": 200,
        "concurrency": 4,
        "seconds": 2.5,
        "kinds": [
            {"kind": "byId", "sequential": fast, "concurrent": fast},
            {"kind": "bm25", "sequential": fast, "concurrent": slow},
        ],
    }


def test_a_read_p99_above_max_read_p99_blocks_switch_and_a_looser_one_lets_it_through(
    sandbox: Sandbox, operator_process: OperatorProcess, namespace: str
) -> None:
    new_datamigration(sandbox, namespace, "app", validation={"maxReadP99": "100ms"})
    wait_for(lambda: settled(sandbox, namespace, "app", "migrate"), "migrate")
    advance(sandbox, namespace, "app", "dual-write")
    sandbox.behave(
        namespace, "app", "validate", report={"fields": {"readPerformance": _figures(180.5)}}
    )
    advance(sandbox, namespace, "app", "validate")

    patch_spec(sandbox, namespace, "app", phase="switch")
    dm = wait_for(
        lambda: state_is(sandbox, namespace, "app", "Blocked", "ReadPerformanceBelowTarget"),
        "switch Blocked by the read p99",
    )
    message = dm["status"]["message"]
    assert "bm25 (4 concurrent) p99 180.5ms above maxReadP99 100ms" in message, message
    assert "byId" not in message  # the kinds within the target are not named
    assert config_map_mode(sandbox, namespace) == "dual_write"
    assert conditions(dm)["Ready"]["reason"] == "ReadPerformanceBelowTarget"
    warnings = warnings_of(sandbox, namespace, "app", "ReadPerformanceBelowTarget")
    assert len(warnings) == 1
    assert "180.5ms" in warnings[0].message

    # The measured figures stay; a threshold above them opens the gate by itself.
    patch_spec(sandbox, namespace, "app", validation={"maxReadP99": "250ms"})
    dm = wait_for(lambda: settled(sandbox, namespace, "app", "switch"), "switch", timeout=30)
    assert config_map_mode(sandbox, namespace) == "weaviate_primary"
    assert conditions(dm)["ReadsSwitched"]["status"] == "True"
    assert dm["status"]["validation"]["readPerformance"]["kinds"][1]["kind"] == "bm25"
