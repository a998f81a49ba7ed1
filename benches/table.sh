#!/usr/bin/env bash
# Re-runs the "Current figures" table of BENCHMARKS.md: each closed-loop
# scenario once per round, three rounds, then the overload block (adaptive
# write limit against a fixed one, alternating), then one sell-out run.
# Needs a release build (`cargo build --release`) and a quiet machine; takes
# about eight minutes. Prints one summary line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
B=$PWD/target/release/surge
OUT=$(mktemp -d /tmp/surge-table.XXXXXX)
cd "$OUT" # no config.toml here: defaults apply
run() {
  local name=$1
  shift
  "$B" bench "$@" --json run.json >/dev/null 2>&1
  python3 - "$name" <<'PY'
import json, sys
r = json.load(open("run.json"))
a, l = r["accepted_latency_ms"], r["latency_ms"]
ok = "ok" if not r["invariants"].get("violations") else "VIOLATED"
targets = "".join(f" | target {t['name']} {'met' if t['met'] else 'missed'}" for t in r["targets"])
print(f"{sys.argv[1]}: {r['throughput_per_sec']:.0f} req/s | all p50 {l['p50']:.1f} p99 {l['p99']:.1f}"
      f" | 2xx p50 {a['p50']:.1f} p99 {a['p99']:.1f} | {r['statuses']} | invariants {ok}{targets}")
PY
}
for _ in 1 2 3; do
  run hot flash-sale --stock 100000000 --duration 8s
  run spread spread --skus 10000 --duration 8s
  run browse browse --skus 1000 --duration 8s
  run mixed mixed --duration 8s
done
for _ in 1 2 3; do
  for target in 15 30 0; do
    for rate in 11000 44000; do
      SURGE_SERVER__WRITE_LATENCY_TARGET_MS=$target \
        run "rate $rate, latency target $target ms" flash-sale --stock 100000000 \
        --duration 8s --rate "$rate" --connections 1024
    done
  done
done
run "sell out" flash-sale --stock 10000
