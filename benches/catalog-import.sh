#!/usr/bin/env bash
# Catalog import, export and `surge check` at scale (issue 18: 100,000 SKUs
# import in 30 s at most). Generates a Shopify product CSV of SKUS SKUs
# (three variants per product) and the same catalog as JSON lines (one SKU
# per product), imports each into a fresh store of the release binary, then
# the same file again (nothing changes), exports, stops the server and
# checks the store offline. After each import, CREATES products (default
# 200) are created one at a time with POST /v1/admin/products, to show what
# a single catalog change costs with the whole catalog in place.
#
#   cargo build --release && benches/catalog-import.sh [SKUS]
set -euo pipefail
SKUS=${1:-100000}
CREATES=${CREATES:-200}
BIN=${SURGE_BIN:-./target/release/surge}
PORT=${PORT:-18480}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

csv="$WORK/products.csv"
jsonl="$WORK/products.jsonl"
awk -v n="$SKUS" 'BEGIN {
  print "Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Inventory Qty,Variant Price,Image Src"
  split("S M L", size, " ")
  for (i = 0; i < n; i++) {
    p = int(i / 3); v = i % 3 + 1
    if (v == 1) printf "tee-%06d,Tee %d,\"<p>Soft, <b>washed</b> cotton.</p>\",Acme,Shirts,\"cotton, basics\",Size,%s,TEE-%06d-%s,%d,19.99,https://cdn/%d.jpg\n", p, p, size[v], p, size[v], 100, p
    else printf "tee-%06d,,,,,,,%s,TEE-%06d-%s,%d,%d.50,\n", p, size[v], p, size[v], 100, 19 + v
  }
}' > "$csv"
awk -v n="$SKUS" 'BEGIN {
  for (i = 0; i < n; i++)
    printf "{\"id\":\"mug-%06d\",\"title\":\"Mug %d\",\"description\":\"Stoneware, 350 ml.\",\"category\":\"kitchen\",\"attributes\":{\"brand\":\"Acme\"},\"variants\":[{\"sku\":\"MUG-%06d\",\"title\":\"One size\",\"price\":{\"amount\":1250,\"currency\":\"EUR\"},\"stock\":100}]}\n", i, i, i
}' > "$jsonl"
echo "files: $(du -h "$csv" | cut -f1) CSV, $(du -h "$jsonl" | cut -f1) JSON lines, $SKUS SKUs each"

run() { # FORMAT FILE CONTENT-TYPE
  local data="$WORK/$1"
  SURGE_ADMIN_TOKEN=bench SURGE_CATALOG__SEED_FILE= SURGE_LOG__FILTER=warn \
    "$BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$data" &
  local pid=$!
  until curl -sf "localhost:$PORT/readyz" >/dev/null; do sleep 0.1; done
  for pass in first again; do
    curl -s -o "$WORK/report.json" -w "$1 import ($pass): %{time_total} s, HTTP %{http_code}, " \
      -X POST -H 'Authorization: Bearer bench' -H "Content-Type: $3" \
      --data-binary @"$2" "localhost:$PORT/v1/admin/catalog/import?currency=USD"
    head -c 120 "$WORK/report.json"; echo
  done
  local first=$(date +%s.%N)
  for i in $(seq 1 "$CREATES"); do
    curl -sf -o /dev/null -X POST -H 'Authorization: Bearer bench' -H 'Content-Type: application/json' \
      -d "{\"id\":\"one-$i\",\"title\":\"One $i\",\"variants\":[{\"sku\":\"ONE-$i\",\"title\":\"One\",\"price\":{\"amount\":500,\"currency\":\"USD\"},\"stock\":5}]}" \
      "localhost:$PORT/v1/admin/products"
  done
  echo "$1 then $CREATES single creates: $(echo "scale=2; ($(date +%s.%N) - $first) * 1000 / $CREATES" | bc) ms each (curl included)"
  curl -s -o "$WORK/export.jsonl" -w "$1 export: %{time_total} s, " \
    -H 'Authorization: Bearer bench' "localhost:$PORT/v1/admin/catalog/export"
  echo "$(wc -l < "$WORK/export.jsonl") lines"
  kill -TERM "$pid"; wait "$pid" || true
  local started=$(date +%s.%N)
  "$BIN" check --data-dir "$data" | tail -2 | head -1
  echo "$1 check: $(echo "$(date +%s.%N) - $started" | bc) s"
}

run csv "$csv" text/csv
run jsonl "$jsonl" application/x-ndjson
