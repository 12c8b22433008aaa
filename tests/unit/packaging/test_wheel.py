"""The product's wheel carries the product only: no sandbox, no example app, no sandbox deps."""

from __future__ import annotations

import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    (built,) = WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    return zipfile.ZipFile(built)


def _metadata(wheel: zipfile.ZipFile) -> list[tuple[str, str]]:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return list(Parser().parsestr(wheel.read(name).decode()).items())


def test_the_wheel_holds_the_product_package_only(wheel: zipfile.ZipFile) -> None:
    modules = [n for n in wheel.namelist() if n.endswith(".py")]
    assert "datamigration_operator/dualwrite/integration.py" in modules
    assert "datamigration_operator/handlers/__main__.py" in modules
    tops = {n.split("/")[0] for n in modules}
    assert tops == {"datamigration_operator"}
    for gone in ("sandbox", "sampleapp", "sample_data", "read_benchmark", "bench", "demo"):
        assert not [n for n in modules if gone in n], gone


def test_the_wheel_requires_no_sandbox_dependency(wheel: zipfile.ZipFile) -> None:
    requires = [value for key, value in _metadata(wheel) if key == "Requires-Dist"]
    names = {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].strip() for r in requires}
    assert not names & {"cel-python", "cryptography", "psutil", "datamigration-sandbox"}
    base = [r for r in requires if "extra ==" not in r]
    # An app installs the dual-write library without kopf or a Kubernetes client.
    assert not [r for r in base if r.startswith(("kopf", "kubernetes", "aiohttp", "typer"))]
    assert [r for r in requires if r.startswith("kopf") and "extra == 'operator'" in r]
    # kube/ is the one client: the official one is the tests' and the sandbox's only.
    assert not [r for r in requires if r.startswith("kubernetes") and "extra == 'dev'" not in r]


def test_dmctl_offers_no_plugin_command_of_its_own(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "dmctl.plugins" not in wheel.read(entry_points).decode()
