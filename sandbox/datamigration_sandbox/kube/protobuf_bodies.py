"""Decode the Kubernetes protobuf request bodies kubectl sends for imperative commands.

`kubectl create namespace|configmap|secret|serviceaccount|role|rolebinding|clusterrole|
clusterrolebinding` and `kubectl auth can-i` encode built-in objects as
`application/vnd.kubernetes.protobuf`, and client-go never falls back to JSON: without this the
commands a newcomer types first would fail. The wire format is the "k8s\\0" magic followed by a
`runtime.Unknown` whose `raw` field holds the object message from k8s.io/api's generated.proto.
Only the kinds above are decoded (their field numbers are stable API); others get 415.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from datamigration_sandbox.kube.status_errors import ApiError

MAGIC = b"k8s\x00"
RBAC_V1 = "rbac.authorization.k8s.io/v1"
Fields = list[tuple[int, int | bytes]]  # (field number, varint value or length-delimited bytes)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            yield number, data[pos : pos + length]
            pos += length
        elif wire_type in (1, 5):  # fixed64 / fixed32: not used by the kinds we decode
            pos += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ValueError("expected a string field")
    return value.decode("utf-8")


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("expected a bytes field")
    return value


def _map_entry(value: int | bytes) -> tuple[str, bytes]:
    key, item = "", b""
    for number, field in _fields(_bytes(value)):
        if number == 1:
            key = _text(field)
        elif number == 2:
            item = _bytes(field)
    return key, item


def _object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace", 6: "resourceVersion"}
    for number, value in _fields(data):
        if number in names:
            meta[names[number]] = _text(value)
        elif number in (11, 12):  # labels, annotations
            key, item = _map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _namespace(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace"}
    for number, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(_bytes(value))
    return obj


def _config_map(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
    for number, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(_bytes(value))
        elif number == 2:
            key, item = _map_entry(value)
            obj.setdefault("data", {})[key] = item.decode("utf-8")
        elif number == 3:
            key, item = _map_entry(value)
            obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
        elif number == 4:
            obj["immutable"] = bool(value)
    return obj


def _secret(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret"}
    for number, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(_bytes(value))
        elif number == 2:
            key, item = _map_entry(value)
            obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
        elif number == 3:
            obj["type"] = _text(value)
        elif number == 4:
            obj["immutable"] = bool(value)
        elif number == 5:
            key, item = _map_entry(value)
            obj.setdefault("stringData", {})[key] = item.decode("utf-8")
    return obj


def _service_account(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount"}
    for number, value in _fields(data):
        if number == 1:
            obj["metadata"] = _object_meta(_bytes(value))
        elif number == 3:
            obj["automountServiceAccountToken"] = bool(value)
    return obj


def _policy_rule(data: bytes) -> dict[str, Any]:
    names = {1: "verbs", 2: "apiGroups", 3: "resources", 4: "resourceNames", 5: "nonResourceURLs"}
    rule: dict[str, Any] = {}
    for number, value in _fields(data):
        if number in names:
            rule.setdefault(names[number], []).append(_text(value))
    return rule


def _role(kind: str) -> Callable[[bytes], dict[str, Any]]:
    def decode(data: bytes) -> dict[str, Any]:
        obj: dict[str, Any] = {"apiVersion": RBAC_V1, "kind": kind, "rules": []}
        for number, value in _fields(data):
            if number == 1:
                obj["metadata"] = _object_meta(_bytes(value))
            elif number == 2:
                obj["rules"].append(_policy_rule(_bytes(value)))
        return obj

    return decode


def _role_binding(kind: str) -> Callable[[bytes], dict[str, Any]]:
    subject_names = {1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"}
    ref_names = {1: "apiGroup", 2: "kind", 3: "name"}

    def decode(data: bytes) -> dict[str, Any]:
        obj: dict[str, Any] = {"apiVersion": RBAC_V1, "kind": kind, "subjects": []}
        for number, value in _fields(data):
            if number == 1:
                obj["metadata"] = _object_meta(_bytes(value))
            elif number == 2:
                fields = _fields(_bytes(value))
                subject = {subject_names[n]: _text(v) for n, v in fields if n in subject_names}
                obj["subjects"].append({k: v for k, v in subject.items() if v})
            elif number == 3:
                fields = _fields(_bytes(value))
                obj["roleRef"] = {ref_names[n]: _text(v) for n, v in fields if n in ref_names}
        return obj

    return decode


def _resource_attributes(data: bytes) -> dict[str, Any]:
    names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource"}
    names |= {6: "subresource", 7: "name"}
    return {names[n]: _text(v) for n, v in _fields(data) if n in names}


def _non_resource_attributes(data: bytes) -> dict[str, Any]:
    names = {1: "path", 2: "verb"}
    return {names[n]: _text(v) for n, v in _fields(data) if n in names}


def _self_subject_access_review(data: bytes) -> dict[str, Any]:
    """`kubectl auth can-i` sends this; spec: 1 resourceAttributes, 2 nonResourceAttributes."""
    obj: dict[str, Any] = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {},
    }
    for number, value in _fields(data):
        if number == 2:
            for spec_number, spec_value in _fields(_bytes(value)):
                if spec_number == 1:
                    obj["spec"]["resourceAttributes"] = _resource_attributes(_bytes(spec_value))
                elif spec_number == 2:
                    obj["spec"]["nonResourceAttributes"] = _non_resource_attributes(
                        _bytes(spec_value)
                    )
    return obj


_DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _config_map,
    ("v1", "Secret"): _secret,
    ("v1", "ServiceAccount"): _service_account,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _self_subject_access_review,
    (RBAC_V1, "Role"): _role("Role"),
    (RBAC_V1, "ClusterRole"): _role("ClusterRole"),
    (RBAC_V1, "RoleBinding"): _role_binding("RoleBinding"),
    (RBAC_V1, "ClusterRoleBinding"): _role_binding("ClusterRoleBinding"),
}


def decode_protobuf_body(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; 415 for kinds this emulator cannot decode."""
    if not body.startswith(MAGIC):
        raise ApiError(415, "UnsupportedMediaType", "protobuf body without the k8s magic prefix")
    try:
        api_version = kind = ""
        raw = b""
        for number, value in _fields(body[len(MAGIC) :]):
            if number == 1:  # TypeMeta
                for type_number, type_value in _fields(_bytes(value)):
                    if type_number == 1:
                        api_version = _text(type_value)
                    elif type_number == 2:
                        kind = _text(type_value)
            elif number == 2:
                raw = _bytes(value)
        decoder = _DECODERS.get((api_version, kind))
        if decoder is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the sandbox decodes protobuf bodies only for {_supported()}; got "
                f"{api_version}/{kind}: send it as JSON or YAML (e.g. `kubectl create "
                "--dry-run=client -o yaml ... | kubectl apply -f -`)",
            )
        return decoder(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "BadRequest", f"the protobuf body could not be decoded: {exc}"
        ) from None


def _supported() -> str:
    return ", ".join(kind for _, kind in _DECODERS)
