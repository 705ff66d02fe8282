#!/usr/bin/env bash
# moto's standalone server (PyPI moto[server]), pinned, in the broker's venv: the AWS Secrets Manager,
# IAM and STS emulator the AWS suites start on a loopback port (test/harness/moto.ts).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

MOTO_VERSION=5.2.5

# pip_pin compares the version of "moto" only: a moto installed without the "[server]" extra would
# pass it. So check the server's own imports (flask, flask_cors) and its entry point as well.
py="$BROKER_VENV/bin/python"
if [[ -x $py && -x "$BROKER_VENV/bin/moto_server" ]]; then
  shown="$("$py" -m pip show moto 2>/dev/null || true)"   # captured: `pip show | grep -q` trips pipefail
  if grep -qx "Version: $MOTO_VERSION" <<<"$shown" && "$py" -c 'import flask, flask_cors' 2>/dev/null; then
    exit 0
  fi
fi
[[ -x $py ]] || { say "creating venv $BROKER_VENV"; python3 -m venv "$BROKER_VENV"; }
say "pip install moto[server]==$MOTO_VERSION"
"$py" -m pip install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION"
"$BROKER_VENV/bin/moto_server" --help >/dev/null
