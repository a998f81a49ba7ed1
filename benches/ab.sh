#!/usr/bin/env bash
# Compares two builds of surge on the closed-loop scenarios of the table,
# alternating A and B run by run so that the machine's drift falls on both:
#   benches/ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
# Needs a quiet machine; each run is 8 s. Prints one line per run, then the
# median of each scenario per binary.
set -euo pipefail
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${3:-3}
OUT=$(mktemp -d /tmp/surge-ab.XXXXXX)
cd "$OUT" # no config.toml here: defaults apply
run() {
  local label=$1 bin=$2
  shift 2
  "$bin" bench "$@" --json run.json >/dev/null 2>&1
  python3 - "$label" <<'PY' | tee -a results.txt
import json, sys
r = json.load(open("run.json"))
l = r["latency_ms"]
ok = "ok" if not r["invariants"].get("violations") else "VIOLATED"
print(f"{sys.argv[1]}\t{r['throughput_per_sec']:.0f}\t{l['p50']:.1f}\t{l['p99']:.1f}\t{ok}")
PY
}
for _ in $(seq "$ROUNDS"); do
  for scenario in "hot flash-sale --stock 100000000" "spread spread --skus 10000" \
    "mixed mixed" "browse browse --skus 1000"; do
    read -r name args <<<"$scenario"
    # shellcheck disable=SC2086
    run "$name A" "$A" $args --duration 8s
    # shellcheck disable=SC2086
    run "$name B" "$B" $args --duration 8s
  done
done
python3 - <<'PY'
import statistics
rows = {}
for line in open("results.txt"):
    label, rate, p50, p99, ok = line.split("\t")
    rows.setdefault(label, []).append((float(rate), float(p50), float(p99), ok.strip()))
print("\nscenario\treq/s (median)\tp50 ms\tp99 ms\tinvariants")
for label, runs in rows.items():
    med = lambda i: statistics.median(r[i] for r in runs)
    oks = "ok" if all(r[3] == "ok" for r in runs) else "VIOLATED"
    print(f"{label}\t{med(0):.0f}\t{med(1):.1f}\t{med(2):.1f}\t{oks}")
PY
