"""Shared by every integration test."""

from __future__ import annotations

import kubernetes
import pytest


def kube_api(kubeconfig: str) -> kubernetes.client.ApiClient:
    """An API client of the kubernetes package for this kubeconfig (not the global default)."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=config)
    return kubernetes.client.ApiClient(config)


@pytest.fixture(autouse=True)
def _no_pypi(monkeypatch: pytest.MonkeyPatch) -> None:
    # weaviate-client asks PyPI for its latest version when it connects (best effort): keep
    # every test on loopback
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
