#!/usr/bin/env bash
# `make start`: the broker on its embedded default. Installs what it needs (once), starts the Temporal
# dev server with a SQLite file under .data/ and the broker's search attributes, then the broker
# (vault on PGlite under .data/, worker, HTTP API on 127.0.0.1). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-tools.sh

DATA_DIR="${BROKER_DATA_DIR:-$PWD/.data}"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
API_PORT="${BROKER_API_PORT:-8787}"
mkdir -p "$DATA_DIR" && chmod 700 "$DATA_DIR"

say "building"
npx tsc -p tsconfig.build.json

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$API_PORT"; do
  if port_busy "$p"; then
    echo "port $p on 127.0.0.1 is in use (another 'make start'?). Stop it, or set TEMPORAL_PORT / TEMPORAL_UI_PORT / BROKER_API_PORT." >&2
    exit 1
  fi
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo >&2; say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

sa_flags=()
for sa in BrokerRunId BrokerWorkspace BrokerComputeEnv BrokerPlatform BrokerPhase; do sa_flags+=(--search-attribute "$sa=Keyword"); done
# The same dynamic configuration as the tests (one KEY=VALUE a line; # comments).
dc_flags=()
while read -r kv; do [[ -z $kv || $kv == \#* ]] || dc_flags+=(--dynamic-config-value "$kv"); done <scripts/temporal-dev.args

"$BROKER_VENV/bin/temporal" server start-dev \
  --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
  --db-filename "$DATA_DIR/temporal.db" --log-level warn \
  --ui-codec-endpoint "http://127.0.0.1:$API_PORT/codec" \
  "${sa_flags[@]}" "${dc_flags[@]}" >"$DATA_DIR/temporal.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 150); do port_busy "$TEMPORAL_PORT" && break; sleep 0.2; done
port_busy "$TEMPORAL_PORT" || { echo "Temporal dev server did not start; see $DATA_DIR/temporal.log" >&2; exit 1; }

# Process substitution, not a pipe: $! must be node itself so Ctrl-C / TERM reaches it.
TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT" TEMPORAL_UI_PORT="$TEMPORAL_UI_PORT" BROKER_DATA_DIR="$DATA_DIR" BROKER_API_PORT="$API_PORT" \
  node lib/broker/main.js --role all > >(tee -a "$DATA_DIR/broker.log") 2>&1 &
pids+=($!)

for _ in $(seq 1 150); do port_busy "$API_PORT" && break; sleep 0.2; done
cat <<MSG

  secret-broker is running (Ctrl-C stops it)
    Temporal Web UI   http://127.0.0.1:$TEMPORAL_UI_PORT
    Broker API        http://127.0.0.1:$API_PORT   (CLI: ./bin/secret-broker --help)
    Data              $DATA_DIR   (vault, keys, temporal.db, local runs, logs)

MSG
wait -n "${pids[@]}"
