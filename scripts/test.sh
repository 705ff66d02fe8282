#!/usr/bin/env bash
# `make test`: install every peer the tests need (pinned, cached, idempotent), type-check, lint, then
# run every jest suite against real servers. Ends with one line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
source scripts/lib.sh

say "type-check"
npx tsc -p tsconfig.json --noEmit
say "lint"
npx eslint --max-warnings 0 .
say "build (lib/ and the workflow bundle, for the suites that run the broker process)"
scripts/build.sh

report="$(mktemp -t secret-broker-jest.XXXXXX.json)"
set +e
NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning" \
  npx jest --ci --json --outputFile="$report" "$@"
status=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit "$status"
