#!/bin/bash
# Smoke test, step for step the one the original swarm-proxy ran in CI: a
# static file served by python's http.server, a broker, a ticket, a provider
# that allows private destinations, and curl fetching the file through the
# broker.  The ports are picked at run time so that parallel runs cannot
# collide; the original used fixed ones.
set -euo pipefail

SWARM_PROXY=${SWARM_PROXY:?set SWARM_PROXY to the swarm-proxy executable}
PYTHON=${PYTHON:-python3}
EXPECTED=swarm-proxy-smoke-ok

workdir=$(mktemp -d "${TMPDIR:-/tmp}/swarm-smoke.XXXXXX")
pids=()

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$workdir"/*.log; do
      [ -e "$log" ] || continue
      echo "--- $(basename "$log") ---" >&2
      tail -n 40 "$log" >&2
    done
  fi
  rm -rf "$workdir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

BROKER_PORT=$(free_port)
TARGET_PORT=$(free_port)
BROKER=127.0.0.1:$BROKER_PORT

mkdir "$workdir/www"
printf '%s' "$EXPECTED" > "$workdir/www/ping.txt"

"$PYTHON" -m http.server "$TARGET_PORT" --bind 127.0.0.1 --directory "$workdir/www" \
  > "$workdir/target.log" 2>&1 &
pids+=($!)

"$SWARM_PROXY" broker --listen "$BROKER" > "$workdir/broker.log" 2>&1 &
pids+=($!)

"$SWARM_PROXY" --json ticket --session-id ci-session --broker "$BROKER" > "$workdir/ticket.json"
TOKEN=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' \
  "$workdir/ticket.json")

"$SWARM_PROXY" provider --broker "$BROKER" --session-id ci-session --token "$TOKEN" \
  --allow-private > "$workdir/provider.log" 2>&1 &
pids+=($!)

fetched=no
for attempt in $(seq 1 30); do
  if curl -fsS --max-time 10 --noproxy '' --proxy "http://$BROKER" \
      --proxy-user "ci-session:$TOKEN" "http://127.0.0.1:$TARGET_PORT/ping.txt" \
      -o "$workdir/out.txt" 2> "$workdir/curl.log"; then
    fetched=yes
    break
  fi
  sleep 1
done

if [ "$fetched" != yes ]; then
  echo "curl failed 30 times; last error: $(cat "$workdir/curl.log")" >&2
  exit 1
fi

payload=$(cat "$workdir/out.txt")
if [ "$payload" != "$EXPECTED" ]; then
  echo "payload mismatch: expected '$EXPECTED', got '$payload'" >&2
  exit 1
fi
if ! cmp -s "$workdir/out.txt" "$workdir/www/ping.txt"; then
  echo "payload differs from ping.txt byte for byte" >&2
  exit 1
fi
echo "smoke ok after $attempt attempt(s)"
