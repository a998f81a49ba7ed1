#!/usr/bin/env bash
# API conformance: runs schemathesis (pinned) against the server's own
# /openapi.json, with every check and every phase (examples, coverage,
# fuzzing, stateful), and fails on any failure. The server is the debug
# binary (or $SURGE_BIN, e.g. target/release/surge) on a fresh store in a
# temp dir, on a free loopback port; everything it creates is removed at
# the end.
#
#   scripts/conformance.sh                 # build, start, test, stop
#   SURGE_BIN=target/release/surge scripts/conformance.sh
#   CONFORMANCE_SEED=42 scripts/conformance.sh   # replay a run's seed
#   CONFORMANCE_MAX_EXAMPLES=100 scripts/conformance.sh   # a longer search
#
# The server runs with config.toml (and so the demo catalog, which gives
# the stateful phase products to follow). Which statuses may answer a
# request that fits the document: scripts/conformance.toml. Needs python3
# (with venv) and PyPI, for the install into the throw-away virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
# Cases per operation and phase. 38 operations: about 3,400 cases in all,
# well over the 1,000 the CI run must generate, in 5 to 7 minutes on 2 cores.
MAX_EXAMPLES=${CONFORMANCE_MAX_EXAMPLES:-40}
# A fixed seed by default so that CI is reproducible; set another to explore.
SEED=${CONFORMANCE_SEED:-20261127}
ADMIN_TOKEN=conformance-admin-token-0123456789abcdef

work=$(mktemp -d -t surge-conformance.XXXXXX)
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== schemathesis $SCHEMATHESIS_VERSION in a throw-away virtualenv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"

if [[ -z ${SURGE_BIN:-} ]]; then
    echo "== cargo build --locked"
    cargo build --locked --quiet
    SURGE_BIN=target/debug/surge
fi

echo "== starting $SURGE_BIN on a temp store"
# Port 0: the OS picks a free port, read back from the "listening" log line
# (no race with other processes for a guessed port).
# Backup rotation deletes a backup without a DELETE call that schemathesis
# could see: a stateful scenario that took more than `[backup] keep` backups
# before reading the first one back would find it gone (a true 404, reported
# as ST302). Rotation is tested in tests/api/backups.rs; here it is kept out
# of the way.
SURGE_BACKUP__KEEP=100000 SURGE_ADMIN_TOKEN=$ADMIN_TOKEN "$SURGE_BIN" serve --bind 127.0.0.1:0 \
    --data-dir "$work/store" --log-format json >"$work/server.log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 1 300); do
    base=$(grep -o '"address":"http://127.0.0.1:[0-9]*"' "$work/server.log" | head -n1 |
        sed 's/.*"\(http[^"]*\)"/\1/' || true)
    if [[ -n $base ]] && curl -fsS "$base/readyz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited before it was ready:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    base=
    sleep 0.2
done
if [[ -z $base ]]; then
    echo "the server did not get ready in 60 s:" >&2
    tail -n 50 "$work/server.log" >&2
    exit 1
fi
echo "   ready at $base"

echo "== schemathesis run $base/openapi.json"
status=0
"$work/venv/bin/schemathesis" --config-file scripts/conformance.toml run "$base/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --header "Authorization: Bearer $ADMIN_TOKEN" \
    --request-timeout 10 \
    --no-color \
    || status=$?

# A 5xx is a failure schemathesis reports; an error surge only logged is
# one too. (actix-http logs malformed requests it refuses, such as a NUL
# in a header, at ERROR level too: those are the client's, not ours.)
if grep '"level":"ERROR"' "$work/server.log" | grep -qv '"target":"actix_http::'; then
    echo "== the server logged errors:" >&2
    grep '"level":"ERROR"' "$work/server.log" | grep -v '"target":"actix_http::' | head -n 20 >&2
    status=1
fi
exit "$status"
