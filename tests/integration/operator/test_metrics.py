"""The operator's `/metrics` (--metrics-port) and its JSON logs (--log-format json), the operator
running as the Deployment runs it against the sandbox control plane."""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.operator.conftest import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    Sandbox,
    new_datamigration,
    settled,
    state_is,
    wait_for,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def metered_operator(
    sandbox: Sandbox, namespace: str, tmp_path: Path
) -> Iterator[tuple[OperatorProcess, str]]:
    port = _free_port()
    process = OperatorProcess(
        sandbox.kubeconfig,
        tmp_path / "operator.log",
        "-n",
        namespace,
        f"--metrics-port={port}",
        "--log-format=json",
    )
    process.start()
    try:
        yield process, f"http://127.0.0.1:{port}/metrics"
    finally:
        process.stop()


def _scrape(url: str) -> Samples | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, series: str, /, **labels: str) -> float | None:
    return samples.get((series, tuple(sorted(labels.items()))))


def _scrape_until(url: str, what: str, check: object) -> Samples:
    def probe() -> Samples | None:
        samples = _scrape(url)
        return samples if samples is not None and check(samples) else None  # type: ignore[operator]

    return wait_for(probe, what)


def test_metrics_name_each_datamigration_its_phase_state_progress_and_jobs(
    sandbox: Sandbox, namespace: str, metered_operator: tuple[OperatorProcess, str]
) -> None:
    process, url = metered_operator
    key = {"namespace": namespace, "name": "walked"}
    new_datamigration(sandbox, namespace, "walked")
    wait_for(lambda: settled(sandbox, namespace, "walked", "migrate"), "migrate to succeed")
    samples = _scrape_until(
        url,
        "the copy Job's outcome in /metrics",
        lambda s: _value(s, "datamigration_jobs_finished_total", kind="copy", result="Succeeded"),
    )
    assert _value(samples, "datamigration_phase", **key, phase="migrate") == 1
    assert _value(samples, "datamigration_phase", **key, phase="switch") == 0
    assert _value(samples, "datamigration_state", **key, state="Succeeded") == 1
    assert _value(samples, "datamigration_state", **key, state="Running") == 0
    assert (_value(samples, "datamigration_state_since_timestamp_seconds", **key) or 0) > 0
    # Pending/Running -> Succeeded of migrate, each a history entry
    succeeded = _value(
        samples, "datamigration_phase_transitions_total", **key, phase="migrate", state="Succeeded"
    )
    assert succeeded == 1
    assert (_value(samples, "datamigration_reconcile_duration_seconds_count") or 0) >= 1
    assert _value(samples, "datamigration_reconcile_duration_seconds_bucket", le="+Inf") == (
        _value(samples, "datamigration_reconcile_duration_seconds_count")
    )

    # What a copy Job writes (status.progress) reaches the gauges without a reconcile.
    progress = {"job": "walked-migrate-x", "rowsTotal": 400, "rowsDone": 100, "percent": 25}
    sandbox.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "walked", {"status": {"progress": progress}}
    )
    samples = _scrape_until(
        url,
        "progress in /metrics",
        lambda s: _value(s, "datamigration_progress_percent", **key) == 25,
    )
    assert _value(samples, "datamigration_progress_rows_done", **key) == 100
    assert _value(samples, "datamigration_progress_rows_total", **key) == 400

    # A DataMigration held by a gate is Blocked in its own series.
    sandbox.core.delete_namespaced_secret("weaviate-auth", namespace)
    new_datamigration(sandbox, namespace, "gated")
    wait_for(lambda: state_is(sandbox, namespace, "gated", "Blocked"), "gated to be Blocked")
    samples = _scrape_until(
        url,
        "the Blocked state in /metrics",
        lambda s: (
            _value(s, "datamigration_state", namespace=namespace, name="gated", state="Blocked")
            == 1
        ),
    )
    assert _value(samples, "datamigration_state", **key, state="Succeeded") == 1

    # A deleted DataMigration's series go.
    sandbox.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "walked")
    samples = _scrape_until(
        url,
        "the deleted DataMigration's series to go",
        lambda s: _value(s, "datamigration_state", **key, state="Succeeded") is None,
    )
    assert not [name for name, labels in samples if ("name", "walked") in labels]

    # --log-format json: one JSON object a line, the operator's own records among them
    lines = [line for line in process.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records
    assert len(records) >= len(lines) - 2, lines[:5]
    assert all({"message", "severity", "timestamp"} <= r.keys() for r in records)
    assert any(
        re.search(r"serving metrics on http://0\.0\.0\.0:\d+/metrics", r["message"])
        for r in records
    )


def test_a_taken_metrics_port_stops_the_operator_with_the_reason(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = OperatorProcess(
            sandbox.kubeconfig, tmp_path / "operator.log", f"--metrics-port={port}"
        )
        process.start()
        assert process.process is not None
        assert process.process.wait(30) == 1
    assert f"metrics port {port} is in use" in process.log()
