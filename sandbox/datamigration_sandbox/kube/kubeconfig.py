"""Writes a kubeconfig that points kubectl and the kubernetes client at the sandbox API server."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_document(
    server_url: str,
    *,
    token: str | None = None,
    namespace: str = "default",
    context: str = "sandbox",
    certificate_authority: bytes | None = None,
) -> dict[str, Any]:
    user: dict[str, Any] = {"token": token} if token else {}
    cluster: dict[str, Any] = {"server": server_url}
    if certificate_authority is not None:
        cluster["certificate-authority-data"] = base64.b64encode(certificate_authority).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(
    path: Path,
    server_url: str,
    *,
    token: str | None = None,
    namespace: str = "default",
    context: str = "sandbox",
    certificate_authority: bytes | None = None,
) -> Path:
    """Write the kubeconfig with mode 0600 (it may hold a bearer token) and return its path.

    `certificate_authority` (PEM) is the CA of an https server. kubectl sends the token only
    over https: against an http server its requests arrive unauthenticated.
    """
    if not server_url.startswith(("http://", "https://")):
        raise ValueError(f"server_url must be an http(s) URL, got {server_url!r}")
    document = kubeconfig_document(
        server_url,
        token=token,
        namespace=namespace,
        context=context,
        certificate_authority=certificate_authority,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Create with 0600 from the start so the token is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(document, handle, sort_keys=False)
    path.chmod(0o600)
    return path
