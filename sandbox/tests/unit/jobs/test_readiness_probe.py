"""readinessProbe parsing (API defaults, named ports) and the kubelet's thresholds."""

from __future__ import annotations

import pytest

from datamigration_sandbox.jobs.readiness_probe import (
    ProbeConfigError,
    ReadinessTracker,
    parse_probe,
)

CONTAINER = {"ports": [{"name": "http", "containerPort": 8080}]}


def test_no_probe_means_none() -> None:
    assert parse_probe(CONTAINER) is None


def test_http_get_with_a_named_port_and_defaults() -> None:
    spec = parse_probe({**CONTAINER, "readinessProbe": {"httpGet": {"port": "http"}}})

    assert spec is not None
    assert (spec.kind, spec.port, spec.path, spec.scheme) == ("httpGet", 8080, "/", "HTTP")
    assert (spec.period, spec.timeout, spec.initial_delay) == (10.0, 1.0, 0.0)
    assert (spec.success_threshold, spec.failure_threshold) == (1, 3)


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        ({"exec": {"command": ["true"]}}, "not supported"),
        ({"httpGet": {"port": "metrics"}}, "names no containerPort"),
        ({"httpGet": {"port": 70000}}, "out of range"),
        ({"httpGet": {"port": 80, "scheme": "FTP"}}, "unsupported scheme"),
    ],
)
def test_probes_the_sandbox_cannot_run_are_refused(probe: dict[str, object], message: str) -> None:
    with pytest.raises(ProbeConfigError, match=message):
        parse_probe({**CONTAINER, "readinessProbe": probe})


def test_thresholds_decide_readiness() -> None:
    probe = {"tcpSocket": {"port": 8080}, "successThreshold": 2, "failureThreshold": 2}
    spec = parse_probe({"readinessProbe": probe})
    assert spec is not None
    tracker = ReadinessTracker(spec)

    flips = [tracker.record(result) for result in (True, False, True, True, False, False)]

    assert flips == [False, False, False, True, False, True]
    assert tracker.ready is False
