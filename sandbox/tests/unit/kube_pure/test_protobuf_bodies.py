"""Protobuf request bodies (what `kubectl create ns|cm|secret|sa` sends) decode to JSON objects."""

from __future__ import annotations

import pytest

from datamigration_sandbox.kube.protobuf_bodies import MAGIC, decode_protobuf_body
from datamigration_sandbox.kube.status_errors import ApiError


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(number: int, value: str) -> bytes:
    return _bytes_field(number, value.encode())


def _entry(number: int, key: str, value: bytes) -> bytes:
    return _bytes_field(number, _text(1, key) + _bytes_field(2, value))


def _unknown(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _text(1, api_version) + _text(2, kind)
    return MAGIC + _bytes_field(1, type_meta) + _bytes_field(2, raw)


def _meta(name: str, namespace: str = "") -> bytes:
    meta = _text(1, name) + _entry(11, "team", b"data") + _entry(12, "note", b"hi")
    return _bytes_field(1, meta + (_text(3, namespace) if namespace else b""))


def test_configmap_with_data_binary_data_labels_and_annotations() -> None:
    raw = (
        _meta("app", "chat")
        + _entry(2, "migration_mode", b"sqlite_only")
        + _entry(3, "blob", b"\x00\xff")
        + _varint(4 << 3 | 0)
        + _varint(1)
    )
    assert decode_protobuf_body(_unknown("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "app",
            "namespace": "chat",
            "labels": {"team": "data"},
            "annotations": {"note": "hi"},
        },
        "data": {"migration_mode": "sqlite_only"},
        "binaryData": {"blob": "AP8="},
        "immutable": True,
    }


def test_secret_data_is_base64_and_type_kept() -> None:
    raw = _meta("wv") + _entry(2, "api-key", b"s3cret") + _text(3, "Opaque")
    secret = decode_protobuf_body(_unknown("v1", "Secret", raw))
    assert secret["data"] == {"api-key": "czNjcmV0"}
    assert secret["type"] == "Opaque"


def test_namespace_and_service_account() -> None:
    assert (
        decode_protobuf_body(_unknown("v1", "Namespace", _meta("chat")))["metadata"]["name"]
        == "chat"
    )
    sa = decode_protobuf_body(_unknown("v1", "ServiceAccount", _meta("bot", "chat")))
    assert sa["kind"] == "ServiceAccount"
    assert sa["metadata"]["namespace"] == "chat"


def test_a_kind_it_cannot_decode_is_415_naming_the_workaround() -> None:
    with pytest.raises(ApiError) as error:
        decode_protobuf_body(_unknown("batch/v1", "Job", b""))
    assert error.value.code == 415
    assert "kubectl apply -f" in error.value.message


@pytest.mark.parametrize(
    "body",
    [b"not protobuf", MAGIC + b"\x0a\x05ab", MAGIC + _bytes_field(1, b"\x0a\xff")],
    ids=["no-magic", "truncated", "bad-varint"],
)
def test_malformed_bodies_are_rejected_cleanly(body: bytes) -> None:
    with pytest.raises(ApiError) as error:
        decode_protobuf_body(body)
    assert error.value.code in (400, 415)


def test_role_and_rolebinding_from_kubectl_create() -> None:
    rule = _text(1, "get") + _text(1, "patch") + _text(2, "migrations.gremlins.ai")
    rule += _text(3, "datamigrations/status")
    role = decode_protobuf_body(
        _unknown(
            "rbac.authorization.k8s.io/v1", "Role", _meta("job", "chat") + _bytes_field(2, rule)
        )
    )
    assert role["rules"] == [
        {
            "verbs": ["get", "patch"],
            "apiGroups": ["migrations.gremlins.ai"],
            "resources": ["datamigrations/status"],
        }
    ]
    subject = _text(1, "ServiceAccount") + _text(3, "datamigration-job") + _text(4, "chat")
    ref = _text(1, "rbac.authorization.k8s.io") + _text(2, "Role") + _text(3, "job")
    binding = decode_protobuf_body(
        _unknown(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            _meta("job", "chat") + _bytes_field(2, subject) + _bytes_field(3, ref),
        )
    )
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "datamigration-job", "namespace": "chat"}
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "job",
    }


def test_self_subject_access_review_from_kubectl_auth_can_i() -> None:
    attributes = _text(1, "chat") + _text(2, "patch") + _text(3, "migrations.gremlins.ai")
    attributes += _text(5, "datamigrations") + _text(6, "status")
    review = decode_protobuf_body(
        _unknown(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            _bytes_field(2, _bytes_field(1, attributes)),
        )
    )
    assert review["spec"]["resourceAttributes"] == {
        "namespace": "chat",
        "verb": "patch",
        "group": "migrations.gremlins.ai",
        "resource": "datamigrations",
        "subresource": "status",
    }
