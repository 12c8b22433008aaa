"""How a request reaches the API server: over HTTPS (aiohttp), or in memory in unit tests."""

from __future__ import annotations

import base64
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


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    """Verification against the kubeconfig's CA (file or base64 data), or the system roots."""
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=info.ca_path)
    if info.ca_data:
        data = info.ca_data.encode() if isinstance(info.ca_data, str) else info.ca_data
        context.load_verify_locations(cadata=base64.b64decode(data).decode())
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(info.certificate_path, info.private_key_path)
    return context


class HttpTransport:
    """One aiohttp session with the credentials of a kopf.ConnectionInfo (bearer token)."""

    def __init__(self, info: kopf.ConnectionInfo, *, timeout: float = 30.0) -> None:
        self._server = info.server.rstrip("/")
        self._headers = {"Accept": JSON}
        if info.token:
            self._headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        self._ssl = ssl_context(info)
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
