"""What a pod's containers and volumes read from the API, fetched before they start.

The emulator's pieces (env_resolution, pod_volumes) take a synchronous lookup; here the
ConfigMaps and Secrets a pod names are fetched from the real API server first and served from
that snapshot. Projected volumes (the ServiceAccount admission plugin's `kube-api-access-*`:
a TokenRequest token, the `kube-root-ca.crt` ConfigMap and the namespace) and claims (through
their bound PersistentVolume's hostPath) are resolved here too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamigration_sandbox.jobs.atomic_writer import FileProjection
from datamigration_sandbox.jobs.env_resolution import (
    ContainerConfigError,
    SourceLookup,
    configmap_values,
    field_value,
    secret_values,
)
from datamigration_sandbox.jobs.pod_volumes import VolumeMountError
from datamigration_sandbox.real.api_client import ApiClient, ApiStatusError

_KINDS = {"ConfigMap": "configmaps", "Secret": "secrets"}
_TOKEN_REFRESH_FRACTION = 0.8  # the kubelet refreshes a projected token at 80% of its life


@dataclass
class SourceSnapshot:
    """(kind, name) -> decoded values, or None when the object does not exist."""

    values: dict[tuple[str, str], Mapping[str, str] | None] = field(default_factory=dict)

    def lookup(self) -> SourceLookup:
        def find(kind: str, name: str) -> Mapping[str, str] | None:
            return self.values.get((kind, name))

        return find


def referenced_sources(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    spec = pod.get("spec") or {}
    refs: set[tuple[str, str]] = set()
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                refs.add(("ConfigMap", str(source["configMapRef"].get("name", ""))))
            if "secretRef" in source:
                refs.add(("Secret", str(source["secretRef"].get("name", ""))))
        for entry in container.get("env") or []:
            value_from = entry.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                refs.add(("ConfigMap", str(value_from["configMapKeyRef"].get("name", ""))))
            if "secretKeyRef" in value_from:
                refs.add(("Secret", str(value_from["secretKeyRef"].get("name", ""))))
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            refs.add(("ConfigMap", str(volume["configMap"].get("name", ""))))
        if "secret" in volume:
            refs.add(("Secret", str(volume["secret"].get("secretName", ""))))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                refs.add(("ConfigMap", str(source["configMap"].get("name", ""))))
            if "secret" in source:
                refs.add(("Secret", str(source["secret"].get("name", ""))))
    return refs


async def fetch_sources(api: ApiClient, pod: Mapping[str, Any]) -> SourceSnapshot:
    namespace = str(pod["metadata"]["namespace"])
    snapshot = SourceSnapshot()
    for kind, name in sorted(referenced_sources(pod)):
        try:
            obj = await api.get(f"/api/v1/namespaces/{namespace}/{_KINDS[kind]}/{name}")
        except ApiStatusError as exc:
            if exc.code != 404:
                raise
            snapshot.values[(kind, name)] = None
            continue
        snapshot.values[(kind, name)] = (
            secret_values(obj) if kind == "Secret" else configmap_values(obj)
        )
    return snapshot


@dataclass
class _Token:
    token: str
    refresh_at: float


class ServiceAccountTokens:
    """Projected ServiceAccount tokens of one pod, from the TokenRequest API, bound to the pod."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api
        self._tokens: dict[tuple[str, int], _Token] = {}

    async def token(self, pod: Mapping[str, Any], audience: str, expiration: int) -> str:
        key = (audience, expiration)
        cached = self._tokens.get(key)
        if cached is not None and time.monotonic() < cached.refresh_at:
            return cached.token
        meta = pod["metadata"]
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience] if audience else [],
                "expirationSeconds": expiration,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        try:
            answer = await self._api.create(
                f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token", body
            )
        except ApiStatusError as exc:
            raise VolumeMountError(
                f"MountVolume.SetUp failed: failed to fetch token: {exc}"
            ) from exc
        status = answer.get("status") or {}
        token = str(status.get("token", ""))
        self._tokens[key] = _Token(token, time.monotonic() + expiration * _TOKEN_REFRESH_FRACTION)
        return token


async def projected_payload(
    pod: Mapping[str, Any],
    volume: Mapping[str, Any],
    lookup: SourceLookup,
    tokens: ServiceAccountTokens,
) -> dict[str, FileProjection]:
    """The files of a `projected` volume now."""
    projected = volume.get("projected") or {}
    default_mode = int(projected.get("defaultMode", 0o644))
    payload: dict[str, FileProjection] = {}
    for source in projected.get("sources") or []:
        if "serviceAccountToken" in source:
            spec = source["serviceAccountToken"]
            token = await tokens.token(
                pod, str(spec.get("audience") or ""), int(spec.get("expirationSeconds", 3600))
            )
            payload[str(spec.get("path", "token"))] = FileProjection(token.encode(), 0o600)
        elif "configMap" in source or "secret" in source:
            kind = "ConfigMap" if "configMap" in source else "Secret"
            ref = source["configMap"] if kind == "ConfigMap" else source["secret"]
            values = lookup(kind, str(ref.get("name", "")))
            if values is None:
                if ref.get("optional"):
                    continue
                raise VolumeMountError(
                    f'MountVolume.SetUp failed for volume "{volume.get("name")}" : '
                    f'{kind.lower()} "{ref.get("name")}" not found'
                )
            items = ref.get("items") or [{"key": k, "path": k} for k in values]
            for item in items:
                key = str(item.get("key", ""))
                if key in values:
                    mode = int(item.get("mode", default_mode))
                    payload[str(item.get("path", key))] = FileProjection(values[key].encode(), mode)
        elif "downwardAPI" in source:
            for item in source["downwardAPI"].get("items") or []:
                field_ref = item.get("fieldRef")
                if field_ref is None:
                    continue
                try:
                    text = field_value(pod, str(field_ref.get("fieldPath", "")))
                except ContainerConfigError as exc:
                    raise VolumeMountError(str(exc)) from exc
                mode = int(item.get("mode", default_mode))
                payload[str(item.get("path", ""))] = FileProjection(text.encode(), mode)
    return payload


async def claim_folder(api: ApiClient, namespace: str, claim: str) -> Path:
    """The local folder behind a bound claim: its PersistentVolume's hostPath (or local) path."""
    try:
        pvc = await api.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}")
    except ApiStatusError as exc:
        if exc.code == 404:
            raise VolumeMountError(f'persistentvolumeclaim "{claim}" not found') from exc
        raise
    volume_name = (pvc.get("spec") or {}).get("volumeName")
    if not volume_name or (pvc.get("status") or {}).get("phase") != "Bound":
        raise VolumeMountError(f'persistentvolumeclaim "{claim}" is not bound yet')
    pv = await api.get(f"/api/v1/persistentvolumes/{volume_name}")
    spec = pv.get("spec") or {}
    path = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
    if not path:
        raise VolumeMountError(
            f'persistentvolume "{volume_name}" is neither hostPath nor local: cannot mount it'
        )
    folder = Path(str(path))
    os.makedirs(folder, exist_ok=True)
    return folder
