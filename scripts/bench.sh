#!/usr/bin/env bash
# `make bench` (BENCH_QUICK=1 make bench for a few minutes' version): install what the benchmarks need
# (as `make test` does), build the broker and the bench's trivial worker into lib/, run
# bench/broker.bench.ts with Node 24, then print the table it wrote (.data/bench/latest.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
source scripts/lib.sh
say "build (lib/: the broker worker process and the trivial workflow's worker)"
npx tsc -p tsconfig.bench.json
rm -f .data/bench/latest.txt
set +e
NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning" \
  npx jest -c jest.bench.config.js "$@"
status=$?
set -e
if [[ -f .data/bench/latest.txt ]]; then
  echo
  cat .data/bench/latest.txt
  echo "rows: .data/bench/latest.json; chart: .data/bench/launch-latency.svg; this run: $(ls -1d .data/bench/runs/* | tail -1)"
fi
exit "$status"
