#!/usr/bin/env bash
# Starts a release surge on a fresh store and creates the SKUs the wrk
# scripts buy: HOT-1 (one hot SKU) and SPREAD-0..SPREAD-(N-1).
# Usage: [SURGE_BIN=path] benches/wrk/setup.sh [spread_skus=10000] [stock=100000000]
# Prints the server's PID; stop it with `kill <pid>`.
set -euo pipefail
cd "$(dirname "$0")/../.."
SKUS=${1:-10000}
STOCK=${2:-100000000}
DIR=$(mktemp -d /tmp/surge-bench.XXXXXX)
export SURGE_ADMIN_TOKEN=bench SURGE_CATALOG__SEED_FILE="" SURGE_LOG__FILTER=warn
"${SURGE_BIN:-./target/release/surge}" serve --bind 127.0.0.1:8080 --data-dir "$DIR" >"$DIR.log" 2>&1 &
PID=$!
until curl -sf localhost:8080/readyz >/dev/null; do sleep 0.1; done
post() { curl -sf -o /dev/null -X POST localhost:8080/v1/admin/products \
  -H "Authorization: Bearer bench" -H 'Content-Type: application/json' -d "$1"; }
post "{\"id\":\"hot\",\"title\":\"Hot\",\"category\":\"deals\",\"variants\":[{\"sku\":\"HOT-1\",\"title\":\"One\",\"price\":{\"amount\":2999,\"currency\":\"EUR\"},\"stock\":$STOCK}]}"
# 100 variants per product (the catalog's per-product maximum).
for ((p = 0; p * 100 < SKUS; p++)); do
  variants=""
  for ((v = p * 100; v < (p + 1) * 100 && v < SKUS; v++)); do
    variants+="{\"sku\":\"SPREAD-$v\",\"title\":\"V$v\",\"price\":{\"amount\":500,\"currency\":\"EUR\"},\"stock\":$STOCK},"
  done
  post "{\"id\":\"spread-$p\",\"title\":\"Spread $p\",\"category\":\"bench\",\"variants\":[${variants%,}]}"
done
echo "$PID"
