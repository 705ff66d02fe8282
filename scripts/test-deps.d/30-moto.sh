#!/usr/bin/env bash
# moto's standalone server (PyPI moto[server]), pinned, in the broker's venv: the AWS Secrets Manager,
# IAM and STS emulator the AWS suites start on a loopback port (test/harness/moto.ts).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

MOTO_VERSION=5.2.5

# pip_pin compares `pip show NAME`, which knows "moto" but not the "[server]" extra: check the
# version and that the server's own imports (flask, flask_cors) are there before installing the
# extra. (The output is captured first: `pip show | grep -q` fails under pipefail when grep exits early.)
py="$BROKER_VENV/bin/python"
if [[ -x $py && -x "$BROKER_VENV/bin/moto_server" ]]; then
  shown="$("$py" -m pip show moto 2>/dev/null || true)"
  if grep -qx "Version: $MOTO_VERSION" <<<"$shown" && "$py" -c 'import flask, flask_cors' 2>/dev/null; then
    exit 0
  fi
fi
pip_pin "moto[server]" "$MOTO_VERSION"
"$BROKER_VENV/bin/moto_server" --help >/dev/null
