"""The GitHub Actions workflows (they cannot run here): parsed, they run the project's test
command and the kind e2e tier on a hosted runner, and on a tag build the image and package the
chart that exist in this repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from datamigration_operator.handlers.config import OPERATOR_IMAGE_REPOSITORY

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
CHART = "helm/datamigration-operator"


def _load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(workflow, dict)
    # YAML 1.1 reads the key `on` as True
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in _steps(job))


def _uses(job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]) for step in _steps(job) if "uses" in step]


def test_both_workflows_exist_and_parse() -> None:
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= {"ci.yml", "release.yml"}
    for name in ("ci.yml", "release.yml"):
        workflow = _load(name)
        assert workflow["name"]
        assert workflow["on"]
        assert workflow["jobs"]
        for job in workflow["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest", "a hosted runner with Docker"
            for action in _uses(job):
                _, _, ref = action.partition("@")
                assert ref.startswith("v"), f"{action}: pin an action to a release"


def test_ci_runs_the_test_command_and_the_kind_tier() -> None:
    workflow = _load("ci.yml")
    assert set(workflow["on"]) >= {"push", "pull_request"}
    jobs = workflow["jobs"]
    test = next(job for job in jobs.values() if "bash scripts/test.sh" in _runs(job))
    assert (ROOT / "scripts" / "test.sh").exists()
    assert "actions/setup-go@v5" in _uses(test), "scripts/test.sh builds the real servers with Go"
    e2e = next(job for job in jobs.values() if "pytest -m e2e" in _runs(job))
    setup = _runs(e2e)
    assert "kind" in setup
    assert "kubectl" in setup
    assert "/usr/local/bin" in setup
    assert "scripts/bootstrap.sh" in setup, "the venv the e2e step runs pytest from"
    assert setup.index("bootstrap.sh") < setup.index("pytest -m e2e")
    assert (ROOT / "tests" / "e2e").is_dir()


def test_release_runs_on_tags_builds_the_image_and_packages_the_chart() -> None:
    workflow = _load("release.yml")
    assert list(workflow["on"]) == ["push"]
    assert workflow["on"]["push"] == {"tags": ["v*"]}
    assert workflow["env"]["IMAGE"] == OPERATOR_IMAGE_REPOSITORY
    (job,) = workflow["jobs"].values()
    build = next(s for s in _steps(job) if str(s.get("uses", "")).startswith("docker/build-push"))
    assert build["with"]["file"] == "Dockerfile"
    assert build["with"]["push"] is True
    assert (ROOT / "Dockerfile").exists()
    assert "steps.version.outputs.version" in build["with"]["tags"]
    runs = _runs(job)
    assert f"helm package {CHART}" in runs
    assert (ROOT / CHART / "Chart.yaml").exists()
    assert "gh release upload" in runs
    assert "dist/*.tgz" in runs
    assert workflow["permissions"] == {"contents": "write", "packages": "write"}


def test_the_release_tag_check_matches_the_chart() -> None:
    """The step that refuses a tag other than v<appVersion> greps the line Chart.yaml has."""
    chart = yaml.safe_load((ROOT / CHART / "Chart.yaml").read_text())
    line = f'appVersion: "{chart["appVersion"]}"'
    assert line in (ROOT / CHART / "Chart.yaml").read_text().splitlines()
    assert 'grep -qx "appVersion: \\"$version\\""' in _runs(
        next(iter(_load("release.yml")["jobs"].values()))
    )
