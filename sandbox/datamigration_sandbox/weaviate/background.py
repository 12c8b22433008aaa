"""Run a WeaviateServer on its own event loop in a daemon thread, for synchronous callers
(tests, benchmarks) that talk to it with weaviate-client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from datamigration_sandbox.weaviate.server import WeaviateServer


@contextmanager
def serving_in_background(server: WeaviateServer) -> Iterator[tuple[int, int]]:
    """Yields (http_port, grpc_port) on 127.0.0.1 while the server runs."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="weaviate-sandbox", daemon=True)
    thread.start()
    try:
        ports = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        try:
            yield ports
        finally:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
