# Shared by the install scripts: where tools live, and a log helper. Source, don't run.
export SECRET_BROKER_CACHE="${SECRET_BROKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-broker}"
export BROKER_VENV="$SECRET_BROKER_CACHE/venv"
export BROKER_GOBIN="$SECRET_BROKER_CACHE/gobin"
mkdir -p "$SECRET_BROKER_CACHE"
say() { printf '[install] %s\n' "$*" >&2; }

# pip_pin PACKAGE VERSION: install a pinned PyPI package into the broker's venv once.
pip_pin() {
  local pkg="$1" ver="$2"
  [[ -x "$BROKER_VENV/bin/python" ]] || { say "creating venv $BROKER_VENV"; python3 -m venv "$BROKER_VENV"; }
  # Capture first: with pipefail, `pip show | grep -q` fails when grep exits early and pip gets SIGPIPE.
  local shown
  shown=$("$BROKER_VENV/bin/python" -m pip show "${pkg%%[*}" 2>/dev/null || true)
  if grep -qx "Version: $ver" <<<"$shown"; then return 0; fi
  say "pip install $pkg==$ver"
  "$BROKER_VENV/bin/python" -m pip install --disable-pip-version-check -q "$pkg==$ver"
}

# apt_need PACKAGE...: install Debian packages that are missing (apt-get update once per machine).
apt_need() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  if [[ ! -f "$SECRET_BROKER_CACHE/.apt-updated" ]]; then
    say "apt-get update"; $sudo apt-get update -qq && touch "$SECRET_BROKER_CACHE/.apt-updated"
  fi
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
