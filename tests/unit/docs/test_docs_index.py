"""The README's Docs list links every page in docs/ and samples/, and every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _docs_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Docs\n", 1)[1].split("\n## ", 1)[0]


def test_the_docs_list_links_every_page_and_the_links_resolve() -> None:
    links = re.findall(r"\]\(([^)]+)\)", _docs_section())
    assert all((ROOT / link).exists() for link in links), links
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages <= set(links), sorted(pages - set(links))
    assert "samples/" in links


def test_the_set_up_commands_are_unchanged() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "    bash scripts/demo.sh     # the local sandbox walk-through" in readme
    assert "    bash scripts/test.sh     # the tests: ruff, mypy --strict" in readme
    assert readme.index("## Set-up") < readme.index("## Docs")


def test_the_architecture_page_has_a_diagram_and_points_to_the_layout() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert page.count("```mermaid") == 2
    for part in ("Weaviate", "ConfigMap", "Jobs", "operator", "stateDiagram"):
        assert part in page
    assert "README (Layout)" in page
    for folder in re.findall(r"`((?:reconcile|controller|handlers|builders)/[\w/.<>-]*)`", page):
        if "<" not in folder:
            assert (ROOT / "operator" / "datamigration_operator" / folder).exists(), folder


def test_the_install_page_covers_crd_upgrade_and_the_finalizer() -> None:
    page = (ROOT / "docs" / "install.md").read_text()
    from datamigration_operator.handlers.lifecycle import FINALIZER

    assert FINALIZER in page
    assert "helm/datamigration-operator/crds/datamigration.yaml" in page
    assert (ROOT / "helm" / "datamigration-operator" / "crds" / "datamigration.yaml").exists()
    for words in ("kubectl apply -k manifests/", "helm install", "helm upgrade", "helm uninstall"):
        assert words in page
    assert "onDelete: keep" in page
    assert "ConfigMapReleased" in page
