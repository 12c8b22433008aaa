"""The `fieldValidation` query parameter (Ignore, Warn, Strict) for custom resources: fields the
CRD schema would prune are reported as warnings or rejected, as kube-apiserver does."""

from __future__ import annotations

import json
from typing import Any

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.crd_schema import SchemaValidator
from datamigration_sandbox.kube.resource_kinds import ResourceType

DIRECTIVES = ("Ignore", "Warn", "Strict")


def unknown_fields(given: Any, kept: Any, path: str = "") -> list[str]:
    """Dotted paths of fields in `given` that pruning removed from `kept`."""
    found: list[str] = []
    if isinstance(given, dict) and isinstance(kept, dict):
        for key, value in given.items():
            child = f"{path}.{key}" if path else key
            if key not in kept:
                found.append(child)
            else:
                found.extend(unknown_fields(value, kept[key], child))
    elif isinstance(given, list) and isinstance(kept, list) and len(given) == len(kept):
        for index, (item, kept_item) in enumerate(zip(given, kept, strict=True)):
            found.extend(unknown_fields(item, kept_item, f"{path}[{index}]"))
    return found


class FieldValidation:
    """Checks request objects of custom resources against their CRD's structural schema."""

    def __init__(self) -> None:
        self._validators: dict[tuple[str, str, str], tuple[dict[str, Any], SchemaValidator]] = {}

    def _validator(self, rt: ResourceType) -> SchemaValidator | None:
        if rt.schema is None:
            return None
        key = (rt.group, rt.plural, rt.version)
        cached = self._validators.get(key)
        if cached is None or cached[0] is not rt.schema:
            cached = self._validators[key] = (rt.schema, SchemaValidator(rt.schema))
        return cached[1]

    def check(self, directive: str | None, rt: ResourceType, obj: dict[str, Any]) -> dict[str, str]:
        """Headers to add (a Warning per unknown field); 400 for unknown fields under Strict."""
        if directive in (None, "", "Ignore"):
            return {}
        if directive not in DIRECTIVES:
            raise status_errors.bad_request(
                f'fieldValidation: Unsupported value: "{directive}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        validator = self._validator(rt)
        if validator is None:
            return {}
        kept = validator.apply_defaults(json.loads(json.dumps(obj)))
        unknown = [f for f in unknown_fields(obj, kept) if not f.startswith("metadata.")]
        if not unknown:
            return {}
        listed = ", ".join(f'unknown field "{f}"' for f in unknown)
        if directive == "Strict":
            raise status_errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {listed}"
            )
        escaped = ", ".join(f'unknown field \\"{f}\\"' for f in unknown)
        return {"Warning": f'299 - "{escaped}"'}
