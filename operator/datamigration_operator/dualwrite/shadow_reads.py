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
        self._later = 0  # tasks waiting for their delay (submit_later)
        self._settled = threading.Condition(self._lock)

    def submit(self, task: Task) -> bool:
        """Queues `task`; False (and counted as dropped) when the queue is full."""
        self._ensure_worker()
        try:
            self._queue.put_nowait(task)
        except queue.Full:
            self._on_drop()
            return False
        return True

    def submit_later(self, delay: float, task: Task) -> None:
        """Queues `task` after `delay` seconds (a second look), without holding the worker."""

        def due() -> None:
            try:
                self.submit(task)
            finally:
                with self._settled:
                    self._later -= 1
                    self._settled.notify_all()

        with self._settled:
            self._later += 1
        timer = threading.Timer(delay, due)
        timer.daemon = True
        timer.start()

    def join(self) -> None:
        """Waits until every queued and delayed shadow read ran (tests and a clean stop)."""
        while True:
            self._queue.join()
            with self._settled:
                if self._later == 0 and self._queue.unfinished_tasks == 0:
                    return
                self._settled.wait_for(lambda: self._later == 0)

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
