"""Container environments resolve like the kubelet's, with its error messages."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from datamigration_sandbox.jobs.env_resolution import (
    ContainerConfigError,
    expand,
    expand_command,
    resolve_env,
    secret_values,
)

POD = {
    "metadata": {"name": "copy-x1y2z", "namespace": "shop", "uid": "u-1", "labels": {"app": "a"}},
    "spec": {"nodeName": "sandbox-node", "serviceAccountName": "copier"},
}
SOURCES: dict[tuple[str, str], dict[str, str]] = {
    ("Secret", "db"): {"password": "pw"},
    ("ConfigMap", "app"): {"MODE": "dual_write", "bad-name!": "skipped", "LEVEL": "info"},
}


def lookup(kind: str, name: str) -> Mapping[str, str] | None:
    return SOURCES.get((kind, name))


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return resolve_env(container, POD, lookup)


def test_env_entries_override_env_from_and_expand_earlier_variables() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "app"}}],
        "env": [
            {"name": "MODE", "value": "sqlite_only"},
            {"name": "DESC", "value": "$(MODE)/$(LEVEL)/$(UNKNOWN)/$$(MODE)"},
        ],
    }

    env = env_of(container)

    assert env["MODE"] == "sqlite_only"
    assert env["DESC"] == "sqlite_only/info/$(UNKNOWN)/$(MODE)"
    assert "bad-name!" not in env


def test_env_from_prefix() -> None:
    env = env_of({"envFrom": [{"prefix": "APP_", "configMapRef": {"name": "app"}}]})

    assert env == {"APP_MODE": "dual_write", "APP_LEVEL": "info"}


def test_key_refs_and_field_refs() -> None:
    container = {
        "env": [
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "MODE"}}},
            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        ]
    }

    assert env_of(container) == {
        "PW": "pw",
        "M": "dual_write",
        "N": "copy-x1y2z",
        "NS": "shop",
        "SA": "copier",
        "NODE": "sandbox-node",
        "UID": "u-1",
        "L": "a",
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        ({"secretKeyRef": {"name": "db", "key": "k"}}, "couldn't find key k in Secret shop/db"),
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        (
            {"configMapKeyRef": {"name": "app", "key": "k"}},
            "couldn't find key k in ConfigMap shop/app",
        ),
        (
            {"fieldRef": {"fieldPath": "spec.containers"}},
            'unsupported fieldPath: "spec.containers"',
        ),
    ],
)
def test_missing_references_are_container_config_errors(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ContainerConfigError) as caught:
        env_of({"env": [{"name": "X", "valueFrom": entry}]})

    assert str(caught.value) == message


def test_optional_references_leave_the_variable_unset() -> None:
    container = {
        "envFrom": [{"secretRef": {"name": "nope", "optional": True}}],
        "env": [
            {
                "name": "X",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "k", "optional": True}},
            }
        ],
    }

    assert env_of(container) == {}


def test_command_and_args_expand_variables() -> None:
    container = {"command": ["dmctl", "job"], "args": ["$(KIND)", "--mode=$(MODE)"]}

    assert expand_command(container, {"KIND": "copy", "MODE": "x"}) == [
        "dmctl",
        "job",
        "copy",
        "--mode=x",
    ]


def test_unterminated_reference_is_kept() -> None:
    assert expand("a$(B", {"B": "b"}) == "a$(B"


def test_secret_values_decode_data_and_take_string_data() -> None:
    secret = {"data": {"a": base64.b64encode(b"one").decode()}, "stringData": {"b": "two"}}

    assert secret_values(secret) == {"a": "one", "b": "two"}
