"""pydantic's validation errors as the lines a person reads: `path: reason`, one per problem."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from datamigration_operator.api.spec import (
    COLLECTION_PATTERN,
    PROPERTY_PATTERN,
    SQL_IDENTIFIER_PATTERN,
)

# What a pattern means, instead of the regular expression.
_PATTERNS = {
    COLLECTION_PATTERN: "a Weaviate collection name starts with A-Z, then letters, digits or _",
    PROPERTY_PATTERN: "a Weaviate property name is letters, digits or _, not starting with a digit",
    SQL_IDENTIFIER_PATTERN: "a SQLite name cannot be empty or hold a NUL character",
}
_PREFIXES = ("Value error, ", "Assertion failed, ")


def error_path(location: Sequence[int | str], root: str = "") -> str:
    """`collections[0].vectorColumn` from pydantic's loc (aliases, list indexes)."""
    path = root
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("function-") and "[" not in part:  # validator wrappers
            path += f".{part}" if path else part
    return path


def reason(detail: dict[str, object]) -> str:
    kind = detail.get("type")
    context = detail.get("ctx")
    if kind == "string_pattern_mismatch" and isinstance(context, dict):
        meaning = _PATTERNS.get(str(context.get("pattern")))
        if meaning:
            return f"{detail.get('input')!r} is not allowed: {meaning}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    message = str(detail.get("msg", ""))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message


def one_line_each(error: ValidationError, root: str = "") -> list[str]:
    """Every problem as `path: reason`; duplicates (one input tried as several types) once."""
    lines = []
    for detail in error.errors():
        where = error_path(detail["loc"], root)
        line = f"{where}: {reason(dict(detail))}" if where else reason(dict(detail))
        if line not in lines:
            lines.append(line)
    return lines
