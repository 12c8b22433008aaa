"""The generated CRD: no drift, structural, and CEL rules that admit exactly DESIGN.md's phases."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import celpy
import pytest
import yaml
from celpy import celtypes

from datamigration_operator.api import crd
from datamigration_operator.api.phases import PHASES
from datamigration_operator.api.spec import DataMigrationSpec, mapping_problems
from tests.unit.reconcile.scenario import spec_dict

CRD = crd.build_crd()
VERSION = CRD["spec"]["versions"][0]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]
SPEC = SCHEMA["properties"]["spec"]
PHASE = SPEC["properties"]["phase"]

# DESIGN.md: create with migrate; migrate -> dual-write; dual-write -> validate;
# validate -> switch | dual-write; switch -> validate; rollback -> migrate | dual-write;
# any -> rollback; any -> itself.
DESIGN_MOVES = {
    ("migrate", "dual-write"),
    ("dual-write", "validate"),
    ("validate", "switch"),
    ("validate", "dual-write"),
    ("switch", "validate"),
    ("rollback", "migrate"),
    ("rollback", "dual-write"),
}


def allowed_by_design(old: str, new: str) -> bool:
    return old == new or new == "rollback" or (old, new) in DESIGN_MOVES


class Optional:
    """CEL optional for rules with optionalOldSelf (cel-python lacks optional types)."""

    def __init__(self, value: Any) -> None:
        self.value = value


_ENV = celpy.Environment()
_FUNCTIONS = {
    "hasValue": lambda o: celtypes.BoolType(o.value is not None),
    "value": lambda o: o.value,
}


def evaluate(text: str, self_value: Any, old: Any = None, *, optional: bool = False) -> Any:
    program = _ENV.program(_ENV.compile(text), functions=_FUNCTIONS)
    activation: dict[str, Any] = {"self": celpy.json_to_cel(self_value)}
    if optional:
        activation["oldSelf"] = Optional(None if old is None else celpy.json_to_cel(old))
    elif old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    result = program.evaluate(activation)
    if isinstance(result, Exception):
        raise result
    return result


def failures(rules: list[dict[str, Any]], value: Any, old: Any = None) -> list[str]:
    """Messages of the failing rules, as the API server would report them."""
    messages = []
    for rule in rules:
        uses_old = "oldSelf" in rule["rule"]
        if uses_old and old is None and not rule.get("optionalOldSelf"):
            continue  # transition rules are skipped on create
        optional = bool(rule.get("optionalOldSelf"))
        if not evaluate(rule["rule"], value, old, optional=optional):
            expression = rule.get("messageExpression")
            messages.append(
                str(evaluate(expression, value, old, optional=optional))
                if expression
                else rule["message"]
            )
    return messages


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


# -- generation -------------------------------------------------------------------------------


def test_committed_crd_matches_the_models() -> None:
    assert crd.DEFAULT_OUTPUT.read_text() == crd.render(), (
        "crds/datamigration.yaml drifted: run python -m datamigration_operator.api.crd"
    )
    assert yaml.safe_load(crd.DEFAULT_OUTPUT.read_text()) == CRD


@pytest.mark.parametrize("copy_path", crd.COPIES, ids=lambda p: str(p.relative_to(crd.ROOT)))
def test_kustomize_and_helm_copies_are_the_generated_crd(copy_path: Any) -> None:
    assert copy_path.read_text() == crd.render(), (
        f"{copy_path} drifted: run python -m datamigration_operator.api.crd"
    )


def test_generated_yaml_has_no_anchors_or_aliases() -> None:
    """A schema fragment used twice (e.g. a `required` list) is written out twice."""
    events = list(yaml.parse(crd.render()))
    assert not [e for e in events if isinstance(e, yaml.AliasEvent)]
    assert not [e for e in events if getattr(e, "anchor", None)]


def test_check_mode_reports_drift(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text("old\n")
    assert crd.main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().out
    assert crd.main(["--output", str(stale)]) == 0
    assert crd.main(["--check", "--output", str(stale)]) == 0


def test_names_subresource_and_printer_columns() -> None:
    names = CRD["spec"]["names"]
    assert CRD["metadata"]["name"] == "datamigrations.migrations.gremlins.ai"
    assert (names["kind"], names["plural"], names["singular"]) == (
        "DataMigration",
        "datamigrations",
        "datamigration",
    )
    assert names["shortNames"] == ["dm", "dmig"]
    assert names["categories"] == ["migrations"]
    assert VERSION["subresources"] == {"status": {}}
    printer = VERSION["additionalPrinterColumns"]
    columns = {c["name"].upper(): c["jsonPath"] for c in printer if not c.get("priority")}
    assert columns == {
        "PHASE": ".spec.phase",
        "STATE": ".status.state",
        "MODE": ".status.mode.configMap",
        "PROGRESS": ".status.progress.percent",
        "VALIDATED": '.status.conditions[?(@.type=="Validated")].status',
        "AGE": ".metadata.creationTimestamp",
    }
    # -o wide adds why, the applied mode, rows, the ETA and the message (last: the longest)
    wide = {c["name"].upper(): c["jsonPath"] for c in printer if c.get("priority") == 1}
    assert wide == {
        "REASON": '.status.conditions[?(@.type=="Ready")].reason',
        "APPLIED": ".status.mode.applied",
        "ROWS": ".status.progress.rowsDone",
        "ETA": ".status.progress.eta",
        "MESSAGE": ".status.message",
    }
    assert printer[-1]["name"] == "Message"


# -- structural -------------------------------------------------------------------------------

FORBIDDEN = {"$ref", "$defs", "anyOf", "allOf", "oneOf", "not", "title", "const", "examples"}


@pytest.mark.parametrize(
    ("path", "node"), list(nodes(SCHEMA)), ids=lambda x: x if isinstance(x, str) else ""
)
def test_schema_is_structural(path: str, node: dict[str, Any]) -> None:
    assert FORBIDDEN.isdisjoint(node), f"{path}: {FORBIDDEN & node.keys()}"
    assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path}: no type"
    if "properties" in node:
        assert node["type"] == "object"
        assert "additionalProperties" not in node
    if node.get("type") == "array":
        assert "items" in node
        assert "maxItems" in node, f"{path}: unbounded list"
        assert not node.get("uniqueItems")
    if node.get("type") == "string" and "enum" not in node and "format" not in node:
        assert "maxLength" in node or path in (".apiVersion", ".kind"), f"{path}: unbounded"
    for key in node.get("x-kubernetes-list-map-keys", []):
        item = node["items"]
        assert key in item.get("required", []) or "default" in item["properties"][key]


def test_every_spec_field_is_described() -> None:
    for path, node in nodes(SPEC, ".spec"):
        assert node.get("description"), f"{path} has no description"


def _apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """The API server's structural defaulting."""
    if isinstance(value, dict) and "properties" in schema:
        for name, child in schema["properties"].items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = _apply_defaults(child, value[name])
    elif isinstance(value, list) and "items" in schema:
        return [_apply_defaults(schema["items"], item) for item in value]
    return value


