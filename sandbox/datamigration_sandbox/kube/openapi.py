"""OpenAPI documents: /openapi/v3 (index and one document per group-version) and /openapi/v2.

kubectl reads them to decide whether the server supports the `fieldValidation` query parameter
(a PATCH operation tagged with the kind's x-kubernetes-group-version-kind that lists it); when it
does, kubectl skips client-side validation and leaves it to the server. Built-in kinds get paths
but no schemas, so kubectl's strategic merge patch falls back to its compiled-in types; custom
resources get their CRD's openAPIV3Schema.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from datamigration_sandbox.kube.discovery import GIT_VERSION
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError

_QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "pretty")
_INFO = {"title": "Kubernetes", "version": GIT_VERSION}


def gv_path(group: str, version: str) -> str:
    """The index key of a group-version: "api/v1" or "apis/{group}/{version}"."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_name(rt: ResourceType) -> str:
    """The definition name kube-openapi uses, e.g. io.k8s.api.batch.v1.Job or ai.gremlins.x.v1.K."""
    if rt.from_crd is not None:
        reversed_group = ".".join(reversed(rt.group.split(".")))
        return f"{reversed_group}.{rt.version}.{rt.kind}"
    package = rt.group.split(".")[0] if rt.group else "core"
    return f"io.k8s.api.{package}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _parameters() -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in _QUERY_PARAMETERS
    ]


def _operation(rt: ResourceType, action: str, verb: str, schema: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": "OK"}
    if schema is not None:
        ref = {"$ref": f"#/components/schemas/{schema}"}
        response["content"] = {"application/json": {"schema": ref}}
    return {
        "operationId": f"{verb}{rt.kind}",
        "parameters": _parameters() if action in ("post", "put", "patch") else [],
        "responses": {"200": response},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }


def _paths(rt: ResourceType, schema: str | None) -> dict[str, Any]:
    root = f"/{gv_path(rt.group, rt.version)}"
    scope = f"{root}/namespaces/{{namespace}}" if rt.namespaced else root
    collection, item = f"{scope}/{rt.plural}", f"{scope}/{rt.plural}/{{name}}"
    paths: dict[str, Any] = {
        collection: {
            "get": _operation(rt, "list", "list", schema),
            "post": _operation(rt, "post", "create", schema),
        },
        item: {
            "get": _operation(rt, "get", "read", schema),
            "put": _operation(rt, "put", "replace", schema),
            "patch": _operation(rt, "patch", "patch", schema),
            "delete": _operation(rt, "delete", "delete", schema),
        },
    }
    if "status" in rt.subresources:
        paths[f"{item}/status"] = {
            "get": _operation(rt, "get", "readStatus", schema),
            "put": _operation(rt, "put", "replaceStatus", schema),
            "patch": _operation(rt, "patch", "patchStatus", schema),
        }
    return paths


def _crd_schema(rt: ResourceType) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(rt.schema) if rt.schema else {"type": "object"}
    properties: dict[str, Any] = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties["metadata"] = {"type": "object"}
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _served(types: Iterable[ResourceType], group: str, version: str) -> list[ResourceType]:
    return [rt for rt in types if rt.group == group and rt.version == version]


def v3_document(types: Iterable[ResourceType], group: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of one group-version; 404 when nothing is served there."""
    served = _served(types, group, version)
    if not served:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in sorted(served, key=lambda r: r.plural):
        name = schema_name(rt) if rt.from_crd is not None else None
        if name is not None:
            schemas[name] = _crd_schema(rt)
        paths.update(_paths(rt, name))
    return {
        "openapi": "3.0.0",
        "info": _INFO,
        "paths": paths,
        "components": {"schemas": schemas},
    }


def document_hash(document: dict[str, Any]) -> str:
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha512(encoded).hexdigest().upper()


def v3_index(types: Iterable[ResourceType]) -> dict[str, Any]:
    """The /openapi/v3 discovery document: every group-version with a content-addressed URL."""
    all_types = list(types)
    group_versions = sorted({(rt.group, rt.version) for rt in all_types})
    paths: dict[str, Any] = {}
    for group, version in group_versions:
        key = gv_path(group, version)
        digest = document_hash(v3_document(all_types, group, version))
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def v2_document(types: Iterable[ResourceType]) -> dict[str, Any]:
    """A Swagger 2.0 document with a definition per kind (tagged with its group-version-kind)."""
    definitions: dict[str, Any] = {}
    for rt in types:
        if rt.from_crd is not None:
            definition = _crd_schema(rt)
        else:
            definition = {"type": "object", "x-kubernetes-group-version-kind": [_gvk(rt)]}
        definitions[schema_name(rt)] = definition
    return {"swagger": "2.0", "info": _INFO, "paths": {}, "definitions": definitions}


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _proto_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2); payloads here stay under 128 bytes."""
    if len(payload) >= 128:
        raise ValueError("payload too long for a one-byte length")
    return bytes([number << 3 | 2, len(payload)]) + payload


def v2_protobuf() -> bytes:
    """A minimal gnostic openapi_v2.Document (swagger, info, empty paths) for clients that only
    accept protobuf; it has no definitions, so kubectl falls back to its compiled-in types."""
    info = _proto_field(1, b"Kubernetes") + _proto_field(6, GIT_VERSION.encode())
    return _proto_field(1, b"2.0") + _proto_field(2, info) + _proto_field(8, b"")
