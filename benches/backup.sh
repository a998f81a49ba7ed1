#!/usr/bin/env bash
# Online backup and restore at scale (issue 18): a store of SKUS SKUs and
# ORDERS orders, then a flash sale run twice on it, once as it is and once
# with a backup taken in its middle. The longest write stall the backup
# causes is the difference between the two runs' slowest purchases (the
# bench prints p50 .. max for each); the backup's own time is in its
# answer (duration_ms). Then the restore and `surge check` of the file.
#
#   cargo build --release && benches/backup.sh [SKUS] [ORDERS]
#
# Takes a while: the orders are real purchases through HTTP, durable ones.
set -euo pipefail
SKUS=${1:-100000}
ORDERS=${2:-1000000}
BIN=${SURGE_BIN:-./target/release/surge}
SALE=${SALE:-30s}
WORK=$(mktemp -d)
export SURGE_ADMIN_TOKEN=bench
pid=
trap '[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; wait; rm -rf "$WORK"' EXIT

# Port 0: the OS picks a free port, read back from the "listening" line, so
# the bench never talks to some other server on a guessed port.
SURGE_CATALOG__SEED_FILE= SURGE_LOG__FILTER=info SURGE_BACKUP__DIR="$WORK/backups" \
  "$BIN" serve --bind 127.0.0.1:0 --data-dir "$WORK/store" --log-format json \
  >"$WORK/server.log" 2>&1 &
pid=$!
URL=
until [[ -n $URL ]]; do
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/server.log"; echo "the server exited"; exit 1; }
  URL=$(grep -o '"address":"http://127.0.0.1:[0-9]*"' "$WORK/server.log" | head -n1 |
    sed 's/.*"\(http[^"]*\)"/\1/' || true)
  sleep 0.1
done
until curl -sf "$URL/readyz" >/dev/null; do sleep 0.1; done

echo "== $ORDERS orders over $SKUS SKUs (surge bench spread)"
"$BIN" bench spread --url "$URL" --skus "$SKUS" --stock $(( ORDERS / SKUS + 10 )) \
  --requests "$ORDERS" --duration 60m --connections 64 | tail -n 12
echo "store: $(du -sh "$WORK/store" | cut -f1)"

echo "== flash sale, no backup"
"$BIN" bench flash-sale --url "$URL" --stock 10000000 --duration "$SALE" --connections 64 |
  grep -iE 'requests|latency|statuses' || true

echo "== flash sale, a backup taken 5 s in"
"$BIN" bench flash-sale --url "$URL" --stock 10000000 --duration "$SALE" --connections 64 \
  > "$WORK/sale.txt" &
sale=$!
sleep 5
started=$(date +%s.%N)
"$BIN" backup --url "$URL" | tee "$WORK/backup.json"
echo "backup: $(echo "$(date +%s.%N) - $started" | bc) s wall"
wait "$sale"
grep -iE 'requests|latency|statuses' "$WORK/sale.txt" || true

kill -TERM "$pid"; wait "$pid" || true
pid=
file=$(sed 's/.*"file":"\([^"]*\)".*/\1/' "$WORK/backup.json")
echo "backup file: $(du -h "$file" | cut -f1)"
started=$(date +%s.%N)
"$BIN" restore "$file" --data-dir "$WORK/restored"
echo "restore: $(echo "$(date +%s.%N) - $started" | bc) s"
started=$(date +%s.%N)
"$BIN" check "$file" | tail -n 3
echo "check of the backup: $(echo "$(date +%s.%N) - $started" | bc) s"
