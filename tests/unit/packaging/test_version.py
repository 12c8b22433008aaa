"""One version: __version__ is the wheel's version (pyproject.toml reads it), the default Job
image's tag, the Helm chart's appVersion and the image tag of every kustomize manifest."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from hatchling.metadata.core import ProjectMetadata
from hatchling.plugin.manager import PluginManager

from datamigration_operator import __version__
from datamigration_operator.handlers.config import DEFAULT_JOB_IMAGE, OPERATOR_IMAGE_REPOSITORY

ROOT = Path(__file__).resolve().parents[3]


def test_the_version_is_a_release_number_written_once() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", __version__)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]


def test_the_wheel_gets_the_package_version() -> None:
    metadata = ProjectMetadata(str(ROOT), PluginManager())
    assert metadata.version == __version__


def test_the_chart_and_the_default_job_image_follow_it() -> None:
    chart = yaml.safe_load((ROOT / "helm/datamigration-operator/Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    assert f"{OPERATOR_IMAGE_REPOSITORY}:{__version__}" == DEFAULT_JOB_IMAGE


def test_the_kustomize_manifests_run_this_version() -> None:
    images = re.findall(
        rf"{re.escape(OPERATOR_IMAGE_REPOSITORY)}:(\S+)",
        "".join(p.read_text() for p in sorted((ROOT / "manifests").rglob("*.yaml"))),
    )
    assert images, "the manifests name the operator's image"
    assert set(images) == {__version__}
