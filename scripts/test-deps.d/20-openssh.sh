#!/usr/bin/env bash
# OpenSSH server for the hpc suite: test/harness/sshd.ts starts its own sshd on a loopback port with
# its own host keys and config; this only installs the binary and, when run as root, creates the
# dedicated test user it logs in as. Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_need openssh-server openssh-client

if [[ $(id -u) -ne 0 ]]; then
  say "not root: the hpc tests log in as $(id -un) instead of a dedicated user"
  exit 0
fi

user="${SECRET_BROKER_SSH_USER:-sbhpc}"
if ! id -u "$user" >/dev/null 2>&1; then
  say "useradd $user"
  useradd --create-home --shell /bin/bash --comment "secret-broker hpc tests" "$user"
fi
# A locked account ("!" in /etc/shadow) is refused by sshd without PAM; "*" means "no password, not locked".
if [[ $(getent shadow "$user" | cut -d: -f2) == '!'* ]]; then usermod -p '*' "$user"; fi
home="$(getent passwd "$user" | cut -d: -f6)"
install -d -m 0755 -o "$user" -g "$(id -gn "$user")" "$home"
install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh"
# sshd's privilege separation directory (tmpfs: gone after a reboot; the harness recreates it too).
install -d -m 0755 /run/sshd
