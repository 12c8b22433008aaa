"""Structural schema handling of a CRD version: defaulting, pruning and validation (incl. CEL).

Error wording follows the apiserver's, so `kubectl apply` against the sandbox reads like
`spec.phase: Unsupported value: "x": supported values: "migrate", "rollback"`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from .cel_rules import CompiledRule, RuleCompileError, compile_rule, to_cel
from .patches import json_copy, json_equal
from .status_errors import Cause

_ROOT_KEPT = ("apiVersion", "kind", "metadata")
_TYPES = ("object", "array", "string", "integer", "number", "boolean")
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_EMBEDDED = "x-kubernetes-embedded-resource"
_INT_OR_STRING = "x-kubernetes-int-or-string"
_RULES = "x-kubernetes-validations"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class _Missing:
    """No value at this path (distinct from an explicit null)."""


_MISSING = _Missing()

# Like the apiserver: these schema errors stop CEL rules from running (they would only add
# noise, e.g. "no such key" for a missing required field).
_BLOCKING_REASONS = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
_RULES_SKIPPED = Cause(
    "<nil>",
    'Invalid value: "null": some validation rules were not checked because the object was '
    "invalid; correct the existing errors to complete validation",
)


class _Causes(list[Cause]):
    """Schema violations, with the CEL rule failures kept apart in `rules`."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[Cause] = []


def json_type(value: Any) -> str:
    """The OpenAPI type name of a JSON value, as the apiserver names it in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: Any) -> str:
    """A value as Go's field errors print it: strings quoted, numbers bare, others as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _has_type(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if expected == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, int | float)
    return True


