#!/usr/bin/env bash
# The CNCF Distribution registry (Debian's docker-registry, 2.8.x), for the container-registry verify
# tests: test/harness/docker-registry.ts starts its own instance on a loopback port with its own
# config, storage and htpasswd file. The packaged system service is not used (stopped and disabled
# when the package starts it). htpasswd (apache2-utils) writes the bcrypt lines registry's htpasswd
# auth accepts. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

REGISTRY_VERSION=2.8.2

apt_need docker-registry apache2-utils

installed="$(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null || true)"
if [[ $installed != "$REGISTRY_VERSION"* ]]; then
  say "docker-registry $installed is installed; the tests expect $REGISTRY_VERSION (test/harness/docker-registry.ts)"
  exit 1
fi

# The package's own service would hold port 5000 and state under /var/lib; the tests never use it.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  if systemctl is-enabled --quiet docker-registry 2>/dev/null || systemctl is-active --quiet docker-registry 2>/dev/null; then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    say "stopping and disabling the packaged docker-registry service"
    $sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

/usr/bin/docker-registry --version >/dev/null
htpasswd -nbB probe probe >/dev/null
