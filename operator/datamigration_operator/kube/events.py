"""core/v1 Events like client-go's recorder: a repeat of the same event bumps `count` and
`lastTimestamp` of the existing object instead of creating another one."""

from __future__ import annotations

import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from datamigration_operator.api.names import OPERATOR_NAME
from datamigration_operator.api.reasons import EventType
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.resources import EVENTS

MAX_MESSAGE: Final = 1024
_CACHE_SIZE: Final = 4096


@dataclass(frozen=True)
class InvolvedObject:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def reference(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
        }


_Key = tuple[str, str, str, str]  # (uid, type, reason, message)


class EventRecorder:
    def __init__(self, client: KubeClient, *, instance: str | None = None) -> None:
        self._client = client
        self._instance = instance or socket.gethostname()
        # key -> (event name, count); bounded so a long-running operator does not grow.
        self._seen: OrderedDict[_Key, tuple[str, int]] = OrderedDict()

    async def record(
        self, involved: InvolvedObject, type_: EventType, reason: str, message: str
    ) -> None:
        message = message[:MAX_MESSAGE]
        key = (involved.uid, type_, reason, message)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        seen = self._seen.get(key)
        if seen is not None:
            name, count = seen
            try:
                await self._client.merge_patch(
                    EVENTS, involved.namespace, name, {"count": count + 1, "lastTimestamp": now}
                )
            except KubeApiError as exc:
                if not exc.not_found:
                    raise
                # Expired or deleted: start over with a new object, as client-go does.
            else:
                self._remember(key, name, count + 1)
                return
        name = f"{involved.name}.{time.time_ns():x}"
        await self._client.create(
            EVENTS, involved.namespace, self._event(involved, name, type_, reason, message, now)
        )
        self._remember(key, name, 1)

    def _remember(self, key: _Key, name: str, count: int) -> None:
        self._seen[key] = (name, count)
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)

    def _event(
        self,
        involved: InvolvedObject,
        name: str,
        type_: EventType,
        reason: str,
        message: str,
        now: str,
    ) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": involved.namespace},
            "involvedObject": involved.reference(),
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": OPERATOR_NAME},
            "reportingComponent": OPERATOR_NAME,
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
