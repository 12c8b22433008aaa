"""What the handlers share in one operator process: the client, the event recorder, one lock
per DataMigration (kopf serializes handlers per object, but Job and workload events reconcile
a DataMigration from other objects' handlers), counters for the liveness probe and the
Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import kopf

from datamigration_operator.handlers.config import OperatorConfig
from datamigration_operator.handlers.metrics import OperatorMetrics
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.events import EventRecorder
from datamigration_operator.kube.transport import HttpTransport

Key = tuple[str, str]  # (namespace, name)
log = logging.getLogger(__name__)


@dataclass
class Stats:
    reconciles: int = 0
    failures: int = 0
    last_success: datetime | None = None
    last_error: str | None = None


@dataclass
class Runtime:
    config: OperatorConfig
    client: KubeClient
    recorder: EventRecorder
    transport: HttpTransport | None = None
    stats: Stats = field(default_factory=Stats)
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    _locks: dict[Key, asyncio.Lock] = field(default_factory=dict)
    _validations: dict[Key, Any] = field(default_factory=dict)
    _rechecks: dict[Key, asyncio.Task[None]] = field(default_factory=dict)

    def lock(self, key: Key) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def validation_changed(self, key: Key, validation: Any) -> bool:
        """True once per new status.validation a Job (or anyone) writes."""
        if self._validations.get(key) == validation:
            return False
        self._validations[key] = validation
        return True

    def recheck_soon(self, key: Key, delay: float, replan: Callable[[], Awaitable[None]]) -> None:
        """Runs `replan` after `delay`, once however often asked meanwhile: for a change no
        watched object announces (a terminating pod's exit leaves its Deployment unchanged)."""
        if key in self._rechecks:
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            del self._rechecks[key]
            try:
                await replan()
            except kopf.TemporaryError as exc:
                # The pod's exit announces nothing: without this, the mode's application would
                # wait for the resync timer (10 s) after one failed API call.
                again = max(delay, exc.delay or 0.0)
                log.warning(
                    "re-plan of DataMigration %s/%s failed (again in %.1f s): %s", *key, again, exc
                )
                self.recheck_soon(key, again, replan)
            except kopf.PermanentError as exc:
                log.warning("re-plan of DataMigration %s/%s failed: %s", *key, exc)

        self._rechecks[key] = asyncio.get_running_loop().create_task(later())

    def forget(self, key: Key) -> None:
        recheck = self._rechecks.pop(key, None)
        if recheck is not None:
            recheck.cancel()
        self._locks.pop(key, None)
        self._validations.pop(key, None)
        self.metrics.forget(*key)

    async def close(self) -> None:
        for recheck in self._rechecks.values():
            recheck.cancel()
        self._rechecks.clear()
        if self.transport is not None:
            await self.transport.close()


def runtime_of(memo: Any) -> Runtime:
    runtime = memo.get("runtime")
    if not isinstance(runtime, Runtime):
        raise kopf.PermanentError("the operator runtime is not initialized (startup failed?)")
    return runtime


def metrics_of(memo: Any) -> OperatorMetrics:
    """The process's metrics (run_operator puts them in the memo before it serves them)."""
    metrics = memo.get("metrics")
    return metrics if isinstance(metrics, OperatorMetrics) else OperatorMetrics()


def config_of(memo: Any) -> OperatorConfig:
    config = memo.get("config")
    return config if isinstance(config, OperatorConfig) else OperatorConfig.from_env()
