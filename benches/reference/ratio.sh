#!/usr/bin/env bash
# Issue 17's target 3, as a ratio taken in one run so that the VM's drift
# cancels out: surge's durable purchases over HTTP (wrk, 2 threads, the
# same connections) against Redis's Lua stock gate with appendfsync always
# (redis-benchmark, 2 threads), back to back, alternating, ROUNDS times.
#
#   hot     one SKU (surge: HOT-1; Redis: one key)
#   spread  10,000 SKUs (surge: SPREAD-0..9999; Redis: 10,000 keys, each
#           request on a random one)
#
# Redis gets no HTTP tier in front, so the ratio is a lower bound of how
# surge compares with a stack that puts an application server before it.
# Needs Debian's redis-server and wrk packages.
#
# Usage: [SURGE_BIN=path] benches/reference/ratio.sh [seconds=8] [connections=256] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-8}
CONNS=${2:-256}
ROUNDS=${3:-3}
SKUS=10000
REDISPORT=56379
DIR=$(mktemp -d /tmp/surge-ratio.XXXXXX)
SURGE_PID=
SURGE_DIR=
cleanup() {
  if [ -n "$SURGE_PID" ]; then
    kill "$SURGE_PID" 2>/dev/null || true
    while kill -0 "$SURGE_PID" 2>/dev/null; do sleep 0.1; done
  fi
  redis-cli -p "$REDISPORT" shutdown nosave >/dev/null 2>&1 || true
  if [ -n "$SURGE_DIR" ]; then rm -rf "$SURGE_DIR" "$SURGE_DIR.log"; fi
  rm -rf "$DIR"
}
trap cleanup EXIT

SURGE_PID=$(benches/wrk/setup.sh "$SKUS" | tail -1)
# setup.sh's store: the argument after --data-dir on the server's command line.
SURGE_DIR=$(tr '\0' '\n' <"/proc/$SURGE_PID/cmdline" | sed -n '/^--data-dir$/{n;p}')

redis-server --port "$REDISPORT" --bind 127.0.0.1 --dir "$DIR" --save '' \
  --appendonly yes --appendfsync always --daemonize yes --logfile "$DIR/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDISPORT" eval \
  "redis.call('set', 'stock:HOT-1', 100000000) for i = 0, $((SKUS - 1)) do redis.call('set', string.format('stock:%012d', i), 100000000) end" 0 >/dev/null
GATE="local a = tonumber(redis.call('get', KEYS[1])) if a and a >= 1 then return redis.call('decr', KEYS[1]) end return -1"

# Requests per second of the gate on `key` (redis-benchmark's -r replaces
# __rand_int__ with a random 12-digit number below the given bound).
redis_gate() {
  local key=$1 n=$2
  redis-benchmark -p "$REDISPORT" -c "$CONNS" --threads 2 -r "$SKUS" -n "$n" -q \
    eval "$GATE" 1 "$key" 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9]*\)[0-9.]* requests per second.*/\1/p' | tail -1
}
# redis-benchmark runs a request count, not a duration: a short first run
# sizes the measured ones to last about as long as wrk's.
SIZE=$(redis_gate stock:HOT-1 50000)

# Purchases per second (201s only) of wrk against `path`.
surge_wrk() {
  local script=$1 url=$2
  wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$script" "$url" >"$DIR/wrk.out" 2>&1
  awk '/^Requests\/sec/ {print int($2)}' "$DIR/wrk.out"
  if grep -q "Non-2xx" "$DIR/wrk.out"; then
    echo "  (wrk saw non-2xx answers: $(grep Non-2xx "$DIR/wrk.out"))" >&2
  fi
}

printf "%-6s %-7s %12s %12s %7s\n" round load surge/s redis/s ratio
for round in $(seq "$ROUNDS"); do
  for load in hot spread; do
    if [ "$load" = hot ]; then
      key=stock:HOT-1 script=benches/wrk/purchase.lua url=http://127.0.0.1:8080/v1/skus/HOT-1/purchase
    else
      key=stock:__rand_int__ script=benches/wrk/spread.lua url=http://127.0.0.1:8080
    fi
    # Alternate which goes first, so neither always follows the other's
    # writeback.
    if [ $((round % 2)) -eq 1 ]; then
      s=$(surge_wrk "$script" "$url"); r=$(redis_gate "$key" $((SIZE * SECS)))
    else
      r=$(redis_gate "$key" $((SIZE * SECS))); s=$(surge_wrk "$script" "$url")
    fi
    printf "%-6s %-7s %12s %12s %7s\n" "$round" "$load" "$s" "$r" \
      "$(awk -v s="$s" -v r="$r" 'BEGIN {printf "%.2f", s / r}')"
  done
done
echo "redis check: hot units left $(redis-cli -p "$REDISPORT" get stock:HOT-1) of 100000000"
