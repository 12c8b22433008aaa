"""The sync loop an owner controller (a Job's, a Deployment's) runs, as kube-controller-manager
workers do: sync, then sleep until woken (an event of the owner or of one of its pods) or until
the sync's own deadline; an error retries soon. Subclasses write `_sync`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from datamigration_sandbox.kube.status_errors import ApiError

_log = logging.getLogger(__name__)
ERROR_RETRY_SECONDS = 0.5


class SyncLoop:
    kind = "owner"  # names the task and the log lines

    def __init__(
        self, namespace: str, name: str, uid: str, on_closed: Callable[[Any], None]
    ) -> None:
        self.namespace, self.name, self.uid = namespace, name, uid
        self._on_closed = on_closed
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"{self.kind} {self.namespace}/{self.name}")

    def wake(self) -> None:
        self._wake.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def _sync(self) -> float | None:
        """One reconciliation; seconds until the next one is due by itself (None: only when
        woken)."""
        raise NotImplementedError

    async def _cancel(self) -> None:
        """Stop the loop now (the control plane is stopping)."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        try:
            while not self._closed:
                self._wake.clear()
                try:
                    timeout = self._sync()
                except ApiError as exc:  # the store refused a write: try again soon
                    _log.warning("%s %s/%s: sync failed: %s", self.kind, *self._names(), exc)
                    timeout = ERROR_RETRY_SECONDS
                except Exception:
                    _log.exception("%s %s/%s: sync failed", self.kind, *self._names())
                    timeout = ERROR_RETRY_SECONDS
                if self.closed:  # close() during the sync (a property: mypy narrows the field)
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):  # not wait_for: see pod_worker
                        await self._wake.wait()
        finally:
            self._on_closed(self)

    def _names(self) -> tuple[str, str]:
        return self.namespace, self.name
