#!/usr/bin/env bash
# Catalog reads against nginx, the browse target's yardstick: each surge
# endpoint is run right after an nginx run, so each ratio is taken with
# the machine in one state. Needs wrk, a release build, and nginx serving
# `return 200` on 127.0.0.1:8081 (see BENCHMARKS.md). Three rounds.
# Usage: [SURGE_BIN=path] benches/wrk/reads.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
rate() { wrk -t2 -c256 -d5s "$1" | awk '/Requests\/sec/ {print int($2)}'; }
PID=$(benches/wrk/setup.sh 1)
trap 'kill $PID' EXIT
for _ in 1 2 3; do
  for path in /healthz /v1/skus/HOT-1 /v1/products/hot "/v1/products?limit=20"; do
    nginx=$(rate http://127.0.0.1:8081/)
    surge=$(rate "http://127.0.0.1:8080$path")
    echo "$path: surge $surge req/s, nginx $nginx req/s, $((100 * surge / nginx)) %"
  done
done
