"""How a request reaches the API server: over HTTPS (aiohttp), or in memory in unit tests."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import kopf

from datamigration_operator.kube.errors import KubeApiError, KubeConnectionError

MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"


class Transport(Protocol):
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        """The decoded JSON response; raises KubeApiError or KubeConnectionError."""


class HttpTransport:
    """One aiohttp session with the credentials of a kopf.ConnectionInfo: a bearer token or
    basic auth in the header, a client certificate in the TLS context."""

    def __init__(self, info: kopf.ConnectionInfo, *, timeout: float = 30.0) -> None:
        self._server = info.server.rstrip("/")
        self._headers = {"Accept": JSON, **info.as_http_headers()}
        # The kubeconfig's CA and client certificate, as files or inline data (kind and kubeadm
        # write `client-certificate-data`; kopf puts such data in a temporary file for a moment,
        # as Python's ssl loads certificates from files only), or no verification if insecure.
        self._ssl: ssl.SSLContext = info.as_ssl_context()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use: aiohttp sessions belong to the loop that runs them.
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=32)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=self._timeout
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
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        session = self._open()
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            async with session.request(
                method, self._server + path, params=params, data=data, headers=headers
            ) as response:
                text = await response.text()
                status, response_headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeConnectionError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = {"message": text[:200]}
        if status >= 400:
            raise _api_error(status, payload, response_headers)
        return payload


def _api_error(code: int, payload: Any, headers: Mapping[str, str]) -> KubeApiError:
    status = payload if isinstance(payload, dict) else {}
    retry_after = headers.get("Retry-After")
    return KubeApiError(
        code,
        str(status.get("reason") or "Unknown"),
        str(status.get("message") or f"HTTP {code}"),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
