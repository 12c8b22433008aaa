from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.kube.crd_schema import SchemaValidator, structural_errors
from datamigration_sandbox.kube.status_errors import Cause, invalid

_TRANSITION = (
    "self == oldSelf || oldSelf == 'migrate' && self in ['dual-write', 'rollback'] "
    "|| self == 'rollback'"
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["phase", "source"],
            "properties": {
                "phase": {
                    "type": "string",
                    "enum": ["migrate", "dual-write", "rollback"],
                    "x-kubernetes-validations": [
                        {
                            "rule": _TRANSITION,
                            "messageExpression": (
                                "'illegal phase change ' + oldSelf + ' -> ' + self"
                            ),
                        }
                    ],
                },
                "source": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[a-z]+$"},
                "rerun": {"type": "integer", "default": 0, "minimum": 0, "format": "int32"},
                "ratio": {"type": "number", "maximum": 1, "exclusiveMaximum": True},
                "tags": {
                    "type": "array",
                    "maxItems": 3,
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
                "tables": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "batch": {"type": "integer", "default": 500},
                            "key": {
                                "type": "string",
                                "x-kubernetes-validations": [
                                    {"rule": "self == oldSelf", "message": "key is immutable"}
                                ],
                            },
                        },
                    },
                },
                "port": {"x-kubernetes-int-or-string": True},
                "validation": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "maxAge": {"type": "string", "default": "1h"},
                        "since": {"type": "string", "format": "date-time"},
                    },
                },
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "note": {"type": "string", "nullable": True},
            },
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.ratio) || self.rerun < 5",
                    "message": "ratio needs rerun < 5",
                    "fieldPath": ".rerun",
                    "reason": "FieldValueForbidden",
                }
            ],
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def _obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "metadata": {"name": "dm", "annotations": {"a": "b"}},
        "spec": {"phase": "migrate", "source": "app", **spec},
    }


def _messages(causes: list[Cause]) -> dict[str, str]:
    found: dict[str, str] = {}
    for cause in causes:
        found[cause.field] = (
            f"{found[cause.field]} | {cause.message}" if cause.field in found else cause.message
        )
    return found


@pytest.fixture(scope="module")
def validator() -> SchemaValidator:
    return SchemaValidator(SCHEMA)


def test_defaults_fill_recursively_and_unknown_fields_are_pruned(
    validator: SchemaValidator,
) -> None:
    obj = _obj(
        unknown=1,
        tables=[{"name": "users", "junk": True}],
        extra={"anything": {"goes": 1}},
        rerun=None,
        note=None,
    )
    obj["top"] = "pruned"
    result = validator.apply_defaults(obj)
    assert result["metadata"] == {"name": "dm", "annotations": {"a": "b"}}
    assert result["apiVersion"] == obj["apiVersion"]
    assert "top" not in result
    spec = result["spec"]
    assert "unknown" not in spec
    assert spec["tables"] == [{"name": "users", "batch": 500}]
    assert spec["rerun"] == 0  # a null of a non-nullable field takes the default
    assert spec["note"] is None  # nullable keeps its null
    assert spec["validation"] == {"maxAge": "1h"}  # default {} then its own defaults
    assert spec["extra"] == {"anything": {"goes": 1}}
    assert "unknown" in obj["spec"]  # input untouched


