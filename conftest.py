"""Marks each test by its tier (the folder it lives in), under tests/, sandbox/tests/ and
examples/chat-app/tests/ alike; keeps every test off the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    tiers = {item.nodeid: _tier(Path(str(item.fspath))) for item in items}
    for item in items:
        tier = tiers[item.nodeid]
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
    # The longest groups first, so no worker starts one while the others are finishing
    # (scripts/test.sh keeps this order: --no-loadscope-reorder).
    items.sort(key=lambda item: _LONGEST_FIRST.get(tiers[item.nodeid] or "", len(_LONGEST_FIRST)))


_LONGEST_FIRST = {"real": 0, "scenarios": 1}


def _group(nodeid: str) -> str:
    """The tests one xdist worker runs together: a module's tests share its fixtures; the real
    tier shares one real control plane (session-scoped: a second one per worker would cost a
    start-up and compete for the two cores); each scenario (a whole walk of minutes, nothing
    shared) stands alone."""
    tier = _tier(Path(nodeid.split("::")[0]))
    if tier == "real":
        return "real"
    if tier == "scenarios":
        return nodeid
    return nodeid.split("::")[0]


def _tier(path: Path) -> str | None:
    """The folder right under a `tests` folder (sandbox/tests/unit/real is unit, not real)."""
    parts = path.parts
    for index, part in enumerate(parts[:-1]):
        if part == "tests" and parts[index + 1] in _TIERS:
            return parts[index + 1]
    return None


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist absent: tests run in one process
    pass
else:

    class _ByGroup(LoadScopeScheduling):
        """`--dist loadscope` with our groups as its scopes (xdist's own `xdist_group` marks
        grouped nothing here: pytest 9.2, pytest-xdist 3.8)."""

        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
        return _ByGroup(config, log) if config.getvalue("dist") == "loadscope" else None
