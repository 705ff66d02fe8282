#!/usr/bin/env bash
# What the image's first stage does, without Docker: `npm ci --omit=dev` in a clean copy of the files
# the Dockerfile copies before it (package.json, package-lock.json), with the project's Node, then the
# native addon check the image runs. Needs the npm registry (no test runs it: nothing downloads at
# test time; test/project/lockfile.test.ts checks the same install offline with --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
node_ensure
dir="$(mktemp -d -t secret-broker-image-deps.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
cp package.json package-lock.json "$dir/"
mkdir -p "$dir/scripts" && cp scripts/check-native.js "$dir/scripts/"
cd "$dir"
say "npm ci --omit=dev in $dir (package.json, package-lock.json only)"
start=$SECONDS
npm ci --omit=dev --no-audit --no-fund
node scripts/check-native.js
say "ok in $((SECONDS - start)) s: $(find node_modules -maxdepth 2 -name package.json | wc -l) packages, $(du -sh node_modules | cut -f1); devDependencies absent: $([[ ! -d node_modules/typescript && ! -d node_modules/jest ]] && echo yes || echo NO)"
