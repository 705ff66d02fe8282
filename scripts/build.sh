#!/usr/bin/env bash
# `make build`: compile to lib/ (tsc), then bundle the workflows once into lib/workflow-bundle.js with
# lib/workflow-bundle.json (sha256, build id) beside it. The worker loads that bundle; it never
# bundles at start. make start, make test and the Dockerfile build through here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
npx tsc -p tsconfig.build.json
node lib/worker/bundle.js