def test_crd_defaults_equal_the_model_defaults() -> None:
    minimal = spec_dict()
    del minimal["phase"]
    defaulted = _apply_defaults(SPEC, copy.deepcopy(minimal))
    model = DataMigrationSpec.model_validate(minimal)
    assert defaulted == _without_empty_lists(
        model.model_dump(mode="json", by_alias=True, exclude_none=True)
    )


def _without_empty_lists(value: Any) -> Any:
    """Absent and [] mean the same to the operator; the CRD does not default lists."""
    if isinstance(value, dict):
        return {k: _without_empty_lists(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_without_empty_lists(v) for v in value]
    return value


def test_bounds_and_patterns_reach_the_crd() -> None:
    collections = SPEC["properties"]["collections"]
    assert collections["maxItems"] == 32
    assert collections["default"] == []  # at least one unless discover.tables: all (CEL)
    assert collections["x-kubernetes-list-map-keys"] == ["table"]
    name = SPEC["properties"]["app"]["properties"]["configMapRef"]["properties"]["name"]
    assert name["maxLength"] == 253
    assert name["pattern"].startswith("^[a-z0-9]")
    assert PHASE["enum"] == list(PHASES)
    assert PHASE["default"] == "migrate"
    cpu = SPEC["properties"]["jobTemplate"]["properties"]["resources"]["properties"]["limits"]
    assert cpu["properties"]["cpu"]["x-kubernetes-int-or-string"] is True
    assert SCHEMA["properties"]["status"]["properties"]["message"]["nullable"] is True


# -- CEL --------------------------------------------------------------------------------------

ALL_RULES = [rule for _, node in nodes(SCHEMA) for rule in node.get("x-kubernetes-validations", [])]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r["rule"][:60])
def test_every_rule_compiles(rule: dict[str, Any]) -> None:
    _ENV.compile(rule["rule"])
    if "messageExpression" in rule:
        _ENV.compile(rule["messageExpression"])
    assert rule["message"]
    if rule.get("optionalOldSelf"):
        assert "oldSelf" in rule["rule"], "the API server rejects optionalOldSelf without oldSelf"


