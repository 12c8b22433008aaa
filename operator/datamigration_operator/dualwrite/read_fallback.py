"""A deadline and a circuit breaker around Weaviate reads, so a fallback happens in time.

weaviate-client retries an UNAVAILABLE query with exponential backoff for about a minute
(1+2+4+...+32 s) before it raises: far too long for a request an app is serving. Each read runs
on a daemon thread and is abandoned after `timeout` seconds (the thread ends when the client
gives up); after a failure or a timeout the breaker stays open for `cooldown` seconds, during
which reads fail at once instead of piling up threads behind a dead server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class WeaviateReadError(Exception):
    """A read the guard did not let through (its own errors, beside the client's)."""


class WeaviateReadTimeoutError(WeaviateReadError):
    """Weaviate did not answer a read within the deadline."""


class WeaviateReadSkippedError(WeaviateReadError):
    """The breaker is open after a recent Weaviate failure: the read was not attempted."""


def read_errors() -> tuple[type[Exception], ...]:
    """What a failed Weaviate read raises: the client's errors and the guard's. The client is
    imported on first use, not at the app's start-up (it costs ~0.6 s of a rollout)."""
    from weaviate.exceptions import WeaviateBaseError

    return (WeaviateBaseError, WeaviateReadError)


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class ReadGuard:
    def __init__(
        self,
        *,
        timeout: float = 2.0,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if cooldown < 0:
            raise ValueError(f"cooldown must be >= 0 seconds, got {cooldown}")
        self.timeout = timeout
        self.cooldown = cooldown
        self._clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._clock() < self._open_until

    def call(self, read: Callable[[], T]) -> T:
        """read() within the deadline; Weaviate errors (and timeouts) open the breaker."""
        if self.is_open:
            raise WeaviateReadSkippedError("Weaviate failed recently; read not attempted")
        outcome: _Outcome[T] = _Outcome()

        def run() -> None:
            try:
                outcome.value = read()
            except BaseException as error:  # handed over to the caller's thread
                outcome.error = error
            finally:
                outcome.done.set()

        threading.Thread(target=run, name="weaviate-read", daemon=True).start()
        if not outcome.done.wait(self.timeout):
            self._trip()
            raise WeaviateReadTimeoutError(f"Weaviate did not answer within {self.timeout:g} s")
        if outcome.error is not None:
            if isinstance(outcome.error, read_errors()):
                self._trip()
            raise outcome.error
        return cast(T, outcome.value)  # None is a legitimate answer (no such object)

    def _trip(self) -> None:
        with self._lock:
            self._open_until = self._clock() + self.cooldown
