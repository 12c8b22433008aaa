"""Where the API server is and how to authenticate: a kubeconfig or the in-cluster account.

kopf's own login functions parse both, so the operator's client, kopf's watches and the Jobs
always use the same credentials."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import kopf


def load_connection(
    settings: kopf.OperatorSettings, kubeconfig: Path | None = None
) -> kopf.ConnectionInfo:
    """An explicit kubeconfig (or $KUBECONFIG) wins; otherwise the pod's ServiceAccount;
    otherwise ~/.kube/config. Raises kopf.LoginError when none is usable."""
    if kubeconfig is not None:
        os.environ["KUBECONFIG"] = str(kubeconfig)
    info: kopf.ConnectionInfo | None = None
    if not os.environ.get("KUBECONFIG"):
        info = in_cluster(settings)
    if info is None:
        info = kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("no kubeconfig and no in-cluster ServiceAccount token found")
    return info


def in_cluster(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    """The pod's ServiceAccount, at the address the kubelet puts in the environment (as
    client-go does): kopf names https://kubernetes.default.svc, which needs cluster DNS, and a
    pod whose NetworkPolicy admits only the API server has none."""
    info = kopf.login_with_service_account(settings=settings)
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    if info is None or not host or not port:
        return info
    address = f"[{host}]" if ":" in host else host  # an IPv6 service address
    return dataclasses.replace(info, server=f"https://{address}:{port}")
