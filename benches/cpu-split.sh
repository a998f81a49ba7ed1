#!/usr/bin/env bash
# Where the two cores go: runs a release server and `surge bench --url`
# against it as two processes and reports each one's CPU time (user +
# system, from /proc and time(1)) per request. On this VM throughput drifts
# by tens of percent within minutes; CPU per request drifts much less, and
# it says what a target asks of each side (at N requests/s the two sides
# need N × (server + client) µs of CPU per second, of 2,000,000 here).
#
# Usage: [SURGE_BIN=path] [LIMIT=writes_in_flight_max] benches/cpu-split.sh <bench args>
#   benches/cpu-split.sh flash-sale --stock 100000000 --duration 8s
#   LIMIT=1 benches/cpu-split.sh flash-sale --stock 100000000 --duration 8s   (refusals)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SURGE_BIN:-target/release/surge}
PORT=8090
DIR=$(mktemp -d /tmp/surge-split.XXXXXX)
OUT="$DIR/bench.out"
SURGE_ADMIN_TOKEN=bench SURGE_CATALOG__SEED_FILE="" SURGE_LOG__FILTER=warn \
  SURGE_SERVER__WRITES_IN_FLIGHT_MAX=${LIMIT:-512} \
  "$BIN" serve --bind 127.0.0.1:$PORT --data-dir "$DIR/store" >"$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
until curl -sf localhost:$PORT/readyz >/dev/null; do sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# CPU ticks of the server's thread named $1 (0 when there is none): the
# committer's share is what bounds a single writer, whatever the cores.
thread_ticks() {
  local t
  for t in /proc/$PID/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ]; then
      awk '{print $14 + $15}' "$t/stat"
      return
    fi
  done
  echo 0
}
before=$(ticks)
committer_before=$(thread_ticks surge-committer)
indexer_before=$(thread_ticks surge-indexer)
/usr/bin/time -f "client-cpu %U %S" "$BIN" bench "$@" --url http://127.0.0.1:$PORT \
  --admin-token bench >"$OUT" 2>&1
# The indexer moves the last commits to their keys a moment after the run.
sleep 0.5
after=$(ticks)
committer=$(($(thread_ticks surge-committer) - committer_before))
indexer=$(($(thread_ticks surge-indexer) - indexer_before))

requests=$(awk '/^  requests/ {print $2}' "$OUT")
awk -v ticks=$((after - before)) -v committer=$committer -v indexer=$indexer -v hz="$(getconf CLK_TCK)" -v n="$requests" '
  /^  requests/ { rate = $3; sub(/,$/, "", rate) }
  /^  statuses/ { sub(/^  statuses +/, ""); statuses = $0 }
  /^  latency/ { sub(/^  latency ms +/, ""); latency = $0 }
  /^    2xx/ { sub(/^    2xx +/, ""); ok = $0 }
  /^  invariants/ { invariants = ($0 ~ /all hold$/) ? "invariants hold" : $0 }
  /^client-cpu/ { client = ($2 + $3) * 1e6 / n }
  END {
    printf "%d requests %s; %s; server %.1f µs/request, client %.1f µs/request\n",
      n, rate, statuses, ticks * 1e6 / hz / n, client
    printf "  committer thread %.1f µs/request, indexer thread %.1f µs/request\n",
      committer * 1e6 / hz / n, indexer * 1e6 / hz / n
    printf "  latency ms %s\n", latency
    if (ok != "") printf "  2xx        %s\n", ok
    print "  " invariants
  }' "$OUT"
grep -q "all hold$" "$OUT"
