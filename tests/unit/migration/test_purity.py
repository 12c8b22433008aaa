"""The mapping is shared with the app-side dual-write library: it stays free of I/O stacks.

import-linter (pyproject) keeps kopf and kubernetes out; this also keeps weaviate and
sqlalchemy out of everything the pure modules import, transitively within the package.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

PURE = ("mapping", "plan", "planning", "objects", "values", "canonical")
FORBIDDEN = {"kopf", "kubernetes", "weaviate", "sqlalchemy", "sqlite3", "grpc", "aiohttp"}


def _imports(module: str) -> set[str]:
    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_pure_mapping_modules_import_no_io_stack() -> None:
    pending = [f"datamigration_operator.migration.{name}" for name in PURE]
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imports(module):
            assert name.split(".")[0] not in FORBIDDEN, f"{module} imports {name}"
            if name.startswith("datamigration_operator."):
                pending.append(name)
    assert "datamigration_operator.api.spec" in seen
