"""KubeClient for synchronous code (the Job side), so the product keeps one client.

The Job's engine is synchronous, so the async client runs on a private event loop in a daemon
thread: a call blocks only its caller, from any thread, even one that runs an event loop of its
own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import kopf

from datamigration_operator.kube.client import KubeClient, Object
from datamigration_operator.kube.connection import load_connection
from datamigration_operator.kube.errors import KubeApiError, KubeConnectionError
from datamigration_operator.kube.resources import Resource
from datamigration_operator.kube.transport import HttpTransport, Transport

T = TypeVar("T")
CONNECT_ATTEMPTS: Final = 3
RETRY_BASE_DELAY: Final = 0.5


@runtime_checkable
class _Closable(Protocol):
    def close(self) -> Awaitable[None]: ...


def job_transport() -> Transport:
    """The pod's own credentials (its ServiceAccount, or $KUBECONFIG in the sandbox), read
    afresh on each call."""
    return HttpTransport(load_connection(kopf.OperatorSettings()))


class BlockingKubeClient:
    """The verbs the Job uses, blocking.

    `connect` makes the transport; it is called again after a 401, because a projected
    ServiceAccount token is rotated on disk while a long Job runs. Reads and merge patches
    (idempotent) are retried on connection errors, as the `kubernetes` client's urllib3 pool
    did; a create is not, since a lost answer would make a retry look like a taken name."""

    def __init__(
        self,
        connect: Callable[[], Transport] = job_transport,
        *,
        attempts: int = CONNECT_ATTEMPTS,
        retry_delay: float = RETRY_BASE_DELAY,
    ) -> None:
        self._connect = connect
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._client = KubeClient(connect())
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kube-client", daemon=True
        )
        self._thread.start()

    def get(
        self, resource: Resource, namespace: str, name: str, *, subresource: str | None = None
    ) -> Object | None:
        """None when the object does not exist."""
        return self._call(
            lambda c: c.get(resource, namespace, name, subresource=subresource), idempotent=True
        )

    def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> Object:
        return self._call(lambda c: c.create(resource, namespace, body), idempotent=False)

    def merge_patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> Object:
        return self._call(
            lambda c: c.merge_patch(resource, namespace, name, patch, subresource=subresource),
            idempotent=True,
        )

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._close_transport(self._client)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BlockingKubeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(
        self, request: Callable[[KubeClient], Coroutine[Any, Any, T]], *, idempotent: bool
    ) -> T:
        renewed = False
        attempt = 1
        while True:
            client = self._client
            try:
                return self._run(request(client))
            except KubeApiError as error:
                if error.code != 401 or renewed:
                    raise
                renewed = True
                self._renew(client)
            except KubeConnectionError:
                if not idempotent or attempt >= self._attempts:
                    raise
                time.sleep(self._retry_delay * 2 ** (attempt - 1))
                attempt += 1

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("the Kubernetes client is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _renew(self, stale: KubeClient) -> None:
        with self._lock:
            if self._client is stale:  # another thread may have renewed it already
                self._client = KubeClient(self._connect())
                self._close_transport(stale)

    def _close_transport(self, client: KubeClient) -> None:
        if isinstance(client.transport, _Closable):
            transport = client.transport

            async def close() -> None:
                await transport.close()

            self._run(close())
