#!/usr/bin/env bash
# The Google Secret Manager emulator (server-dual: gRPC + REST) and its IAM emulator, for the gcp
# provider and integration suites. Pinned; idempotent (a version stamp next to the binaries).
#
#   $BROKER_GOBIN/server-dual         github.com/blackwell-systems/gcp-secret-manager-emulator/cmd/server-dual
#   $BROKER_GOBIN/gcp-iam-emulator    github.com/blackwell-systems/gcp-iam-emulator/cmd/server
#
# First choice is `go install module@tag` through the Go module proxy. Where the proxy refuses these
# modules (it does on some workplaces), the same tags are built from source trees: the workplace's
# shared peers folder (../shared/peers/gcp-src beside the project), then
# $SECRET_BROKER_CACHE/src/<repo>@<tag> (a plain checkout of the upstream tag, e.g.
# `git clone --branch v1.3.0 <upstream> ...`), with the shared gcp-emulator-auth module resolved from
# its own source tree. Without any, this step says what is missing, and make test says loudly which
# suites could not run (scripts/test.sh, jest.config.js).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

SM_MODULE=github.com/blackwell-systems/gcp-secret-manager-emulator
SM_VERSION=v1.3.0
IAM_MODULE=github.com/blackwell-systems/gcp-iam-emulator
IAM_VERSION=v0.8.0
AUTH_MODULE=github.com/blackwell-systems/gcp-emulator-auth
AUTH_VERSION=v0.3.0 # what both emulators require at the tags above

mkdir -p "$BROKER_GOBIN"
stamp="$BROKER_GOBIN/.gcp-emulators.version"
want="secret-manager=$SM_VERSION iam=$IAM_VERSION"
if [[ -x $BROKER_GOBIN/server-dual && -x $BROKER_GOBIN/gcp-iam-emulator && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
command -v go >/dev/null || { say "gcp emulator: go is not installed; skipping (gcp suites will fail)"; exit 0; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

via_proxy() {
  say "go install $SM_MODULE/cmd/server-dual@$SM_VERSION, $IAM_MODULE/cmd/server@$IAM_VERSION"
  GOBIN="$tmp/bin" go install "$SM_MODULE/cmd/server-dual@$SM_VERSION" 2>"$tmp/err" &&
    GOBIN="$tmp/bin" go install "$IAM_MODULE/cmd/server@$IAM_VERSION" 2>>"$tmp/err"
}

# A source tree is usable when it is the expected module and holds what the build needs (an export
# made with the upstream .gitignore loses cmd/server*/ and internal/server/: say so, by name).
usable_tree() { # DIR MODULE FILE...
  local dir="$1" module="$2"; shift 2
  [[ -f $dir/go.mod ]] || { say "gcp emulator: no source tree at $dir"; return 1; }
  grep -q "^module $module\$" "$dir/go.mod" || { say "gcp emulator: $dir is not $module"; return 1; }
  local missing=()
  for f in "$@"; do [[ -e $dir/$f ]] || missing+=("$f"); done
  ((${#missing[@]} == 0)) || { say "gcp emulator: $dir is incomplete (missing ${missing[*]})"; return 1; }
}

via_source() { # SRC: a folder holding <repo>@<tag> trees
  local src="$1"
  local sm="$src/gcp-secret-manager-emulator@$SM_VERSION" iam="$src/gcp-iam-emulator@$IAM_VERSION" auth="$src/gcp-emulator-auth@$AUTH_VERSION"
  usable_tree "$sm" "$SM_MODULE" cmd/server-dual/main.go internal/server/server.go &&
    usable_tree "$iam" "$IAM_MODULE" cmd/server/main.go internal/server &&
    usable_tree "$auth" "$AUTH_MODULE" go.mod || return 1
  say "building the gcp emulators from $src (secret-manager $SM_VERSION, iam $IAM_VERSION)"
  rm -rf "$tmp/sm" "$tmp/iam" && cp -r "$sm" "$tmp/sm" && cp -r "$iam" "$tmp/iam" && chmod -R u+w "$tmp/sm" "$tmp/iam"
  mkdir -p "$tmp/bin"
  (cd "$tmp/sm" && go mod edit -replace "$AUTH_MODULE=$auth" && GOFLAGS=-mod=mod go build -trimpath -o "$tmp/bin/server-dual" ./cmd/server-dual) &&
    (cd "$tmp/iam" && go mod edit -replace "$AUTH_MODULE=$auth" && GOFLAGS=-mod=mod go build -trimpath -o "$tmp/bin/server" ./cmd/server)
}

# The project's shared peers folder (../shared/peers/gcp-src from the project root), then the cache.
SHARED_SRC="$(cd "$(dirname "$0")/../.." && pwd)/../shared/peers/gcp-src"
if via_proxy || via_source "$SHARED_SRC" || via_source "$SECRET_BROKER_CACHE/src"; then
  install -m 0755 "$tmp/bin/server-dual" "$BROKER_GOBIN/server-dual"
  install -m 0755 "$tmp/bin/server" "$BROKER_GOBIN/gcp-iam-emulator"
  echo "$want" >"$stamp"
  say "gcp emulators installed in $BROKER_GOBIN ($want)"
else
  [[ -s $tmp/err ]] && say "go install said: $(tail -n 2 "$tmp/err" | tr '\n' ' ')"
  say "gcp emulator: could not install $want; the gcp suites will fail until it is installed"
fi
