"""The chart through the real `helm` CLI (built from helm.sh/helm/v4 by scripts/build-servers.sh):
`helm lint --strict` and `helm template` for default and non-default values, every object
valid, and the same objects the in-process engine renders (tests/unit/helm). Skipped where the
binary is not built; nothing here talks to a cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helm.chart import (
    CHART,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    Doc,
    documents,
    helm_binary,
    helm_env,
    identity,
    render,
    validate,
)

HELM = helm_binary()
pytestmark = pytest.mark.skipif(
    HELM is None, reason="no helm binary: run scripts/build-servers.sh (or set DMCTL_HELM)"
)


def helm(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    env = helm_env(home)
    return subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_it_is_the_helm_built_from_our_module(tmp_path: Path) -> None:
    result = helm("version", "--short", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("v4."), result.stdout


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_lint_strict_passes(name: str, tmp_path: Path) -> None:
    values = _values_file(tmp_path, VALUE_SETS[name])
    result = helm("lint", "--strict", str(CHART), "-f", str(values), home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_template_renders_valid_objects_equal_to_the_engines(name: str, tmp_path: Path) -> None:
    values = _values_file(tmp_path, VALUE_SETS[name])
    result = helm(
        "template", RELEASE, str(CHART), "-n", NAMESPACE, "-f", str(values), home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    docs: list[Doc] = sorted(documents(result.stdout), key=identity)
    for doc in docs:
        validate(doc)
    assert docs == render(VALUE_SETS[name])


def test_template_with_crds_includes_the_generated_crd(tmp_path: Path) -> None:
    result = helm("template", RELEASE, str(CHART), "-n", NAMESPACE, "--include-crds", home=tmp_path)
    assert result.returncode == 0, result.stderr
    crds = [d for d in documents(result.stdout) if d["kind"] == "CustomResourceDefinition"]
    assert {c["metadata"]["name"] for c in crds} == {
        "datamigrations.migrations.gremlins.ai",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 0}, "minimum"),
        ({"watchNamespace": ["shop"]}, "additional properties 'watchNamespace' not allowed"),
        (
            {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
            "needs metrics.enabled",
        ),
        ({"metrics": {"port": 8080}}, "metrics.port and health.port must differ"),
        (
            {"watchNamespaces": ["shop"], "rbac": {"secretReadNamespaces": ["blog"]}},
            "for cluster-wide installs",
        ),
    ],
)
def test_template_refuses_bad_values_with_a_message(
    values: dict[str, Any], message: str, tmp_path: Path
) -> None:
    path = _values_file(tmp_path, values)
    result = helm("template", RELEASE, str(CHART), "-f", str(path), home=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