def _format_ok(value: Any, fmt: str) -> bool:
    if fmt in ("int32", "int64"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return True
        bits = 31 if fmt == "int32" else 63
        return bool(-(2**bits) <= value < 2**bits)
    if not isinstance(value, str):
        return True
    if fmt == "date-time":
        if not _DATE_TIME.match(value):
            return False
        try:
            datetime.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        except ValueError:
            return False
        return True
    if fmt == "date":
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    if fmt == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    return True  # formats the apiserver does not check are accepted


def _iter_schemas(schema: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every sub-schema of a structural schema with its path (`properties[spec].items`)."""
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            yield from _iter_schemas(sub, f"{path}.properties[{name}]")
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            yield from _iter_schemas(sub, f"{path}.{key}")


class SchemaValidator:
    """Defaulting, pruning and validation for one CRD version's openAPIV3Schema.

    CEL rules are compiled once here; `compile_errors()` lists the ones that do not compile.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema: dict[str, Any] = json_copy(schema)
        # Compiled rules by the id() of their schema node; self._schema keeps the nodes alive.
        self._rules: dict[int, list[CompiledRule]] = {}
        self._compile_errors: list[Cause] = []
        for path, node in _iter_schemas(self._schema, "openAPIV3Schema"):
            compiled: list[CompiledRule] = []
            for index, spec in enumerate(node.get(_RULES) or []):
                field = f"{path}.{_RULES}[{index}]"
                try:
                    compiled.append(compile_rule(spec))
                except RuleCompileError as error:
                    self._compile_errors.append(Cause(f"{field}.rule", str(error)))
            if compiled:
                self._rules[id(node)] = compiled

    def compile_errors(self) -> list[Cause]:
        """Rules that do not compile; field paths start at `openAPIV3Schema`, so the CRD
        store prefixes them with `spec.versions[i].schema.`."""
        return list(self._compile_errors)

    # --- defaulting and pruning --------------------------------------------------------------

    def apply_defaults(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of obj with unknown fields pruned, non-nullable nulls dropped and `default`
        values filled in (recursively, also inside defaulted values)."""
        result = _default_and_prune(json_copy(obj), self._schema, root=True)
        if not isinstance(result, dict):
            raise TypeError("a custom resource must be a JSON object")
        return result

    # --- validation --------------------------------------------------------------------------

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        """Every schema and CEL violation of obj; old (on UPDATE) enables transition rules."""
        causes = _Causes()
        self._validate(obj, _MISSING if old is None else old, self._schema, "", causes, root=True)
        if any(c.reason in _BLOCKING_REASONS for c in causes):
            return [*causes, _RULES_SKIPPED]
        return [*causes, *causes.rules]

    def _validate(
        self,
        value: Any,
        old: Any,
        schema: Mapping[str, Any],
        path: str,
        causes: _Causes,
        *,
        root: bool = False,
    ) -> None:
        if value is None:
            if not schema.get("nullable") and schema.get("type") in _TYPES:
                causes.append(_type_error(path, value, schema["type"]))
            return
        if not self._type_ok(value, schema, path, causes):
            return
        _check_scalar(value, schema, path, causes)
        if isinstance(value, list):
            self._validate_array(value, old, schema, path, causes)
        elif isinstance(value, dict):
            self._validate_object(value, old, schema, path, causes, root=root)
        _check_combinators(self, value, schema, path, causes)
        self._check_rules(value, old, schema, path, causes)

    def _type_ok(self, value: Any, schema: Mapping[str, Any], path: str, causes: _Causes) -> bool:
        if schema.get(_INT_OR_STRING):
            if isinstance(value, str) or _has_type(value, "integer"):
                return True
            causes.append(_type_error(path, value, "integer or string"))
            return False
        expected = schema.get("type")
        if expected in _TYPES and not _has_type(value, expected):
            causes.append(_type_error(path, value, expected))
            return False
        return True

    def _validate_array(
        self, value: list[Any], old: Any, schema: Mapping[str, Any], path: str, causes: _Causes
    ) -> None:
        _check_list_type(value, schema, path, causes)
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return
        old_items = _correlate_list(value, old, schema)
        for index, item in enumerate(value):
            self._validate(item, old_items[index], items, f"{path}[{index}]", causes)

    def _validate_object(
        self,
        value: dict[str, Any],
        old: Any,
        schema: Mapping[str, Any],
        path: str,
        causes: _Causes,
        *,
        root: bool,
    ) -> None:
        for name in schema.get("required") or []:
            if name not in value:
                causes.append(Cause(_child(path, name), "Required value", "FieldValueRequired"))
        count = len(value)
        if "maxProperties" in schema and count > schema["maxProperties"]:
            causes.append(
                Cause(
                    path,
                    f"Too many: {count}: must have at most {schema['maxProperties']} items",
                    "FieldValueTooMany",
                )
            )
        if "minProperties" in schema and count < schema["minProperties"]:
            causes.append(
                _invalid(path, count, f"should have at least {schema['minProperties']} properties")
            )
        properties: Mapping[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for key, child in value.items():
            if root and key in _ROOT_KEPT:
                continue  # the apiserver validates ObjectMeta itself
            old_child = old_map.get(key, _MISSING)
            if key in properties:
                self._validate(child, old_child, properties[key], _child(path, key), causes)
            elif isinstance(extra, Mapping):
                self._validate(child, old_child, extra, f"{path}[{key}]", causes)
            elif extra is False:
                causes.append(
                    Cause(
                        _child(path, key),
                        f"Forbidden: {_child(path, key)} in body is a forbidden property",
                        "FieldValueForbidden",
                    )
                )

    def _check_rules(
        self, value: Any, old: Any, schema: Mapping[str, Any], path: str, causes: _Causes
    ) -> None:
        rules = self._rules.get(id(schema))
        if not rules:
            return
        cel_value = to_cel(value, schema)
        has_old = not isinstance(old, _Missing) and old is not None
        cel_old = to_cel(old, schema) if has_old else None
        for rule in rules:
            # Transition rules run only on UPDATE when the old value exists at this path,
            # unless optionalOldSelf asks for them to run on CREATE too.
            if rule.uses_old_self and not has_old and not rule.optional_old_self:
                continue
            failure = rule.evaluate(cel_value, cel_old)
            if failure is None:
                continue
            field = path + rule.field_path if rule.field_path else path
            causes.rules.append(
                _rule_cause(field.lstrip("."), json_type(value), failure, rule.reason)
            )


def _rule_cause(field: str, type_name: str, message: str, reason: str) -> Cause:
    if reason == "FieldValueForbidden":
        return Cause(field, f"Forbidden: {message}", reason)
    if reason == "FieldValueRequired":
        return Cause(field, f"Required value: {message}", reason)
    if reason == "FieldValueDuplicate":
        return Cause(field, f'Duplicate value: "{type_name}"', reason)
    return Cause(field, f'Invalid value: "{type_name}": {message}', reason)


def _type_error(path: str, value: Any, expected: str) -> Cause:
    actual = json_type(value)
    return Cause(
        path,
        f'Invalid value: "{actual}": {path or "body"} in body must be of type {expected}: '
        f'"{actual}"',
        "FieldValueTypeInvalid",
    )


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {_show(value)}: {path or 'body'} in body {detail}")


def _check_scalar(value: Any, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    enum = schema.get("enum")
    if enum is not None and not any(json_equal(value, allowed) for allowed in enum):
        supported = ", ".join(_show(v) for v in enum)
        causes.append(
            Cause(
                path,
                f"Unsupported value: {_show(value)}: supported values: {supported}",
                "FieldValueNotSupported",
            )
        )
    fmt = schema.get("format")
    if isinstance(fmt, str) and not _format_ok(value, fmt):
        causes.append(
            Cause(
                path,
                f"Invalid value: {_show(value)}: {path or 'body'} in body must be of type {fmt}: "
                f'"{value}"',
                "FieldValueTypeInvalid",
            )
        )
    if isinstance(value, str):
        _check_string(value, schema, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path, causes)
    elif isinstance(value, list):
        _check_items_count(value, schema, path, causes)


def _check_string(value: str, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    length = len(value)
    if "maxLength" in schema and length > schema["maxLength"]:
        causes.append(
            Cause(
                path,
                f"Too long: may not be more than {schema['maxLength']} bytes",
                "FieldValueTooLong",
            )
        )
    if "minLength" in schema and length < schema["minLength"]:
        causes.append(_invalid(path, value, f"should be at least {schema['minLength']} chars long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and re.search(pattern, value) is None:
        causes.append(_invalid(path, value, f"should match '{pattern}'"))


def _check_number(
    value: int | float, schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    if "minimum" in schema:
        bound = schema["minimum"]
        if schema.get("exclusiveMinimum") and value <= bound:
            causes.append(_invalid(path, value, f"should be greater than {bound}"))
        elif value < bound:
            causes.append(_invalid(path, value, f"should be greater than or equal to {bound}"))
    if "maximum" in schema:
        bound = schema["maximum"]
        if schema.get("exclusiveMaximum") and value >= bound:
            causes.append(_invalid(path, value, f"should be less than {bound}"))
        elif value > bound:
            causes.append(_invalid(path, value, f"should be less than or equal to {bound}"))
    divisor = schema.get("multipleOf")
    if isinstance(divisor, int | float) and divisor and (value / divisor) % 1:
        causes.append(_invalid(path, value, f"should be a multiple of {divisor}"))


def _check_items_count(
    value: list[Any], schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    count = len(value)
    if "maxItems" in schema and count > schema["maxItems"]:
        causes.append(
            Cause(
                path,
                f"Too many: {count}: must have at most {schema['maxItems']} items",
                "FieldValueTooMany",
            )
        )
    if "minItems" in schema and count < schema["minItems"]:
        causes.append(_invalid(path, count, f"should have at least {schema['minItems']} items"))
    if schema.get("uniqueItems"):
        _check_duplicates(value, path, causes)


def _check_duplicates(value: list[Any], path: str, causes: list[Cause]) -> None:
    for index, item in enumerate(value):
        if any(json_equal(item, earlier) for earlier in value[:index]):
            causes.append(
                Cause(f"{path}[{index}]", f"Duplicate value: {_show(item)}", "FieldValueDuplicate")
            )


def _map_key(item: Any, keys: list[str]) -> tuple[str, ...] | None:
    if not isinstance(item, dict):
        return None
    return tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)


def _check_list_type(
    value: list[Any], schema: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set" and not schema.get("uniqueItems"):
        _check_duplicates(value, path, causes)
    elif list_type == "map":
        keys = list(schema.get("x-kubernetes-list-map-keys") or [])
        seen: set[tuple[str, ...]] = set()
        for index, item in enumerate(value):
            key = _map_key(item, keys)
            if key is None:
                continue
            if key in seen:
                shown = _show({k: item.get(k) for k in keys})
                causes.append(
                    Cause(f"{path}[{index}]", f"Duplicate value: {shown}", "FieldValueDuplicate")
                )
            seen.add(key)


def _correlate_list(value: list[Any], old: Any, schema: Mapping[str, Any]) -> list[Any]:
    """The old item of each new item: only map-lists correlate (by their keys), like the
    apiserver; items of other lists have no old value, so their transition rules do not run."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return [_MISSING] * len(value)
    keys = list(schema.get("x-kubernetes-list-map-keys") or [])
    old_by_key = {_map_key(item, keys): item for item in old if isinstance(item, dict)}
    return [old_by_key.get(_map_key(item, keys), _MISSING) for item in value]


def _check_combinators(
    validator: SchemaValidator,
    value: Any,
    schema: Mapping[str, Any],
    path: str,
    causes: _Causes,
) -> None:
    """allOf / anyOf / oneOf / not: value validations allowed in structural schemas."""

    def failures(sub: Mapping[str, Any]) -> list[Cause]:
        found = _Causes()
        validator._validate(value, _MISSING, sub, path, found)
        return found

    for sub in schema.get("allOf") or []:
        causes.extend(failures(sub))
    any_of = schema.get("anyOf")
    if any_of and all(failures(sub) for sub in any_of):
        causes.append(_invalid(path, value, "must validate at least one schema (anyOf)"))
    one_of = schema.get("oneOf")
    if one_of and sum(not failures(sub) for sub in one_of) != 1:
        causes.append(_invalid(path, value, "must validate one and only one schema (oneOf)"))
    negated = schema.get("not")
    if isinstance(negated, Mapping) and not failures(negated):
        causes.append(_invalid(path, value, "must not validate the schema (not)"))


def _default_and_prune(value: Any, schema: Mapping[str, Any], *, root: bool = False) -> Any:
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_default_and_prune(item, items) for item in value]
        return value
    if not isinstance(value, dict):
        return value
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    keeps_unknown = schema.get(_PRESERVE) is True or extra is True
    kept_as_is = _ROOT_KEPT if root or schema.get(_EMBEDDED) else ()
    # Nulls of non-nullable fields are dropped before defaulting, so a default can apply.
    for key, sub in properties.items():
        if key in value and value[key] is None and not sub.get("nullable"):
            del value[key]
        if key not in value and "default" in sub:
            value[key] = json_copy(sub["default"])
    for key in list(value):
        if key in kept_as_is:
            continue  # apiVersion, kind and metadata are never pruned
        if key in properties:
            value[key] = _default_and_prune(value[key], properties[key])
        elif isinstance(extra, Mapping):
            value[key] = _default_and_prune(value[key], extra)
        elif not keeps_unknown:
            del value[key]
    return value


def structural_errors(schema: Mapping[str, Any]) -> list[Cause]:
    """Why a CRD version schema is not structural (or its defaults are invalid), with
    `openAPIV3Schema...` field paths; an empty list means the schema is acceptable."""
    causes: list[Cause] = []
    if schema.get("type") != "object":
        causes.append(
            Cause("openAPIV3Schema.type", 'Unsupported value: "": supported values: "object"')
        )
    for path, node in _iter_schemas(schema, "openAPIV3Schema"):
        node_type = node.get("type")
        untyped_ok = node.get(_INT_OR_STRING) or node.get(_PRESERVE)
        if node_type is None and not untyped_ok:
            causes.append(
                Cause(
                    f"{path}.type",
                    "Required value: must not be empty for specified object fields",
                    "FieldValueRequired",
                )
            )
        elif node_type is not None and node_type not in _TYPES:
            causes.append(
                Cause(
                    f"{path}.type",
                    f'Unsupported value: "{node_type}": supported values: '
                    + ", ".join(f'"{t}"' for t in _TYPES),
                    "FieldValueNotSupported",
                )
            )
        if node_type == "array" and not isinstance(node.get("items"), Mapping):
            causes.append(
                Cause(f"{path}.items", "Required value: must be specified", "FieldValueRequired")
            )
        if node.get("properties") and isinstance(node.get("additionalProperties"), Mapping):
            causes.append(
                Cause(
                    f"{path}.additionalProperties",
                    "Forbidden: additionalProperties and properties are mutual exclusive",
                    "FieldValueForbidden",
                )
            )
        if node.get("x-kubernetes-list-type") == "map" and not node.get(
            "x-kubernetes-list-map-keys"
        ):
            causes.append(
                Cause(
                    f"{path}.x-kubernetes-list-map-keys",
                    "Required value: must not be empty if x-kubernetes-list-type is map",
                    "FieldValueRequired",
                )
            )
        if "default" in node:
            found = _Causes()
            checker = SchemaValidator({k: v for k, v in node.items() if k != _RULES})
            checker._validate(node["default"], _MISSING, checker._schema, "", found)
            causes.extend(
                Cause(f"{path}.default", f"Invalid value: {c.field or 'default'}: {c.message}")
                for c in found
            )
    causes.extend(SchemaValidator(dict(schema)).compile_errors())
    return causes
