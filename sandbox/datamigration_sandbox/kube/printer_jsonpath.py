"""The JSONPath subset CRD additionalPrinterColumns use: `.a.b`, `.a[0].b`, `.a['x.y']`,
and filters such as `.status.conditions[?(@.type=="Ready")].status`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_STEP = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$]+)
      | \[(?P<index>-?\d+)\]
      | \[['"](?P<quoted>[^'"]+)['"]\]
      | \[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*
        (?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
    """,
    re.VERBOSE,
)

Step = Callable[[list[Any]], list[Any]]


def _field(name: str) -> Step:
    return lambda values: [v[name] for v in values if isinstance(v, dict) and name in v]


def _index(position: int) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out = []
        for value in values:
            if isinstance(value, list) and -len(value) <= position < len(value):
                out.append(value[position])
        return out

    return step


def _literal(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    return {"true": True, "false": False}.get(text, int(text) if text.isdigit() else text)


def _filter(path: str, op: str, raw: str) -> Step:
    keys = path.split(".")
    expected = _literal(raw)

    def lookup(item: Any) -> Any:
        for key in keys:
            if not isinstance(item, dict) or key not in item:
                return None
            item = item[key]
        return item

    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if not isinstance(value, list):
                continue
            out.extend(item for item in value if (lookup(item) == expected) == (op == "=="))
        return out

    return step


class PrinterPath:
    """A compiled printer-column JSONPath; `find` returns every match (usually one)."""

    def __init__(self, expression: str) -> None:
        text = expression.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        if text.startswith("$"):
            text = text[1:]
        self.expression = expression
        self._steps: list[Step] = []
        position = 0
        while position < len(text):
            match = _STEP.match(text, position)
            if match is None:
                raise ValueError(f"unsupported JSONPath {expression!r} at {text[position:]!r}")
            self._steps.append(self._compile(match))
            position = match.end()

    @staticmethod
    def _compile(match: re.Match[str]) -> Step:
        if match["field"] is not None:
            return _field(match["field"])
        if match["index"] is not None:
            return _index(int(match["index"]))
        if match["quoted"] is not None:
            return _field(match["quoted"])
        return _filter(match["fpath"], match["op"], match["fval"])

    def find(self, obj: Any) -> list[Any]:
        values = [obj]
        for step in self._steps:
            values = step(values)
            if not values:
                break
        return values
