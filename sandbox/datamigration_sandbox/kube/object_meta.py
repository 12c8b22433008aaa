"""Object metadata rules the API server applies on every write: names, timestamps, generation."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import Cause

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")
_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_SUBDOMAIN}$")

_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_DNS1123_LABEL}')"
)
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    f"regex used for validation is '{_DNS1123_SUBDOMAIN}')"
)

# The alphabet and length the API server uses for generateName suffixes (no vowels, no 0/1/3).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SUFFIX_LENGTH = 5
_MAX_GENERATE_PREFIX = 63 - _SUFFIX_LENGTH

# Kinds whose metadata.generation tracks spec changes; core kinds like ConfigMap have none.
_GENERATION_KEYS = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("batch", "jobs"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    }
)


def now_timestamp() -> str:
    """RFC 3339 UTC with second precision, the format of creationTimestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tracks_generation(rt: ResourceType) -> bool:
    return rt.from_crd is not None or rt.key in _GENERATION_KEYS


def generate_name(prefix: str) -> str:
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(_SUFFIX_LENGTH))
    return prefix[:_MAX_GENERATE_PREFIX] + suffix


def name_causes(rt: ResourceType, name: str) -> list[Cause]:
    """Field errors for metadata.name: namespaces are DNS-1123 labels, the rest subdomains."""
    is_label = rt.key == ("", "namespaces")
    limit = 63 if is_label else 253
    pattern = _LABEL_RE if is_label else _SUBDOMAIN_RE
    causes: list[Cause] = []
    if len(name) > limit:
        causes.append(
            Cause(
                "metadata.name", f'Invalid value: "{name}": must be no more than {limit} characters'
            )
        )
    if not pattern.match(name):
        message = _LABEL_MESSAGE if is_label else _SUBDOMAIN_MESSAGE
        causes.append(Cause("metadata.name", f'Invalid value: "{name}": {message}'))
    return causes


def without_meta_and_status(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of an object whose changes move metadata.generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
