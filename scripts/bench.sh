#!/usr/bin/env bash
# `make bench`: install what the benchmarks need (as `make test` does), then run them with Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
source scripts/lib.sh
NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning" \
  exec npx jest -c jest.bench.config.js "$@"
