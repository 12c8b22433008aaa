"""The dual-write library runs on the base install: without the `operator` extra's packages.

import-linter proves it statically (pyproject); this imports every dualwrite module in a fresh
interpreter where kopf, kubernetes, aiohttp, typer, rich and yaml cannot be imported.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
BLOCKED = {"kopf", "kubernetes", "aiohttp", "typer", "rich", "yaml"}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in the base install")
        return None

sys.meta_path.insert(0, Block())
import datamigration_operator.dualwrite as package
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED))
"""


def test_every_dualwrite_module_imports_without_the_operator_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
