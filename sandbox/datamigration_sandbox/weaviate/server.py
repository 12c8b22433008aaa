"""`WeaviateServer`: the REST (aiohttp) and gRPC (grpc.aio) halves on the running event loop."""

from __future__ import annotations

from typing import Any

import grpc
from aiohttp import web

from datamigration_operator.gc_thresholds import raise_thresholds
from datamigration_sandbox.weaviate.database import Database
from datamigration_sandbox.weaviate.faults import Faults
from datamigration_sandbox.weaviate.grpc_service import (
    WeaviateService,
    add_service,
    health_handler,
)
from datamigration_sandbox.weaviate.rest_api import GRPC_MAX_MESSAGE_SIZE, RestApi


class WeaviateServer:
    """An in-memory Weaviate 1.32 for weaviate-client v4; `faults` may be changed while running.

    `auto_schema=False` refuses properties missing from the schema instead of adding them.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        faults: Faults | None = None,
        auto_schema: bool = True,
    ) -> None:
        self.api_key = api_key
        self.faults = faults if faults is not None else Faults()
        self.database = Database(auto_schema=auto_schema)
        self._runner: web.AppRunner | None = None
        self._grpc: Any = None

    async def start(
        self, host: str = "127.0.0.1", http_port: int = 0, grpc_port: int = 0
    ) -> tuple[int, int]:
        """Listen on both ports (0 = a free one); returns (http_port, grpc_port)."""
        if self._runner is not None:
            raise RuntimeError("the Weaviate server is already running")
        # millions of long-lived objects: the default collector re-walks them on every write
        raise_thresholds()
        rest = RestApi(self.database, self.api_key)
        runner = web.AppRunner(rest.application(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, http_port)
        await site.start()
        self._runner = runner
        bound_http = int(runner.addresses[0][1])

        options = [
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_SIZE),
            ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_SIZE),
        ]
        server = grpc.aio.server(options=options)
        add_service(WeaviateService(self.database, self.faults, self.api_key), server)
        server.add_generic_rpc_handlers((health_handler(),))
        bound_grpc = int(server.add_insecure_port(f"{host}:{grpc_port}"))
        await server.start()
        self._grpc = server
        return bound_http, bound_grpc

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(grace=None)
            self._grpc = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
