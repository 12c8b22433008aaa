"""In a pod, the API server is where the kubelet's environment says (no cluster DNS needed), with
the ServiceAccount's credentials kopf reads; a kubeconfig wins when one is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kopf
import pytest

from datamigration_operator.kube.connection import in_cluster, load_connection

ACCOUNT = kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="t", ca_path="/ca")


@pytest.fixture
def in_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    def login(**_: Any) -> kopf.ConnectionInfo:
        return ACCOUNT

    monkeypatch.setattr(kopf, "login_with_service_account", login)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")


@pytest.mark.usefixtures("in_a_pod")
def test_a_pod_reaches_the_service_address_from_its_environment() -> None:
    info = load_connection(kopf.OperatorSettings())
    assert info.server == "https://10.96.0.1:443"
    assert (info.token, info.ca_path) == ("t", "/ca")


@pytest.mark.usefixtures("in_a_pod")
def test_an_ipv6_service_address_is_bracketed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    info = in_cluster(kopf.OperatorSettings())
    assert info is not None
    assert info.server == "https://[fd00::1]:443"


@pytest.mark.usefixtures("in_a_pod")
def test_without_the_environment_kopfs_address_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert in_cluster(kopf.OperatorSettings()) == ACCOUNT


@pytest.mark.usefixtures("in_a_pod")
def test_a_kubeconfig_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "current-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: k}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    info = load_connection(kopf.OperatorSettings())
    assert (info.server, info.token) == ("https://127.0.0.1:6443", "k")