@pytest.mark.parametrize("new", PHASES)
@pytest.mark.parametrize("old", PHASES)
def test_phase_transitions_follow_design(old: str, new: str) -> None:
    messages = failures(PHASE["x-kubernetes-validations"], new, old)
    if allowed_by_design(old, new):
        assert messages == []
    else:
        assert len(messages) == 1
        assert f"from {old} to {new}" in messages[0]


@pytest.mark.parametrize("phase", PHASES)
def test_a_new_datamigration_must_start_with_migrate(phase: str) -> None:
    spec = spec_dict(phase=phase)
    on_create = failures(SPEC["x-kubernetes-validations"], spec)
    if phase == "migrate":
        assert on_create == []
    else:
        assert on_create == ["a new DataMigration must start with spec.phase: migrate"]
    assert failures(SPEC["x-kubernetes-validations"], spec, spec_dict(phase="validate")) == []


MAPPINGS = {
    "good": spec_dict(),
    "duplicate collection": spec_dict(
        collections=[{"table": "a", "collection": "A"}, {"table": "b", "collection": "A"}]
    ),
    "unmapped reference": spec_dict(
        collections=[
            {
                "table": "a",
                "collection": "A",
                "references": [{"column": "b_id", "targetTable": "b"}],
            }
        ]
    ),
    "vector is id": spec_dict(
        collections=[{"table": "a", "collection": "A", "idColumn": "k", "vectorColumn": "k"}]
    ),
    "vector is default id": spec_dict(
        collections=[{"table": "a", "collection": "A", "vectorColumn": "id"}]
    ),
    "no tables": spec_dict(collections=[]),
    "good discovered": {**spec_dict(collections=[]), "discover": {"tables": "all"}},
    "good discovered, a reference to a discovered table": {
        **spec_dict(
            collections=[
                {
                    "table": "a",
                    "collection": "A",
                    "references": [{"column": "b_id", "targetTable": "b"}],
                }
            ]
        ),
        "discover": {"tables": "all", "references": "fromForeignKeys"},
    },
    "no tables, references discovered": {
        **spec_dict(collections=[]),
        "discover": {"references": "fromForeignKeys"},
    },
}


@pytest.mark.parametrize("name", MAPPINGS)
def test_cel_and_pydantic_agree_on_mappings(name: str) -> None:
    spec = MAPPINGS[name]
    cel = failures(SPEC["x-kubernetes-validations"], spec, spec)
    python_ok = True
    try:
        DataMigrationSpec.model_validate(spec)
    except ValueError:
        python_ok = False
    assert (cel == []) == python_ok == name.startswith("good")


