"""Generates the DataMigration CRD from the pydantic models.

python -m datamigration_operator.api.crd           # writes crds/datamigration.yaml and its copies
python -m datamigration_operator.api.crd --check   # exit 1 with a diff when one of them drifted

The copies are the kustomize base's (manifests/base/crd.yaml) and the Helm chart's
(helm/datamigration-operator/crds/datamigration.yaml: Helm installs crds/ files untemplated).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any, Final

import yaml

from datamigration_operator.api import admission_rules, names
from datamigration_operator.api.spec import MAX_SWITCH_STEPS, DataMigrationSpec
from datamigration_operator.api.status import DataMigrationStatus
from datamigration_operator.api.structural_schema import to_structural

# operator/datamigration_operator/api/crd.py -> repository root
ROOT: Final = Path(__file__).resolve().parents[3]
DEFAULT_OUTPUT: Final = ROOT / "crds" / "datamigration.yaml"
# Byte-identical copies written and checked with DEFAULT_OUTPUT (not with an explicit --output).
COPIES: Final = (
    ROOT / "manifests" / "base" / "crd.yaml",
    ROOT / "helm" / "datamigration-operator" / "crds" / "datamigration.yaml",
)

PRINTER_COLUMNS: Final[list[dict[str, Any]]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".spec.phase"},
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Mode", "type": "string", "jsonPath": ".status.mode.configMap"},
    {"name": "Progress", "type": "integer", "jsonPath": ".status.progress.percent"},
    {
        "name": "Validated",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Validated")].status',
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    # -o wide (priority 1): why it is in that state, and the detail of mode and progress
    {
        "name": "Reason",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    },
    {"name": "Applied", "type": "string", "priority": 1, "jsonPath": ".status.mode.applied"},
    {"name": "Rows", "type": "integer", "priority": 1, "jsonPath": ".status.progress.rowsDone"},
    {"name": "ETA", "type": "string", "priority": 1, "jsonPath": ".status.progress.eta"},
    {"name": "Message", "type": "string", "priority": 1, "jsonPath": ".status.message"},
]


def _spec_schema() -> dict[str, Any]:
    spec = to_structural(DataMigrationSpec.model_json_schema(by_alias=True))
    spec["x-kubernetes-validations"] = [
        admission_rules.create_rule(),
        admission_rules.identity_rule(),
        admission_rules.recreate_rule(),
        *admission_rules.mapping_rules(),
    ]
    spec["properties"]["phase"]["x-kubernetes-validations"] = (
        admission_rules.phase_transition_rules()
    )
    spec["properties"]["switch"]["x-kubernetes-validations"] = admission_rules.switch_step_rules(
        MAX_SWITCH_STEPS
    )
    return spec


def _status_schema() -> dict[str, Any]:
    return to_structural(DataMigrationStatus.model_json_schema(by_alias=True))


def build_crd() -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition for DataMigration."""
    schema = {
        "type": "object",
        "description": "A SQLite to Weaviate migration, advanced phase by phase via spec.phase.",
        "required": ["spec"],
        "x-kubernetes-validations": [admission_rules.name_rule()],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _spec_schema(),
            "status": _status_schema(),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": names.CRD_NAME,
            "labels": {names.LABEL_MANAGED_BY: names.OPERATOR_NAME},
        },
        "spec": {
            "group": names.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": names.KIND,
                "listKind": f"{names.KIND}List",
                "plural": names.PLURAL,
                "singular": names.SINGULAR,
                "shortNames": list(names.SHORT_NAMES),
                "categories": [names.CATEGORY],
            },
            "versions": [
                {
                    "name": names.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a value shared by two places in full both times: no `&id001` anchors and `*id001`
    aliases, which readers of a CRD (and some YAML tools) do not expect."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    header = "# Generated by `python -m datamigration_operator.api.crd` from api/; do not edit.\n"
    body = yaml.dump(build_crd(), Dumper=_NoAliasDumper, sort_keys=False, width=100)
    return header + body


def _stale(path: Path, wanted: str) -> bool:
    current = path.read_text() if path.exists() else ""
    if current == wanted:
        return False
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        fromfile=str(path),
        tofile="generated",
    )
    sys.stdout.writelines(diff)
    print(f"{path} is stale; run python -m datamigration_operator.api.crd")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the DataMigration CRD.")
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    parser.add_argument(
        "--output", type=Path, help=f"write this file only (default {DEFAULT_OUTPUT} and copies)"
    )
    args = parser.parse_args(argv)
    wanted = render()
    paths: tuple[Path, ...] = (args.output,) if args.output else (DEFAULT_OUTPUT, *COPIES)
    if args.check:
        stale = [path for path in paths if _stale(path, wanted)]
        return 1 if stale else 0
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
