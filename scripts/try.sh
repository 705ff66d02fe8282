#!/usr/bin/env bash
# Try a platform on this machine, with no cloud account: `scripts/try.sh aws|gcp|hpc`.
# Installs the peer the tests use (moto; the Google Secret Manager and IAM emulators; OpenSSH), starts
# it and the broker (as `make start` does) pointed at it, creates a compute environment on it through
# the CLI, runs one launch → complete, and keeps everything running until Ctrl-C (test/try/main.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
platform="${1:-}"
case "$platform" in
  aws) dep=30-moto.sh ;;
  gcp) dep=40-gcp-emulator.sh ;;
  hpc) dep=20-openssh.sh ;;
  *) echo "usage: scripts/try.sh aws|gcp|hpc" >&2; exit 2 ;;
esac
source scripts/lib.sh
scripts/install-tools.sh
"scripts/test-deps.d/$dep"
say "compiling the try-it program (test/try/main.ts) into .data/try-build"
npx tsc -p test/try/tsconfig.json
exec node .data/try-build/test/try/main.js "$platform"
