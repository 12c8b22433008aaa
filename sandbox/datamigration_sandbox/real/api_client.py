"""A small asyncio client of the real API server (aiohttp): JSON requests with a bearer token
over TLS verified against the cluster CA, and watches as streams of events."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class ApiStatusError(Exception):
    def __init__(self, code: int, body: Any) -> None:
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        super().__init__(f"{code}: {message}")
        self.code = code
        self.body = body


class ApiClient:
    def __init__(self, server: str, token: str, ca_pem: bytes) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.ca_pem = ca_pem
        self._ssl = ssl.create_default_context(cadata=ca_pem.decode())
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path) -> ApiClient:
        import base64

        document = yaml.safe_load(path.read_text())
        current = document["current-context"]
        context = next(c for c in document["contexts"] if c["name"] == current)["context"]
        cluster = next(c for c in document["clusters"] if c["name"] == context["cluster"])
        user = next(u for u in document["users"] if u["name"] == context["user"])["user"]
        ca = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
        return cls(cluster["cluster"]["server"], user["token"], ca)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=20),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        request_timeout: float = 30.0,
    ) -> Any:
        url = self.server + path + (f"?{urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._http().request(
            method,
            url,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=request_timeout),
        ) as response:
            text = await response.text()
            document = _parse(text)
            if response.status >= 400:
                raise ApiStatusError(response.status, document)
            return document

    async def get(self, path: str, **params: str) -> Any:
        return await self.request("GET", path, params=params or None)

    async def create(self, path: str, body: Any) -> Any:
        return await self.request("POST", path, body)

    async def merge_patch(self, path: str, body: Any) -> Any:
        return await self.request("PATCH", path, body, content_type=MERGE_PATCH)

    async def delete(self, path: str, body: Any = None) -> Any:
        return await self.request("DELETE", path, body)

    async def watch(
        self, path: str, resource_version: str, **params: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Events of one watch request (ends when the server closes it)."""
        query = {
            **params,
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "300",
        }
        url = f"{self.server}{path}?{urlencode(query)}"
        async with self._http().get(
            url, timeout=aiohttp.ClientTimeout(total=None, sock_read=330)
        ) as response:
            if response.status >= 400:
                raise ApiStatusError(response.status, _parse(await response.text()))
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)


def _parse(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text
