"""`dmctl bench reconcile --json` as a user runs it, with tiny settings: the JSON has every
figure and target, and every transition completed (the figures themselves are not asserted:
this is a shared, loaded machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_bench_reconcile_reports_every_figure_and_completes_every_transition(
    tmp_path: Path,
) -> None:
    command = [sys.executable, "-m", "datamigration_operator.cli.main", "bench", "reconcile"]
    command += ["--json", "--transitions", "10", "--datamigrations", "5", "--app-rollbacks", "2"]
    command += ["--work-dir", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("https_proxy", "http_proxy")}
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False, env=env
    )
    operator_log = (tmp_path / "operator.log").read_text(errors="replace")[-3000:]
    assert result.returncode == 0, result.stderr[-3000:] + operator_log
    report = json.loads(result.stdout)

    assert report["benchmark"] == "reconcile"
    assert report["transitions"] == {"requested": 10, "completed": 10}, operator_log
    for key, count in (
        ("patch_to_configmap", 10),
        ("patch_to_status", 10),
        ("rollback_to_rolled_back", 5),
    ):
        figures = report[key]
        assert figures["count"] == count
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    # ConfigMap first, status after it: the operator writes status once the mode is applied.
    assert report["patch_to_configmap"]["p50_ms"] <= report["patch_to_status"]["p50_ms"]
    rss = report["operator_rss_mb"]
    assert rss["idle"] > 0
    assert rss["loaded"] > 0
    # rollbacks of a running app: the ConfigMap first, then every pod (its rollout)
    app = report["app_rollback"]
    flipped, acknowledged = app["rollback_to_configmap"], app["rollback_to_every_pod"]
    assert flipped["count"] == acknowledged["count"] == 2
    assert 0 < flipped["max_ms"] < acknowledged["p50_ms"]
    assert app["app_load"]["failed"] == app["app_load"]["lost"] == 0
    targets = report["targets"]
    assert set(targets) == {
        "configmap_p99_ms",
        "rollback_p99_ms",
        "rss_mb_with_200_datamigrations",
        "rollback_configmap_p99_ms",
        "rollback_every_pod_p99_ms",
    }
    for target in targets.values():
        assert target["met"] == (target["value"] <= target["target"])
    assert targets["configmap_p99_ms"]["value"] == report["patch_to_configmap"]["p99_ms"]
    assert targets["rss_mb_with_200_datamigrations"]["measured_with"] == 5
