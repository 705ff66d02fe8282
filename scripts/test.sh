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
say "unused files and exports (knip)"
npx knip --no-progress
say "build (lib/ and the workflow bundle, for the suites that run the broker process)"
scripts/build.sh

report="$(mktemp -t secret-broker-jest.XXXXXX.json)"
# Suites jest.config.js leaves out because a peer cannot be built on this machine (said again at the end).
BROKER_TEST_LEFT_OUT_LINE="$(node -e 'require("./jest.config.js"); process.stdout.write(process.env.BROKER_TEST_LEFT_OUT || "")' 2>/dev/null || true)"
export BROKER_TEST_LEFT_OUT_LINE
jest_run() { # REPORT [JEST ARGS...]
  local out="$1"; shift
  NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning" \
    npx jest --ci --json --outputFile="$out" "$@"
}
set +e
jest_run "$report" "$@"
status=$?
set -e

# A suite whose jest worker process was killed by a signal (not a test that failed) is run once more,
# and the totals say so. Node 22 to 26 abort now and then in V8's WebAssembly code registry while
# PGlite instances come and go ("Check failed: jit_page_->allocations_.erase(addr) == 1",
# nodejs/node#64500); nothing in the suite caused it, and nothing else is retried.
crashed="$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const hit = r.testResults.filter((t) => /terminated by another process: signal=SIG(TRAP|SEGV|ABRT|BUS|ILL)/.test(t.message || ""));
  process.stdout.write(hit.map((t) => t.name).join("\n"));
' "$report")"
rerun=""
if [[ -n $crashed ]]; then
  say "a jest worker crashed (V8, nodejs/node#64500) in: $(tr '\n' ' ' <<<"$crashed"); running those suites once more"
  rerun="$(mktemp -t secret-broker-jest-rerun.XXXXXX.json)"
  set +e
  mapfile -t crashed_paths <<<"$crashed"
  jest_run "$rerun" --runTestsByPath "${crashed_paths[@]}"
  set -e
fi

node -e '
  const fs = require("fs");
  const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  let passed = r.numPassedTests, failed = r.numFailedTests, skipped = r.numPendingTests, total = r.numTotalTests;
  let crashedSuites = r.testResults.filter((t) => /terminated by another process: signal=SIG/.test(t.message || "")).length;
  const note = [];
  if (process.argv[2]) {
    let again;
    try {
      again = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    } catch {
      // The rerun crashed jest itself (a single suite runs inside the jest process): still failing.
      again = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTotalTests: 0, numFailedTestSuites: crashedSuites };
    }
    passed += again.numPassedTests; failed += again.numFailedTests; skipped += again.numPendingTests; total += again.numTotalTests;
    note.push(`${crashedSuites} suite(s) rerun after a V8 crash, ${again.numFailedTestSuites} still failing`);
    crashedSuites = again.numFailedTestSuites;
  }
  const out = process.env.BROKER_TEST_LEFT_OUT_LINE;
  if (out) note.push(`NOT RUN (peer missing): ${out}`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped${note.length ? `; ${note.join("; ")}` : ""}`);
  if (total === 0) { console.error("no test ran"); process.exit(1); }
  // Green only when every failed suite of the first run was a crash the rerun passed.
  const firstCrashes = r.testResults.filter((t) => /terminated by another process: signal=SIG/.test(t.message || "")).length;
  const firstFailures = r.testResults.filter((t) => t.status === "failed").length - firstCrashes;
  process.exit(failed > 0 || firstFailures > 0 || crashedSuites > 0 ? 1 : 0);
' "$report" "$rerun" && status=0 || status=1
rm -f "$report" ${rerun:+"$rerun"}
exit "$status"
