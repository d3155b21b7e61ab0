#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install, then run every test (lab servers included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec python3 -m pytest -q "$@"
