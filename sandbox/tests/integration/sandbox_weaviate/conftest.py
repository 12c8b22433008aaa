"""A sandbox Weaviate on a loop in a background thread, for the synchronous weaviate-client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import weaviate
from weaviate.auth import Auth

from datamigration_sandbox.weaviate.server import WeaviateServer

T = TypeVar("T")
API_KEY = "sandbox-test-key"


@dataclass
class RunningWeaviate:
    server: WeaviateServer
    http_port: int
    grpc_port: int
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def connect(self, api_key: str | None = API_KEY) -> weaviate.WeaviateClient:
        return weaviate.connect_to_custom(
            http_host="127.0.0.1",
            http_port=self.http_port,
            http_secure=False,
            grpc_host="127.0.0.1",
            grpc_port=self.grpc_port,
            grpc_secure=False,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
            skip_init_checks=False,
        )


def _serve(make: Callable[[], WeaviateServer]) -> Iterator[RunningWeaviate]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[WeaviateServer, int, int]:
        server = make()
        http_port, grpc_port = await server.start()
        return server, http_port, grpc_port

    server, http_port, grpc_port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    running = RunningWeaviate(server, http_port, grpc_port, loop)
    try:
        yield running
    finally:
        running.run(server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.fixture
def sandbox() -> Iterator[RunningWeaviate]:
    yield from _serve(lambda: WeaviateServer(api_key=API_KEY))


@pytest.fixture
def strict_sandbox() -> Iterator[RunningWeaviate]:
    yield from _serve(lambda: WeaviateServer(api_key=API_KEY, auto_schema=False))
