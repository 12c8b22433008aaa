"""Watch streams: a bounded event history and per-watcher queues with selector filtering.

Filtering follows the API server's watch cache: a MODIFIED object that starts matching a
watcher's selectors arrives as ADDED, one that stops matching arrives as DELETED (with its
previous content and the new resourceVersion).
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)


@dataclass(frozen=True)
class WatchEvent:
    type: str  # "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"
    object: dict[str, Any]


@dataclass(frozen=True)
class RecordedEvent:
    """One committed change, as kept in the history; objects are never mutated after commit."""

    resource_version: int
    type: str
    key: tuple[str, str]
    object: dict[str, Any]
    old: dict[str, Any] | None


class ObjectFilter:
    """Namespace plus label and field selectors of one list or watch request."""

    def __init__(self, namespace: str | None, label_selector: str, field_selector: str) -> None:
        self.namespace = namespace
        self._labels: LabelSelector | None = (
            parse_label_selector(label_selector) if label_selector else None
        )
        self._fields: FieldSelector | None = (
            parse_field_selector(field_selector) if field_selector else None
        )

    def matches(self, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self._labels is not None and not self._labels.matches(meta.get("labels") or {}):
            return False
        return self._fields is None or self._fields.matches(obj)


_CLOSED = object()


class Watch:
    """An async iterator of WatchEvent for one resource type; close() ends it."""

    def __init__(self, hub: WatchHub, rt: ResourceType, object_filter: ObjectFilter) -> None:
        self.rt = rt
        self._hub = hub
        self._filter = object_filter
        self._queue: asyncio.Queue[WatchEvent | object] = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, WatchEvent):
            return item
        raise StopAsyncIteration

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.unregister(self)
            self._queue.put_nowait(_CLOSED)

    def pending(self) -> int:
        """Events queued and not yet consumed."""
        return self._queue.qsize()

    def offer_initial(self, objects: Iterable[dict[str, Any]]) -> None:
        for obj in objects:
            if self._filter.matches(obj):
                self._put("ADDED", obj)

    def offer(self, event: RecordedEvent) -> None:
        if self.closed or event.key != self.rt.key:
            return
        now_matches = self._filter.matches(event.object)
        if event.type != "MODIFIED" or event.old is None:
            if now_matches:
                self._put(event.type, event.object)
            return
        was_matching = self._filter.matches(event.old)
        if now_matches:
            self._put("MODIFIED" if was_matching else "ADDED", event.object)
        elif was_matching:
            gone = copy.deepcopy(event.old)
            gone["metadata"]["resourceVersion"] = str(event.resource_version)
            self._put("DELETED", gone)

    def _put(self, event_type: str, obj: dict[str, Any]) -> None:
        out = copy.deepcopy(obj)
        out["apiVersion"] = self.rt.api_version
        out["kind"] = self.rt.kind
        self._queue.put_nowait(WatchEvent(event_type, out))


class WatchHub:
    """The event history of one store and its live watchers."""

    def __init__(self, history_size: int) -> None:
        if history_size < 1:
            raise ValueError("watch history must keep at least one event")
        self._history: deque[RecordedEvent] = deque(maxlen=history_size)
        self._expired_through = 0  # resourceVersion of the newest event dropped from history
        self._watchers: list[Watch] = []

    def record(self, event: RecordedEvent) -> None:
        if len(self._history) == self._history.maxlen:
            self._expired_through = self._history[0].resource_version
        self._history.append(event)
        for watcher in list(self._watchers):
            watcher.offer(event)

    def open(
        self,
        rt: ResourceType,
        object_filter: ObjectFilter,
        resource_version: str | None,
        current: Iterable[dict[str, Any]],
    ) -> Watch:
        watch = Watch(self, rt, object_filter)
        if resource_version in (None, "", "0"):
            watch.offer_initial(current)
        else:
            since = parse_resource_version(resource_version)
            if since < self._expired_through:
                raise status_errors.gone(
                    f"too old resource version: {since} ({self._expired_through})"
                )
            for event in self._history:
                if event.resource_version > since:
                    watch.offer(event)
        self._watchers.append(watch)
        return watch

    def unregister(self, watch: Watch) -> None:
        if watch in self._watchers:
            self._watchers.remove(watch)

    def close_all(self, key: tuple[str, str]) -> None:
        """Ends every watch of a storage key, as the server does when a CRD goes away."""
        for watcher in list(self._watchers):
            if watcher.rt.key == key:
                watcher.close()


def parse_resource_version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise status_errors.bad_request(f'invalid resource version "{text}"') from None
    if value < 0:
        raise status_errors.bad_request(f'invalid resource version "{text}"')
    return value