def test_a_valid_object_has_no_causes(validator: SchemaValidator) -> None:
    obj = validator.apply_defaults(
        _obj(tags=["a", "b"], port="http", labels={"x": "y"}, ratio=0.5, note=None)
    )
    assert validator.validate(obj, None) == []


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        (
            {"phase": "jump"},
            "spec.phase",
            'Unsupported value: "jump": supported values: "migrate", "dual-write", "rollback"',
        ),
        (
            {"rerun": "two"},
            "spec.rerun",
            'Invalid value: "string": spec.rerun in body must be of type integer: "string"',
        ),
        ({"rerun": 1.5}, "spec.rerun", "must be of type integer"),
        ({"rerun": True}, "spec.rerun", "must be of type integer"),
        ({"rerun": -1}, "spec.rerun", "should be greater than or equal to 0"),
        ({"rerun": 2**31}, "spec.rerun", "must be of type int32"),
        ({"ratio": 1}, "spec.ratio", "should be less than 1"),
        ({"source": "toolongname"}, "spec.source", "Too long: may not be more than 8 bytes"),
        ({"source": ""}, "spec.source", "should be at least 1 chars long"),
        ({"source": "UP"}, "spec.source", "should match '^[a-z]+$'"),
        ({"tags": ["a", "b", "c", "d"]}, "spec.tags", "Too many: 4: must have at most 3 items"),
        ({"tags": ["a", "a"]}, "spec.tags[1]", 'Duplicate value: "a"'),
        ({"tables": [{"name": "t"}, {"name": "t"}]}, "spec.tables[1]", "Duplicate value"),
        ({"tables": [{"batch": 1}]}, "spec.tables[0].name", "Required value"),
        ({"port": 1.5}, "spec.port", "must be of type integer or string"),
        ({"labels": {"x": 1}}, "spec.labels[x]", "must be of type string"),
        ({"note": 3}, "spec.note", "must be of type string"),
        ({"validation": {"since": "yesterday"}}, "spec.validation.since", "date-time"),
        (
            {"ratio": 0.1, "rerun": 7},
            "spec.rerun",
            "Forbidden: ratio needs rerun < 5",
        ),
    ],
)
def test_violations_are_reported_with_the_servers_wording(
    validator: SchemaValidator, spec: dict[str, Any], field: str, expected: str
) -> None:
    messages = _messages(validator.validate(_obj(**spec), None))
    assert field in messages, messages
    assert expected in messages[field]


def test_missing_required_field_and_null_of_non_nullable(validator: SchemaValidator) -> None:
    obj = _obj()
    del obj["spec"]["source"]
    obj["spec"]["rerun"] = None
    causes = validator.validate(obj, None)
    assert Cause("spec.source", "Required value", "FieldValueRequired") in causes
    assert _messages(causes)["spec.rerun"].startswith('Invalid value: "null"')


def test_transition_rule_runs_only_on_update(validator: SchemaValidator) -> None:
    created = _obj(phase="rollback")
    assert validator.validate(created, None) == []  # no oldSelf on create
    old = _obj(phase="dual-write")
    assert validator.validate(_obj(phase="rollback"), old) == []
    causes = validator.validate(_obj(phase="migrate"), old)
    assert causes == [
        Cause(
            "spec.phase",
            'Invalid value: "string": illegal phase change dual-write -> migrate',
            "FieldValueInvalid",
        )
    ]
    error = invalid("DataMigration", "migrations.gremlins.ai", "dm", causes)
    assert error.code == 422
    assert 'spec.phase: Invalid value: "string": illegal phase change' in error.message


def test_transition_rules_in_map_lists_correlate_items_by_key(validator: SchemaValidator) -> None:
    old = _obj(tables=[{"name": "a", "key": "id"}, {"name": "b", "key": "id"}])
    new = _obj(tables=[{"name": "b", "key": "uuid"}, {"name": "c", "key": "x"}])
    causes = validator.validate(new, old)
    assert causes == [
        Cause(
            "spec.tables[0].key", 'Invalid value: "string": key is immutable', "FieldValueInvalid"
        )
    ]


def test_rule_without_message_reports_the_rule() -> None:
    validator = SchemaValidator(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "x-kubernetes-validations": [{"rule": "self.n > 1"}],
                }
            },
        }
    )
    assert _messages(validator.validate({"spec": {"n": 0}}, None)) == {
        "spec": 'Invalid value: "object": failed rule: self.n > 1'
    }
    # A rule that errors (missing field) is reported, not swallowed.
    assert (
        "evaluating rule: self.n > 1" in _messages(validator.validate({"spec": {}}, None))["spec"]
    )


