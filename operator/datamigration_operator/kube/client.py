"""A thin async Kubernetes client: the verbs the operator uses, JSON in and out.

kopf exposes no general client and the `kubernetes` package is synchronous (it would block the
event loop every handler runs on), so requests go through a Transport (aiohttp). Synchronous
code (the Job side) uses the same client through kube/blocking.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datamigration_operator.kube.errors import KubeApiError
from datamigration_operator.kube.resources import Resource
from datamigration_operator.kube.transport import MERGE_PATCH, Transport

Object = dict[str, Any]


class KubeClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def get(
        self, resource: Resource, namespace: str, name: str, *, subresource: str | None = None
    ) -> Object | None:
        """None when the object does not exist."""
        try:
            obj: Object = await self.transport.request(
                "GET", resource.path(namespace, name, subresource)
            )
        except KubeApiError as exc:
            if exc.not_found:
                return None
            raise
        return obj

    async def list_all_namespaces(self, resource: Resource) -> list[Object]:
        result = await self.transport.request("GET", resource.all_namespaces_path())
        items: list[Object] = result.get("items") or []
        return items

    async def list(
        self, resource: Resource, namespace: str, *, label_selector: str | None = None
    ) -> list[Object]:
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self.transport.request("GET", resource.path(namespace), params=params)
        items: list[Object] = result.get("items") or []
        return items

    async def create(self, resource: Resource, namespace: str, body: Mapping[str, Any]) -> Object:
        created: Object = await self.transport.request(
            "POST", resource.path(namespace), body=dict(body)
        )
        return created

    async def merge_patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> Object:
        patched: Object = await self.transport.request(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=dict(patch),
            content_type=MERGE_PATCH,
        )
        return patched

    async def delete(
        self, resource: Resource, namespace: str, name: str, *, propagation: str = "Background"
    ) -> bool:
        """False when the object was already gone."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            await self.transport.request("DELETE", resource.path(namespace, name), body=body)
        except KubeApiError as exc:
            if exc.not_found:
                return False
            raise
        return True
