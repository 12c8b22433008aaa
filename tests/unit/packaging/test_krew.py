"""krew/datamigration.yaml, the krew plugin manifest (a krew-release-bot template): rendered as
the bot renders it on a release tag, it is a valid krew Plugin for `kubectl datamigration`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from datamigration_operator import __version__
from datamigration_operator.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "krew" / "datamigration.yaml"
FAKE_SHA = "ab" * 32
PLATFORMS = {
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
}


def render(text: str, tag: str) -> dict[str, Any]:
    """krew-release-bot's template functions: .TagName and addURIAndSha (which downloads the
    archive to hash it; here a fixed digest)."""

    def uri_and_sha(match: re.Match[str]) -> str:
        url = match[1].replace("{{ .TagName }}", tag)
        indent = match[0][: len(match[0]) - len(match[0].lstrip())]
        return f"{indent}uri: {url}\n{indent}sha256: {FAKE_SHA}"

    text = re.sub(r'^ *\{\{ addURIAndSha "([^"]+)" \.TagName \}\}$', uri_and_sha, text, flags=re.M)
    assert "addURIAndSha" not in text
    manifest: dict[str, Any] = yaml.safe_load(text.replace("{{ .TagName }}", tag))
    return manifest


def test_the_manifest_renders_to_a_krew_plugin_for_every_platform() -> None:
    tag = f"v{__version__}"
    manifest = render(TEMPLATE.read_text(), tag)
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin"
    spec = manifest["spec"]
    assert spec["version"] == tag
    assert re.fullmatch(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", spec["version"])
    assert spec["homepage"].startswith("https://")
    assert 0 < len(spec["shortDescription"]) <= 60
    seen = set()
    for platform in spec["platforms"]:
        labels = platform["selector"]["matchLabels"]
        os_arch = (labels["os"], labels["arch"])
        seen.add(os_arch)
        assert platform["uri"].startswith(
            "https://github.com/gremlins-ai/datamigration-operator/releases/download/"
        )
        assert f"/{tag}/" in platform["uri"]
        assert f"_{tag}_{os_arch[0]}_{os_arch[1]}." in platform["uri"]
        assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])
        executable = "kubectl-datamigration" + (".exe" if os_arch[0] == "windows" else "")
        assert platform["bin"] == executable
        assert {f["from"] for f in platform["files"]} == {executable, "LICENSE"}
    assert seen == PLATFORMS
    assert len(spec["platforms"]) == len(PLATFORMS)


def test_the_plugin_is_the_kubectl_datamigration_the_wheel_installs() -> None:
    manifest = render(TEMPLATE.read_text(), "v0.0.0")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    plugin = f"kubectl-{manifest['metadata']['name']}"
    assert scripts[plugin] == scripts["dmctl"]
    # every command the description shows exists
    shown = re.findall(r"kubectl datamigration (\w[\w-]*)", manifest["spec"]["description"])
    assert shown
    assert set(shown) <= set(COMMANDS), set(shown) - set(COMMANDS)
