#!/usr/bin/env bash
# A flash sale with one webhook subscribed to order.created, as measured in
# BENCHMARKS.md ("Webhooks under a flash sale"). Needs a release build and an
# HTTP receiver answering 2xx on 127.0.0.1:8081 (e.g. nginx with
# `location / { return 200 "ok"; }`). Starts a fresh server on :8080, runs an
# 8 s sale against it, prints the purchases and the webhook deliveries made by
# the end of the sale and 3 s later, then stops the server.
# Usage: benches/webhook-sale.sh [binary=target/release/surge]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-./target/release/surge}
PID=$(SURGE_BIN=$BIN benches/wrk/setup.sh 1)
trap 'kill $PID 2>/dev/null' EXIT
curl -sf -o /dev/null -X POST localhost:8080/v1/admin/webhooks \
  -H "Authorization: Bearer bench" -H 'Content-Type: application/json' \
  -d '{"url":"http://127.0.0.1:8081/hook","secret":"0123456789abcdef0123456789abcdef","events":["order.created"]}'
delivered() {
  curl -s localhost:8080/metrics |
    awk '/^surge_webhook_deliveries_total\{outcome="delivered"\}/ {print $2}'
}
"$BIN" bench flash-sale --url http://127.0.0.1:8080 --admin-token bench \
  --stock 100000000 --duration 8s | grep -E "requests |statuses"
echo "delivered by the end of the sale: $(delivered)"
sleep 3
echo "delivered 3 s later: $(delivered)"
