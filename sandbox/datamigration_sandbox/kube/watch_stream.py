"""Serves a watch as kube-apiserver does: HTTP 200 with a chunked stream of
{"type": ..., "object": ...} JSON lines, BOOKMARK events on request, and errors that happen
after the request was accepted (a too-old resourceVersion) as one ERROR event with a Status."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from aiohttp import web

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError, bad_request

# kube-apiserver picks a random timeout in [30m, 60m) when the client does not set one.
DEFAULT_TIMEOUT = 1800.0


class WatchEvents(Protocol):
    """What the store's watch gives us: events, a backlog count, and close()."""

    def __aiter__(self) -> AsyncIterator[Any]: ...

    def pending(self) -> int: ...

    def close(self) -> None: ...


def parse_timeout(text: str | None) -> float:
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = int(text)
    except ValueError:
        raise bad_request(f"invalid timeoutSeconds {text!r}: must be an integer") from None
    return float(seconds) if seconds > 0 else DEFAULT_TIMEOUT


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def _start(request: web.BaseRequest) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def stream_error(request: web.BaseRequest, error: ApiError) -> web.StreamResponse:
    """The answer to a watch the store refused after it was accepted: one ERROR event."""
    response = await _start(request)
    await response.write(_line("ERROR", error.status()))
    await response.write_eof()
    return response


class WatchStreamer:
    """Copies one store watch to one HTTP response until timeout, disconnect or server stop."""

    def __init__(
        self,
        rt: ResourceType,
        watch: WatchEvents,
        current_rv: Callable[[], str],
        *,
        timeout: float,
        bookmarks: bool,
        bookmark_interval: float,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """`transform` rewrites each event's object (e.g. into a Table for `kubectl get -w`)."""
        self._rt = rt
        self._watch = watch
        self._current_rv = current_rv
        self._deadline = time.monotonic() + timeout
        self._bookmarks = bookmarks
        self._interval = bookmark_interval
        self._transform = transform

    def _bookmark(self) -> bytes:
        obj = {
            "kind": self._rt.kind,
            "apiVersion": self._rt.api_version,
            "metadata": {"resourceVersion": self._current_rv()},
        }
        return _line("BOOKMARK", obj)

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        response = await _start(request)
        events = self._watch.__aiter__()
        try:
            while True:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(remaining, self._interval) if self._bookmarks else remaining
                try:
                    async with asyncio.timeout(wait):
                        event = await anext(events)
                except TimeoutError:
                    # With nothing queued, every committed change up to the store's current
                    # resourceVersion has been sent, so a bookmark at that version is exact.
                    if self._bookmarks and self._watch.pending() == 0:
                        await response.write(self._bookmark())
                    continue
                except StopAsyncIteration:
                    break
                obj = self._transform(event.object) if self._transform else event.object
                await response.write(_line(event.type, obj))
            if self._bookmarks and self._watch.pending() == 0:
                await response.write(self._bookmark())
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away; nothing left to write to
        finally:
            self._watch.close()
        return response
