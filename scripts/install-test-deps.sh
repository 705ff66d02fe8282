#!/usr/bin/env bash
# What `make test` needs on top of install-tools.sh: every real peer the tests run against
# (PostgreSQL, OpenSSH, moto, the Google Secret Manager emulator ...). Each peer has one script in
# scripts/test-deps.d/, idempotent and pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh
source scripts/lib.sh
for step in scripts/test-deps.d/*.sh; do
  [[ -e $step ]] || continue
  bash "$step"
done