def test_rule_that_does_not_compile_is_a_compile_error() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-validations": [{"rule": "self.x >"}]}
        },
    }
    (cause,) = SchemaValidator(schema).compile_errors()
    assert cause.field == "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    assert "compilation failed" in cause.message
    assert any("compilation failed" in c.message for c in structural_errors(schema))


def test_unsupported_rule_reason_is_a_compile_error() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "true", "reason": "Whatever"}],
    }
    (cause,) = SchemaValidator(schema).compile_errors()
    assert "Unsupported value" in cause.message


def test_structural_errors() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "untyped": {"description": "no type"},
                    "list": {"type": "array"},
                    "n": {"type": "integer", "default": "x"},
                    "m": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "items": {"type": "object"},
                    },
                },
            }
        },
    }
    fields = {c.field for c in structural_errors(schema)}
    assert fields == {
        "openAPIV3Schema.properties[spec].properties[untyped].type",
        "openAPIV3Schema.properties[spec].properties[list].items",
        "openAPIV3Schema.properties[spec].properties[n].default",
        "openAPIV3Schema.properties[spec].properties[m].x-kubernetes-list-map-keys",
    }
    assert structural_errors(SCHEMA) == []


def test_string_library_functions_and_timestamps() -> None:
    validator = SchemaValidator(
        {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "x-kubernetes-validations": [
                        {"rule": "self.lowerAscii() == self", "message": "must be lower case"}
                    ],
                },
                "at": {
                    "type": "string",
                    "format": "date-time",
                    "x-kubernetes-validations": [
                        {"rule": "self > timestamp('2020-01-01T00:00:00Z')", "message": "too old"}
                    ],
                },
            },
        }
    )
    assert validator.validate({"name": "abc", "at": "2024-05-01T10:00:00Z"}, None) == []
    assert _messages(validator.validate({"name": "Abc", "at": "2019-05-01T10:00:00Z"}, None)) == {
        "name": 'Invalid value: "string": must be lower case',
        "at": 'Invalid value: "string": too old',
    }


def test_combinators() -> None:
    validator = SchemaValidator(
        {
            "type": "object",
            "properties": {
                "v": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                }
            },
        }
    )
    assert validator.validate({"v": {"a": "x"}}, None) == []
    (cause,) = validator.validate({"v": {"a": "x", "b": "y"}}, None)
    assert "one and only one" in cause.message


def test_schema_errors_that_block_rules_skip_them_like_the_apiserver(
    validator: SchemaValidator,
) -> None:
    obj = _obj(phase="jump", ratio=0.1, rerun=7)  # enum violation + a failing rule
    causes = validator.validate(obj, None)
    fields = [c.field for c in causes]
    assert "spec.phase" in fields
    assert "spec.rerun" not in fields  # the rule did not run
    assert causes[-1].field == "<nil>"
    assert "some validation rules were not checked" in causes[-1].message


def test_optional_old_self_rules_run_on_create_with_no_old_value() -> None:
    validator = SchemaValidator(
        {
            "type": "object",
            "properties": {
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "properties": {"phase": {"type": "string"}},
                    "x-kubernetes-validations": [
                        {
                            "rule": "oldSelf.hasValue() || self.phase == 'migrate'",
                            "optionalOldSelf": True,
                            "message": "must start with migrate",
                            "fieldPath": ".phase",
                        }
                    ],
                },
            },
        }
    )
    created = {"metadata": {"name": "dm"}, "spec": {"phase": "switch"}}
    assert validator.validate(created, None) == [
        Cause("spec.phase", 'Invalid value: "object": must start with migrate')
    ]
    assert validator.validate(created, {"spec": {"phase": "validate"}}) == []
    # a declared root metadata schema neither prunes nor rejects ObjectMeta
    assert validator.apply_defaults(created)["metadata"] == {"name": "dm"}
