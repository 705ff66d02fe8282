#!/usr/bin/env bash
# `make chaos`: the full chaos run (test/chaos/): real servers, the broker worker as a separate
# process, a few hundred runs on local, hpc, aws and gcp while the worker is SIGKILLed and restarted,
# the dev server restarted, cloud calls failed, sshd stopped and runs terminated. Prints one table
# (also in .data/chaos/full.md and .json) and exits non-zero when a must-be-0 figure is not 0.
# Bounded: the run stops itself within 30 minutes, and this script kills it at 40.
# CHAOS=short runs the version `make test` runs; CHAOS_SEED repeats a plan; CHAOS_KEEP=1 keeps the
# run's data directory (the dev server's database, every log).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
source scripts/lib.sh
say "build (lib/ and the workflow bundle: the broker worker runs as its own process)"
scripts/build.sh
export CHAOS="${CHAOS:-full}"
# The table is printed again at the end only if this run wrote it (not one left by an earlier run).
stamp="$(mktemp -t secret-broker-chaos.XXXXXX)"
trap 'rm -f "$stamp"' EXIT
set +e
NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning" \
  timeout --kill-after=30s 40m npx jest --ci --forceExit test/chaos "$@"
status=$?
set -e
if [[ -f .data/chaos/$CHAOS.md && .data/chaos/$CHAOS.md -nt $stamp ]]; then
  printf '\n' && cat ".data/chaos/$CHAOS.md"
fi
((status == 0)) && say "chaos ($CHAOS): every must-be-0 figure is 0" || say "chaos ($CHAOS): FAILED (exit $status)"
exit "$status"
