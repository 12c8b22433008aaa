"""Shadow reads: the other store's answer to a sampled read, fetched and compared off the
request's path.

One daemon worker drains a bounded queue; a full queue drops the shadow read (counted), it
never blocks or slows the request that sampled it. A shadow read's own failure is counted by
the task, never raised into the app.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)
DEFAULT_QUEUE: Final = 256

Task = Callable[[], None]


class ShadowReads:
    def __init__(self, *, max_queue: int = DEFAULT_QUEUE, on_drop: Callable[[], None]) -> None:
        if max_queue < 1:
            raise ValueError("the shadow-read queue needs room for at least one read")
        self._queue: queue.Queue[Task | None] = queue.Queue(maxsize=max_queue)
        self._on_drop = on_drop
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, task: Task) -> bool:
        """Queues `task`; False (and counted as dropped) when the queue is full."""
        self._ensure_worker()
        try:
            self._queue.put_nowait(task)
        except queue.Full:
            self._on_drop()
            return False
        return True

    def join(self) -> None:
        """Waits until every queued shadow read ran (tests and a clean stop)."""
        self._queue.join()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)  # after what is queued: those still run
            thread.join(timeout=5)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shadow-reads", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is None:
                    return
                task()
            except Exception:
                log.exception("shadow read failed")
            finally:
                self._queue.task_done()
