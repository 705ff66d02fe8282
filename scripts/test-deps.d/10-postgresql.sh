#!/usr/bin/env bash
# Debian's PostgreSQL server, for the vault suite on a real server (the harness starts its own cluster).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_need postgresql
