#!/usr/bin/env bash
# The project's test command: static checks, the real servers' build (cached), then the tiers.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/unit -k patch`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check conftest.py operator sandbox examples tests
ruff format --check conftest.py operator sandbox examples tests
echo "== mypy"; mypy
if grep -q '^\[tool.importlinter\]' pyproject.toml; then echo "== import-linter"; lint-imports; fi
echo "== real servers"
if [ "${CI:-}" = "true" ]; then export SERVERS_BUILD_JOBS=2; fi
bash scripts/build-servers.sh >/dev/null
# Most tests wait on servers, Jobs and rollouts rather than compute: three workers on two cores;
# tests are grouped by module, the real tier is one group, the longest go first (conftest.py).
echo "== pytest"; pytest -n "${PYTEST_WORKERS:-3}" --dist loadscope --no-loadscope-reorder "$@"
