"""A Store and a JobRunner on the test's event loop (no HTTP), plus helpers to wait for Jobs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from datamigration_sandbox.jobs.runner import JobRunner
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError
from datamigration_sandbox.kube.store import Store

NAMESPACE = "default"


@dataclass
class Cluster:
    store: Store
    runner: JobRunner
    data_dir: Path

    def rt(self, group: str, plural: str) -> ResourceType:
        version = "v1"
        return self.store.lookup(group, version, plural)

    @property
    def jobs(self) -> ResourceType:
        return self.rt("batch", "jobs")

    @property
    def pods(self) -> ResourceType:
        return self.rt("", "pods")

    def create(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.store.create(self.rt(group, plural), NAMESPACE, obj)

    def create_job(self, name: str, script: str, **spec: Any) -> dict[str, Any]:
        """A Job whose container runs `python -c script`; `spec` and `container` override."""
        container = {"name": "main", "image": "sandbox/python:3.11"}
        container.update(spec.pop("container", {}))
        container.setdefault("command", [sys.executable, "-c", script])
        pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
        pod_spec.update(spec.pop("pod", {}))
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {"template": {"spec": pod_spec}, **spec},
        }
        return self.store.create(self.jobs, NAMESPACE, body)

    def job(self, name: str) -> dict[str, Any] | None:
        try:
            return self.store.get(self.jobs, NAMESPACE, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def pods_of(self, job: str) -> list[dict[str, Any]]:
        items, _ = self.store.list(self.pods, NAMESPACE, label_selector=f"job-name={job}")
        return items

    async def wait_for(
        self, predicate: Callable[[], Any], within: float = 10.0, what: str = "condition"
    ) -> Any:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            value = predicate()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def wait_finished(self, name: str, within: float = 10.0) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            job = self.job(name)
            conditions = ((job or {}).get("status") or {}).get("conditions") or []
            done = any(
                c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions
            )
            return job if done else None

        result: dict[str, Any] = await self.wait_for(finished, within, f"job {name} to finish")
        return result


def conditions(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    store = Store()
    runner = JobRunner(
        store,
        data_dir=tmp_path,
        api_url="http://127.0.0.1:1",
        retry_base_delay=0.05,
        retry_max_delay=0.2,
        kill_grace=0.5,
    )
    runner.start()
    try:
        yield Cluster(store, runner, tmp_path)
    finally:
        await runner.stop()
