#!/usr/bin/env bash
# The main job: the local sandbox walk-through (control plane, kubectl, a DataMigration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/dmctl sandbox demo "$@"
