"""limit/continue paging of list responses, with continue tokens shaped like kube-apiserver's
(base64 of {"v": "meta.k8s.io/v1", "rv": N, "start": "<key>"})."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from datamigration_sandbox.kube.status_errors import bad_request


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    return f"{namespace}/{meta.get('name', '')}"


def encode_continue(resource_version: str, last_key: str) -> str:
    # "\x00" sorts right after last_key: the next page starts strictly after it.
    token = {"v": "meta.k8s.io/v1", "rv": int(resource_version), "start": last_key + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def decode_continue(token: str) -> tuple[str, str]:
    """(resourceVersion of the first page, key the next page starts at); 400 when malformed."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError("wrong version")
        return str(int(data["rv"])), str(data["start"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from None


def parse_limit(text: str | None) -> int:
    if not text:
        return 0
    try:
        limit = int(text)
    except ValueError:
        raise bad_request(f"invalid limit {text!r}: must be an integer") from None
    return max(limit, 0)


def paginate(
    items: list[dict[str, Any]], resource_version: str, *, limit: int, continue_token: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of `items` (sorted by namespace/name, as etcd keys are) and its list metadata."""
    items = sorted(items, key=object_key)
    list_rv = resource_version
    if continue_token:
        list_rv, start = decode_continue(continue_token)
        items = [item for item in items if object_key(item) >= start]
    meta: dict[str, Any] = {"resourceVersion": list_rv}
    if limit and len(items) > limit:
        page = items[:limit]
        meta["continue"] = encode_continue(list_rv, object_key(page[-1]))
        meta["remainingItemCount"] = len(items) - limit
        return page, meta
    return items, meta
