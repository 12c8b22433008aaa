"""Marks each test by its tier (the folder it lives in), under tests/, sandbox/tests/ and
examples/chat-app/tests/ alike; keeps every test off the network."""

from __future__ import annotations

from pathlib import Path

import pytest

_TIERS = ("unit", "integration", "real", "scenarios", "e2e")


@pytest.fixture(autouse=True)
def _no_pypi(monkeypatch: pytest.MonkeyPatch) -> None:
    # weaviate-client asks PyPI for its latest version when it connects (best effort): keep
    # every test on loopback
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in _TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
