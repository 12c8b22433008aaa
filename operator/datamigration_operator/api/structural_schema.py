"""Turns a pydantic JSON schema into a Kubernetes *structural* openAPIV3Schema.

Structural means: no $ref, a `type` on every node, no anyOf with null (`nullable` instead),
int-or-string as `x-kubernetes-int-or-string`, and only keywords the API server knows.
"""

from __future__ import annotations

from typing import Any, Final

# JSONSchemaProps keywords we carry over; anything else pydantic emits (title, $defs, ...) goes.
_KEPT: Final = frozenset(
    {
        "type",
        "format",
        "description",
        "default",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
        "nullable",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-validations",
    }
)
_NULL: Final = {"type": "null"}


class NotStructuralError(ValueError):
    """The model uses a JSON-schema construct a CRD cannot express."""


def to_structural(schema: dict[str, Any]) -> dict[str, Any]:
    """The structural form of a pydantic `model_json_schema(by_alias=True)` result."""
    return _convert(schema, schema.get("$defs", {}), path="")


def _convert(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    node = _resolve(node, defs)
    node = _collapse_any_of(node, defs, path)
    out = {key: value for key, value in node.items() if key in _KEPT}
    if out.get("default", 0) is None:
        del out["default"]  # null means "absent", which needs no default
    if "properties" in node:
        out["properties"] = {
            name: _convert(child, defs, f"{path}.{name}")
            for name, child in node["properties"].items()
        }
    if "items" in node:
        out["items"] = _convert(node["items"], defs, f"{path}[]")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _convert(extra, defs, f"{path}{{}}")
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise NotStructuralError(f"{path or '<root>'}: no type")
    return out


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inlines a $ref; the referring property's own keys (description, default) win."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return {**target, **siblings}


def _collapse_any_of(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    branches = node.get("anyOf")
    if branches is None:
        return node
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    concrete = [_resolve(b, defs) for b in branches if b != _NULL]
    nullable = len(concrete) < len(branches)
    if len(concrete) == 1:
        merged = {**concrete[0], **rest}
    elif sorted(b.get("type", "") for b in concrete) == ["integer", "string"]:
        # Structural schemas allow int-or-string only as this marker; the string pattern stays
        # in pydantic (CLI-side validation), the API server checks the quantity on the Job.
        merged = {**rest, "x-kubernetes-int-or-string": True}
    else:
        raise NotStructuralError(f"{path}: anyOf of {concrete} has no structural form")
    if nullable:
        merged["nullable"] = True
    return merged
