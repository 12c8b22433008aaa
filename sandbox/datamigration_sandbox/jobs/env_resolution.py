"""A container's environment, resolved as the kubelet does it.

Order: `envFrom` sources, then `env` entries (later ones win); `$(VAR)` references in env values,
command and args expand against the variables defined so far (`$$` escapes). A missing,
non-optional Secret/ConfigMap or key is a `ContainerConfigError` (the kubelet's
CreateContainerConfigError), with the kubelet's wording.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

# (kind "Secret" | "ConfigMap", name) -> decoded key/values, or None when the object is absent.
SourceLookup = Callable[[str, str], Mapping[str, str] | None]

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ContainerConfigError(Exception):
    """The container cannot be configured yet; the pod stays Pending and the kubelet retries."""


def secret_values(secret: Mapping[str, Any]) -> dict[str, str]:
    """Decoded Secret data; stringData (if the store kept it unfolded) wins like on write."""
    values: dict[str, str] = {}
    for key, encoded in (secret.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(str(encoded), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            values[key] = ""
    for key, text in (secret.get("stringData") or {}).items():
        values[key] = str(text)
    return values


def configmap_values(config_map: Mapping[str, Any]) -> dict[str, str]:
    values = {k: str(v) for k, v in (config_map.get("data") or {}).items()}
    for key, encoded in (config_map.get("binaryData") or {}).items():
        values[key] = base64.b64decode(str(encoded)).decode("utf-8", errors="replace")
    return values


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: unknown references stay as written, `$$` is a `$`."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if char == "$" and nxt == "$":
            out.append("$")
            i += 2
        elif char == "$" and nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            out.append(variables.get(name, f"$({name})"))
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def resolve_env(
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    lookup: SourceLookup,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's full environment on top of `base` (the runtime's own variables)."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    env: dict[str, str] = dict(base or {})
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, namespace, lookup))
    for entry in container.get("env") or []:
        name = str(entry.get("name", ""))
        if "valueFrom" in entry:
            value = _value_from(entry["valueFrom"], pod, namespace, lookup)
            if value is None:  # optional reference that is absent: the variable is not set
                continue
            env[name] = value
        else:
            env[name] = expand(str(entry.get("value", "")), env)
    return env


def expand_command(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """command + args with `$(VAR)` expanded."""
    words = list(container.get("command") or []) + list(container.get("args") or [])
    return [expand(str(word), env) for word in words]


def _env_from(source: Mapping[str, Any], namespace: str, lookup: SourceLookup) -> dict[str, str]:
    prefix = str(source.get("prefix", ""))
    for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
        ref = source.get(field)
        if ref is None:
            continue
        values = lookup(kind, str(ref.get("name", "")))
        if values is None:
            if ref.get("optional"):
                return {}
            raise ContainerConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
        # The kubelet skips keys that are not valid variable names (and records an event).
        return {prefix + k: v for k, v in values.items() if _ENV_NAME.match(prefix + k)}
    return {}


def _value_from(
    source: Mapping[str, Any], pod: Mapping[str, Any], namespace: str, lookup: SourceLookup
) -> str | None:
    for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
        ref = source.get(field)
        if ref is None:
            continue
        name, key = str(ref.get("name", "")), str(ref.get("key", ""))
        values = lookup(kind, name)
        if values is None:
            if ref.get("optional"):
                return None
            raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
        if key not in values:
            if ref.get("optional"):
                return None
            raise ContainerConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
        return values[key]
    if "fieldRef" in source:
        return field_value(pod, str(source["fieldRef"].get("fieldPath", "")))
    raise ContainerConfigError(f"sandbox: unsupported env valueFrom source {sorted(source)}")


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The downward API fields a pod may reference (`fieldRef.fieldPath`)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    match = _LABEL_REF.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ContainerConfigError(f'unsupported fieldPath: "{path}"')
