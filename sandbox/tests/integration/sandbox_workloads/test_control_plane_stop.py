"""Stopping the control plane kills every pod process it runs, restarting ones included."""

from __future__ import annotations

from pathlib import Path

from sandbox_workloads.conftest import (
    app_deployment,
    free_port,
    http_get,
    process_alive,
    start_sandbox,
    wait_for,
)


def test_stop_kills_every_pod_process(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path)
    stopped = False
    try:
        box.core.create_namespaced_config_map(
            "default", {"metadata": {"name": "app-config"}, "data": {"migration_mode": "x"}}
        )
        ports = [free_port(), free_port()]
        for index, port in enumerate(ports):
            box.apps.create_namespaced_deployment("default", app_deployment(f"app-{index}", port))
        pids = [int(wait_for(lambda p=p: http_get(p, "/pid"), "the app")[1]) for p in ports]
        assert all(process_alive(pid) for pid in pids)

        box.thread.stop()
        stopped = True

        wait_for(lambda: not any(process_alive(pid) for pid in pids), "every process to end")
    finally:
        box.api.close()
        if not stopped:
            box.thread.stop()
