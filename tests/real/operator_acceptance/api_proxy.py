"""An HTTPS proxy in front of the real API server, so a test can act between the API server's
answer and the client reading it.

Every request is forwarded as it came (the bearer token header included: the real plane's
kubeconfigs authenticate with static tokens, no client certificates); reads and watches stream
back chunk by chunk. The answer to a write (POST, PUT, PATCH, DELETE) is read whole and handed to
`on_answer` before it is passed on: a hook that SIGKILLs the client there kills it after the
API server committed the write and before the client knows.

It serves the API server's own certificate, so a kubeconfig that differs only in the port works.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp
from aiohttp import web
from yarl import URL

AnswerHook = Callable[[str, str, int, bytes], None]
"""(method, path, status, body) of an answered write, on the proxy's thread."""

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Per connection, or set by aiohttp itself on either side.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
        "date",
        "server",
    }
)


def _forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


class ApiProxy:
    def __init__(self, upstream: str, ca_file: Path, cert_file: Path, key_file: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.on_answer: AnswerHook | None = None
        self._client_tls = ssl.create_default_context(cafile=str(ca_file))
        self._server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_tls.load_cert_chain(str(cert_file), str(key_file))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="api-proxy", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._client_tls),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        # a client that goes away (a killed operator) ends its streams upstream at once
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._server_tls)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = _forwarded_headers(request.headers)
        headers["Accept-Encoding"] = "identity"  # answers the hook can read as they are
        async with self._session.request(
            request.method,
            URL(self.upstream + request.raw_path, encoded=True),
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as answer:
            answer_headers = _forwarded_headers(answer.headers)
            if request.method in _WRITES:
                payload = await answer.read()
                hook = self.on_answer
                if hook is not None:
                    hook(request.method, request.path, answer.status, payload)
                return web.Response(status=answer.status, body=payload, headers=answer_headers)
            response = web.StreamResponse(status=answer.status, headers=answer_headers)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
