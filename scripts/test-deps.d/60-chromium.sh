#!/usr/bin/env bash
# Debian's Chromium, for the operator's browser test (test/operator/web-ui.test.ts): playwright-core
# (a pinned devDependency, which downloads no browser) drives this binary, headless, against the dev
# server's Temporal Web UI. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# Its fonts are only recommended (and apt_need installs without recommends): without them the
# screenshot the test saves has no readable text.
apt_need chromium fonts-liberation fonts-dejavu-core
