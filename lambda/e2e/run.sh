#!/usr/bin/env bash
# End to end: the function runs under `cargo lambda watch` (the Lambda runtime emulator), gets a
# CreateSession event (twice) with `cargo lambda invoke`, and acts against a moto server. Exits non-zero
# on any failure. Needs `.venv` (`cargo xtask setup`). Usage: lambda/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
venv="$root/.venv/bin"
[ -x "$venv/moto_server" ] || { echo "missing $venv/moto_server: run \`cargo xtask setup\` first" >&2; exit 2; }
export PATH="$venv:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$venv/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_port() {
    for _ in $(seq 1 "$2"); do
        "$venv/python" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
        sleep 1
    done
    echo "nothing listens on port $1 after $2 s" >&2
    return 1
}

moto_port=$(free_port)
"$venv/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for_port "$moto_port" 60
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

"$venv/python" lambda/e2e/world.py setup "$work"

invoke_port=$(free_port)
cargo-lambda lambda watch --package glue-session-guard-lambda --invoke-port "$invoke_port" \
    --env-file "$work/env" --ignore-changes >"$work/watch.log" 2>&1 &
pids+=($!)
wait_for_port "$invoke_port" 600 || { cat "$work/watch.log"; exit 1; }

started=$(date +%s%N)
cargo-lambda lambda invoke bootstrap --invoke-port "$invoke_port" --data-file "$work/event.json" \
    --output-format json >"$work/response.json" || { cat "$work/watch.log"; exit 1; }
echo "invoke took $(( ($(date +%s%N) - started) / 1000000 )) ms (the first one includes the debug build)"
echo "response: $(cat "$work/response.json")"
# EventBridge delivers at least once: the same event again stops and sends nothing more.
cargo-lambda lambda invoke bootstrap --invoke-port "$invoke_port" --data-file "$work/event.json" \
    --output-format json >"$work/duplicate.json" || { cat "$work/watch.log"; exit 1; }
echo "duplicate: $(cat "$work/duplicate.json")"
"$venv/python" lambda/e2e/world.py check "$work" || { tail -40 "$work/watch.log"; exit 1; }
echo "function log lines:"
grep -E '^\{' "$work/watch.log" | tail -8 || true
