#!/usr/bin/env bash
# Run one command with the project's Node first on PATH (Node 24: scripts/lib.sh), e.g.
# `scripts/run.sh npx tsc -p tsconfig.build.json`. The Makefile's build, typecheck and lint use it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
node_ensure
exec "$@"
