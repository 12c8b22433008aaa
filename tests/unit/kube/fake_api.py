"""An in-memory Transport: objects by path, merge patches, label selectors, preconditions and
409/404 Status errors like the API server; it records every request (method, path)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from datamigration_operator.kube.errors import KubeApiError, KubeError
from datamigration_operator.reconcile.status_patch import apply_merge_patch


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, Any]] = []
        self.fail: dict[tuple[str, str], KubeError] = {}
        """(method, path) -> the error that request raises."""
        self._versions = itertools.count(100)

    def put(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` at `path` (collection path + "/" + name)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("name", path.rsplit("/", 1)[1])
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[path] = obj
        return obj

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        self.requests.append((method, path))
        self.bodies.append((method, path, copy.deepcopy(body)))
        if (method, path) in self.fail:
            raise self.fail[(method, path)]
        if method == "GET":
            return self._get(path.removesuffix("/status"), params or {})
        if method == "POST":
            name = body["metadata"].get("name")
            target = f"{path}/{name}"
            if target in self.objects:
                raise KubeApiError(409, "AlreadyExists", f'"{name}" already exists')
            return self.put(target, body)
        if method == "PATCH":
            assert content_type == "application/merge-patch+json"
            target = path.removesuffix("/status")
            current = self._existing(target)
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise KubeApiError(409, "Conflict", "the object has been modified")
            return self.put(target, apply_merge_patch(current, body))
        if method == "DELETE":
            self._existing(path)
            del self.objects[path]
            return {"kind": "Status", "status": "Success"}
        raise AssertionError(f"unexpected {method} {path}")

    def _existing(self, path: str) -> dict[str, Any]:
        if path not in self.objects:
            raise KubeApiError(404, "NotFound", f"{path} not found")
        return self.objects[path]

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        if path in self.objects:
            return copy.deepcopy(self.objects[path])
        items = [
            copy.deepcopy(obj)
            for key, obj in self.objects.items()
            if _in_collection(key.rsplit("/", 1)[0], path)
            and _matches(obj, params.get("labelSelector"))
        ]
        if path.rsplit("/", 1)[1] in _COLLECTIONS:
            return {"kind": "List", "items": items}
        raise KubeApiError(404, "NotFound", f"{path} not found")


_COLLECTIONS = (
    "jobs",
    "pods",
    "configmaps",
    "secrets",
    "events",
    "deployments",
    "statefulsets",
    "persistentvolumeclaims",
    "datamigrations",
)


def _in_collection(parent: str, path: str) -> bool:
    """`parent` (a namespaced collection path) lists under `path`: itself, or the same
    resource across all namespaces (`/apis/g/v/plural`)."""
    if parent == path:
        return True
    head, _, rest = parent.partition("/namespaces/")
    return "/namespaces/" not in path and f"{head}/{rest.split('/', 1)[-1]}" == path


def _matches(obj: dict[str, Any], selector: str | None) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        key, value = term.split("=", 1)
        if labels.get(key) != value:
            return False
    return True
