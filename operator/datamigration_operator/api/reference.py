"""Generates the DataMigration API reference (docs/api-reference.md) from the pydantic models.

python -m datamigration_operator.api.reference           # writes docs/api-reference.md
python -m datamigration_operator.api.reference --check   # exit 1 with a diff when it drifted

Every field's type, default, limits and description come from api/spec.py and api/status.py
(the field docstrings), the same source as the CRD, so the page cannot say what the API does not.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections import deque
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from datamigration_operator.api import names
from datamigration_operator.api.model_base import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN
from datamigration_operator.api.spec import QUANTITY_PATTERN, DataMigrationSpec
from datamigration_operator.api.status import DataMigrationStatus

# operator/datamigration_operator/api/reference.py -> repository root
ROOT: Final = Path(__file__).resolve().parents[3]
DEFAULT_OUTPUT: Final = ROOT / "docs" / "api-reference.md"

# Patterns with a name readers know, instead of the regular expression.
NAMED_PATTERNS: Final = {
    DNS_SUBDOMAIN_PATTERN: "DNS subdomain name",
    DNS_LABEL_PATTERN: "DNS label",
    QUANTITY_PATTERN: "Kubernetes quantity (500m, 1, 256Mi)",
}
_REF_PREFIX: Final = "#/$defs/"

Schema = dict[str, Any]


def _anchor(model: str) -> str:
    return model.lower()


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return ref[len(_REF_PREFIX) :]
    return None


def _alternatives(schema: Schema) -> list[Schema]:
    """The non-null alternatives of a field (X | None is an optional X)."""
    options = schema.get("anyOf", [schema])
    return [option for option in options if option.get("type") != "null"]


def _type(schema: Schema) -> str:
    ref = _ref_name(schema)
    if ref is not None:
        return f"[{ref}](#{_anchor(ref)})"
    alternatives = _alternatives(schema)
    if len(alternatives) > 1 or alternatives[0] is not schema:
        return " or ".join(_type(option) for option in alternatives)
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "string" and schema.get("format") == "date-time":
        return "timestamp (RFC 3339)"
    if kind == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        if isinstance(values, dict):
            return f"map of string to {_type(values)}"
    return str(kind)


_LIMITS: Final = (
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("minItems", "items ≥ {}"),
    ("maxItems", "items ≤ {}"),
)


def _limits(schema: Schema) -> list[str]:
    found: list[str] = []
    for option in _alternatives(schema):
        for key, template in _LIMITS:
            if key in option:
                found.append(template.format(option[key]))
        pattern = option.get("pattern")
        if isinstance(pattern, str):
            found.append(NAMED_PATTERNS.get(pattern, f"pattern `{pattern}`"))
    keys = schema.get("x-kubernetes-list-map-keys")
    if keys:
        found.append("unique by " + ", ".join(f"`{key}`" for key in keys))
    return found


def _default(schema: Schema, required: bool) -> str:
    if required:
        return "required"
    if "default" not in schema or schema["default"] is None:
        return "—"
    return f"`{json.dumps(schema['default'], ensure_ascii=False)}`"


def _children(schema: Schema) -> list[str]:
    """Models a field refers to, in the order they appear."""
    found: list[str] = []
    for option in [*_alternatives(schema), schema.get("items", {})]:
        if not isinstance(option, dict):
            continue
        ref = _ref_name(option)
        if ref is not None:
            found.append(ref)
        items = option.get("items")
        if isinstance(items, dict) and _ref_name(items) is not None:
            found.append(str(_ref_name(items)))
    return found


def _model_section(name: str, schema: Schema, path: str) -> tuple[list[str], list[str]]:
    """The markdown of one model and the models its fields refer to."""
    lines = [f"### {name}", ""]
    if path:
        lines += [f"Used at `{path}`.", ""]
    description = schema.get("description")
    if description:
        lines += [" ".join(description.split()), ""]
    lines += ["| field | type | default | limits | description |", "|---|---|---|---|---|"]
    required = set(schema.get("required", []))
    children: list[str] = []
    for field, field_schema in schema.get("properties", {}).items():
        limits = ", ".join(_limits(field_schema)) or "—"
        lines.append(
            f"| `{field}` | {_type(field_schema)} | "
            f"{_default(field_schema, field in required)} | {_cell(limits)} | "
            f"{_cell(field_schema.get('description', ''))} |"
        )
        children += _children(field_schema)
    lines.append("")
    return lines, children


def _models(root: type[BaseModel], prefix: str) -> list[str]:
    """Every model reachable from root, breadth first, each once."""
    schema = root.model_json_schema(by_alias=True)
    defs: dict[str, Schema] = schema.pop("$defs", {})
    defs[root.__name__] = schema
    paths: dict[str, str] = {root.__name__: prefix}
    queue: deque[str] = deque([root.__name__])
    seen: set[str] = set()
    lines: list[str] = []
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        section, children = _model_section(name, defs[name], paths[name])
        lines += section
        for field, field_schema in defs[name].get("properties", {}).items():
            for child in _children(field_schema):
                suffix = "[]" if field_schema.get("type") == "array" else ""
                paths.setdefault(child, f"{paths[name]}.{field}{suffix}")
        queue.extend(child for child in children if child not in seen)
    return lines


def render() -> str:
    """The whole reference page."""
    lines = [
        "<!-- Generated by `python -m datamigration_operator.api.reference` from api/; "
        "do not edit. -->",
        "",
        "# DataMigration API reference",
        "",
        f"`apiVersion: {names.API_VERSION}`, `kind: {names.KIND}` (plural `{names.PLURAL}`, "
        f"short names {', '.join(f'`{n}`' for n in names.SHORT_NAMES)}, namespaced).",
        "Field names are as written in YAML (camelCase). Unknown spec fields are refused at "
        "admission. Besides the per-field limits below, the CRD's CEL rules refuse illegal "
        "`spec.phase` jumps, a first phase other than `migrate`, names longer than 63 "
        "characters, and from dual-write on any change of `source`, `target` or `collections`; "
        "tables and collections must be unique and every reference's `targetTable` mapped "
        "(see `api/admission_rules.py`). Examples: `samples/`.",
        "",
        "## Spec",
        "",
        *_models(DataMigrationSpec, "spec"),
        "## Status",
        "",
        "Written by the operator and its Jobs through the status subresource; never by hand.",
        "",
        *_models(DataMigrationStatus, "status"),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/api-reference.md.")
    parser.add_argument("--check", action="store_true", help="fail when the page is stale")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="file to write")
    args = parser.parse_args(argv)
    wanted = render()
    path: Path = args.output
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current == wanted:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                fromfile=str(path),
                tofile="generated",
            )
        )
        print(f"{path} is stale; run python -m datamigration_operator.api.reference")
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