def test_mapping_problems_name_the_culprit() -> None:
    spec = DataMigrationSpec.model_validate(spec_dict())
    bad = [
        spec.collections[0],
        spec.collections[1].model_copy(
            update={
                "references": [
                    spec.collections[1].references[0].model_copy(update={"target_table": "ghosts"})
                ]
            }
        ),
    ]
    assert mapping_problems(bad) == [
        "reference orders.customer_id points to table ghosts, which is not in spec.collections"
    ]


# -- what cannot change, and names that cannot work --------------------------------------------

IDENTITY_CHANGES = {
    "source path": {"source": {"claimName": "shop-data", "path": "db/other.sqlite"}},
    "target host": {
        "target": {
            "http": {"host": "weaviate.elsewhere.svc", "port": 8080},
            "grpc": {"host": "weaviate.elsewhere.svc", "port": 50051},
        }
    },
    "collections": {"collections": [{"table": "customers", "collection": "Client"}]},
    "discover": {"discover": {"references": "fromForeignKeys"}},
}


@pytest.mark.parametrize("change", sorted(IDENTITY_CHANGES))
@pytest.mark.parametrize(
    ("old_phase", "new_phase", "allowed"),
    [
        ("migrate", "migrate", True),  # the copy has not reached the app yet: fix and rerun
        ("rollback", "migrate", True),  # start over with a new copy
        ("dual-write", "dual-write", False),
        ("validate", "validate", False),
        ("switch", "rollback", False),
        ("rollback", "rollback", False),
        ("rollback", "dual-write", False),
    ],
)
def test_source_target_and_collections_are_fixed_once_the_app_writes_to_the_target(
    change: str, old_phase: str, new_phase: str, allowed: bool
) -> None:
    old = spec_dict(phase=old_phase)
    new = {**spec_dict(phase=new_phase), **IDENTITY_CHANGES[change]}
    messages = failures(SPEC["x-kubernetes-validations"], new, old)
    if allowed:
        assert messages == []
    else:
        assert messages == [
            "spec.source, spec.target, spec.discover and spec.collections cannot change in "
            f"phase {old_phase}: the app may have written to the target. Roll back, then change "
            "them together with phase: migrate (a new copy), or create a new DataMigration"
        ]
    # an unchanged spec passes in every phase
    assert failures(SPEC["x-kubernetes-validations"], {**old, "rerun": 1}, old) == []


@pytest.mark.parametrize(("length", "accepted"), [(1, True), (63, True), (64, False), (253, False)])
def test_names_longer_than_a_label_value_are_refused(length: int, accepted: bool) -> None:
    obj = {"metadata": {"name": "a" * length}, "spec": spec_dict()}
    messages = failures(SCHEMA["x-kubernetes-validations"], obj)
    assert (messages == []) == accepted
    if not accepted:
        assert "at most 63 characters" in messages[0]


@pytest.mark.parametrize(
    ("old_phase", "new_phase", "old_value", "new_value", "allowed"),
    [
        ("migrate", "migrate", None, 1, True),  # the copy may still drop and recreate
        ("rollback", "migrate", 1, 2, True),  # a new copy
        ("migrate", "dual-write", 1, 1, True),  # a GitOps spec keeps the field: inert
        ("dual-write", "dual-write", None, 1, False),  # would drop the app's writes
        ("validate", "validate", 1, 2, False),
        ("rollback", "rollback", None, 1, False),
    ],
)
def test_recreate_on_rerun_is_set_or_changed_only_in_migrate(
    old_phase: str, new_phase: str, old_value: int | None, new_value: int, allowed: bool
) -> None:
    old = spec_dict(phase=old_phase)
    if old_value is not None:
        old["recreateOnRerun"] = old_value
    new = {**spec_dict(phase=new_phase), "recreateOnRerun": new_value}
    messages = failures(SPEC["x-kubernetes-validations"], new, old)
    if allowed:
        assert messages == []
    else:
        assert messages == [
            "spec.recreateOnRerun can be set or changed only in phase migrate: dropping the "
            "collections during dual-write or later would lose the app's writes"
        ]
