#!/usr/bin/env bash
# The yardstick of the mission: what a Redis-plus-PostgreSQL stack takes on
# this machine for the same durable purchase, measured with each store's own
# benchmark client and no HTTP tier in front (so it is an upper bound for
# such a stack: a real one adds an application server and its HTTP).
#
#   pg hot     one statement per purchase: take a unit from the hot SKU's
#              row if any is left and insert the order (idempotency key
#              unique), committed and fsynced (synchronous_commit on)
#   pg spread  the same over 10,000 SKUs
#   pg orders  only the order insert (what PostgreSQL does behind Redis)
#   redis gate a Lua script that takes a unit if any is left, with
#              appendfsync always (every write on disk before the reply)
#
# Then, for a side-by-side figure taken with the machine in the same state,
# surge's own flash-sale and spread scenarios over HTTP (strict durability)
# with the same connections and duration.
#
# Needs Debian's postgresql-15 and redis-server packages and root
# (PostgreSQL runs as the postgres user). A throwaway cluster and Redis run
# on their own ports under a temporary directory, removed when done.
#
# Usage: [SURGE_BIN=path] benches/reference/flash-sale.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
SURGE_BIN=${SURGE_BIN:-target/release/surge}
SECS=${1:-8}
CONNS=${2:-256}
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=55432
REDISPORT=56379
DIR=$(mktemp -d /tmp/surge-reference.XXXXXX)
chown postgres "$DIR"
as_pg() { runuser -u postgres -- "$@"; }

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$REDISPORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$DIR/pg" -A trust >/dev/null
cat >>"$DIR/pg/postgresql.conf" <<EOF
port = $PGPORT
unix_socket_directories = '$DIR'
listen_addresses = '127.0.0.1'
max_connections = $((CONNS + 16))
shared_buffers = 1GB
fsync = on
synchronous_commit = on
EOF
as_pg "$PGBIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg.log" -w start >/dev/null
psql() { command psql -q -t -A -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }
psql -c "create database bench" >/dev/null
psql -d bench >/dev/null <<'SQL'
create table stock (sku text primary key, available bigint not null, sold bigint not null);
create table orders (
  id bigserial primary key,
  idempotency_key text not null unique,
  sku text not null,
  customer text not null,
  quantity int not null,
  created_at timestamptz not null default now()
);
insert into stock values ('HOT-1', 100000000, 0);
insert into stock select 'SKU-' || g, 100000000, 0 from generate_series(1, 10000) g;
SQL

# A purchase: take a unit if one is left and record the order, in one
# statement (one transaction, one fsynced commit).
purchase_sql() {
  cat <<SQL
\\set k random(1, 1000000000000)
\\set s random(1, 10000)
with taken as (
  update stock set available = available - 1, sold = sold + 1
  where sku = $1 and available >= 1 returning sku
)
insert into orders (idempotency_key, sku, customer, quantity)
select :client_id || '-' || :k, sku, 'c-' || :client_id, 1 from taken
on conflict (idempotency_key) do nothing;
SQL
}
purchase_sql "'HOT-1'" >"$DIR/hot.sql"
purchase_sql "'SKU-' || :s" >"$DIR/spread.sql"
cat >"$DIR/orders.sql" <<'SQL'
\set k random(1, 1000000000000)
insert into orders (idempotency_key, sku, customer, quantity)
values (:client_id || '-' || :k, 'ORDER-ONLY', 'c-' || :client_id, 1)
on conflict (idempotency_key) do nothing;
SQL

pgbench_tps() {
  command pgbench -h 127.0.0.1 -p "$PGPORT" -U postgres -n -M prepared \
    -c "$CONNS" -j 2 -T "$SECS" -f "$DIR/$1.sql" bench 2>&1 |
    awk '/^tps/ {print int($3)}'
}
for run in hot spread orders; do
  echo "pg $run: $(pgbench_tps "$run") transactions/s ($CONNS connections, ${SECS}s)"
done
# Every unit taken has its order and no order lacks its unit.
psql -d bench <<'SQL'
select 'pg check: hot sold ' || (select sold from stock where sku = 'HOT-1')
  || ', hot orders ' || (select count(*) from orders where sku = 'HOT-1')
  || '; spread sold ' || (select sum(sold) from stock where sku like 'SKU-%')
  || ', spread orders ' || (select count(*) from orders where sku like 'SKU-%');
SQL
as_pg "$PGBIN/pg_ctl" -D "$DIR/pg" -m fast stop >/dev/null

redis-server --port "$REDISPORT" --bind 127.0.0.1 --dir "$DIR" --save '' \
  --appendonly yes --appendfsync always --daemonize yes --logfile "$DIR/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDISPORT" set stock:HOT-1 100000000 >/dev/null
GATE="local a = tonumber(redis.call('get', KEYS[1])) if a and a >= 1 then return redis.call('decr', KEYS[1]) end return -1"
gate() {
  redis-benchmark -p "$REDISPORT" -c "$CONNS" --threads 2 -n "$1" -q eval "$GATE" 1 stock:HOT-1 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9]*\)[0-9.]* requests per second.*/\1/p' | tail -1
}
# redis-benchmark runs a request count, not a duration: a short first run
# sizes the measured one to last about as long as the others.
first=$(gate 50000)
before=$(redis-cli -p "$REDISPORT" get stock:HOT-1)
echo "redis gate: $(gate $((first * SECS))) requests/s ($CONNS connections, appendfsync always)"
echo "redis check: $((before - $(redis-cli -p "$REDISPORT" get stock:HOT-1))) units taken of $((first * SECS)) requests"
redis-cli -p "$REDISPORT" shutdown nosave >/dev/null 2>&1 || true

surge() {
  "$SURGE_BIN" bench "$@" --connections "$CONNS" --duration "${SECS}s" 2>&1 |
    awk '/^  requests/ {print $2, $3} /^  invariants/ {print ($0 ~ /all hold$/ ? "(invariants hold)" : "(" $0 ")")}' | paste -sd' '
}
echo "surge flash-sale (HTTP): $(surge flash-sale --stock 100000000)"
echo "surge spread (HTTP): $(surge spread --skus 10000)"
