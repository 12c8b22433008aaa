#!/usr/bin/env bash
# Create .venv and install, editable and pinned (constraints.txt), the three distributions: the
# product with its operator and dev extras, the sandbox (sandbox/) and the example chat app
# (examples/chat-app/). Idempotent: reinstalls only when a pyproject or the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml sandbox/pyproject.toml examples/chat-app/pyproject.toml \
  constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt \
    -e '.[operator,dev]' -e ./sandbox -e ./examples/chat-app
  rm -f .venv/.installed-*
  touch "$stamp"
fi
