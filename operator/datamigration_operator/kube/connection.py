"""Where the API server is and how to authenticate: a kubeconfig or the in-cluster account.

kopf's own login functions parse both, so the operator's client and kopf's watches always use
the same credentials."""

from __future__ import annotations

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
        info = kopf.login_with_service_account(settings=settings)
    if info is None:
        info = kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("no kubeconfig and no in-cluster ServiceAccount token found")
    return info
