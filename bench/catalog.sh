#!/usr/bin/env bash
# Cached product reads against the framework's ceiling, in the same run, then orders under load.
# See "Catalog" in bench/README.md.
#
#   bench/catalog.sh
#
# Starts a throw-away node (embedded PostgreSQL and Redis, data in a temp dir deleted afterwards)
# and a minimal Vert.x hello-world server (bench/catalog/HelloServer.java: one instance per core,
# a product-sized JSON answer). wrk, 64 connections, 2 threads: GET /api/v1/products/{id} (no
# token, served from the Redis cache) for 20 s after a warm-up, then the hello-world server the
# same way; the ratio. Each warm-up runs in 10 s rounds until the JVM's JIT compiler used under a
# tenth of a core in a round (at most 300 s; see warm_until_compiled in bench/lib.sh): after a fixed
# 5 s Pulse read at a fifth of its settled rate, after 30 s at about half. Then POST /api/v1/orders (one unit, 64 buyers in turn) for 20 s, and
# the invariants after it: stock + confirmed units = the stock before, buyers charged = merchant
# credited, every ledger entry sums to zero. Writes bench/results/catalog.md. About 3 minutes.
# Installs wrk, curl and psql with apt-get when missing. Knobs: CATALOG_SECONDS, CATALOG_WARMUP_ROUND,
# CATALOG_WARMUP_MAX, CATALOG_CONNECTIONS.
set -euo pipefail

RUN_SECONDS=${CATALOG_SECONDS:-20}
WARMUP_ROUND=${CATALOG_WARMUP_ROUND:-10}   # seconds per warm-up round
WARMUP_MAX=${CATALOG_WARMUP_MAX:-300}     # a warm-up stops after this many seconds even if the JIT has not settled
CONNECTIONS=${CATALOG_CONNECTIONS:-64}
BUYERS=64
STOCK=100000000
TARGET_RATIO=0.5

BENCH_NAME=catalog
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RESULTS="$ROOT/bench/results/catalog.md"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v psql >/dev/null || need+=(postgresql-client)
apt_install ${need[@]+"${need[@]}"}
ensure_jar

bench_workdir
private_jar
pick_ports
HELLO_PORT=$(free_port "$HTTP_PORT" "$PG_PORT" "$REDIS_PORT")

"$JAVA" -cp "$JAR" "$ROOT/bench/catalog/HelloServer.java" "$HELLO_PORT" >"$WORK/hello.log" 2>&1 &
HELLO_PID=$!
CHILD_PIDS+=("$HELLO_PID")
start_node LOG_LEVEL=WARN LOG_FORMAT=text ADMIN_USERNAME=bench ADMIN_PASSWORD=bench-password-1 \
  RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_USER_PER_MINUTE=100000000 RATE_LIMIT_PUBLIC_PER_MINUTE=100000000 DB_POOL_SIZE=32
wait_ready 90
until grep -q '^serving' "$WORK/hello.log"; do sleep 0.2; done
machine_facts
LOAD=$(load_average)

json() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p"; }
post() { curl -s -X POST "$URL$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2"; }
ADMIN=$(post /api/v1/auth/login '{"username":"bench","password":"bench-password-1"}' | json access_token)
PRODUCT=$(post /api/v1/products "{\"sku\":\"bench-1\",\"name\":\"Bench\",\"price\":7,\"stock\":$STOCK}" "$ADMIN" | json id)
MERCHANT=$(psql_q "SELECT merchant_id FROM products WHERE id = $PRODUCT")
say "product $PRODUCT; making $BUYERS buyers"
: >"$WORK/tokens.txt"
for i in $(seq 1 "$BUYERS"); do
  id=$(post /api/v1/auth/register "{\"username\":\"buyer$i\",\"email\":\"buyer$i@example.com\",\"password\":\"password-$i\"}" | json id)
  post /api/v1/transactions/credit "{\"amount\":1000000000,\"user_id\":$id}" "$ADMIN" >/dev/null
  # (echo: GNU sed keeps the missing final newline of the answer, which would run the tokens together)
  echo "$(post /api/v1/auth/login "{\"username\":\"buyer$i\",\"password\":\"password-$i\"}" | json access_token)" >>"$WORK/tokens.txt"
done

wrk_rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_p() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
WRK=(wrk -c "$CONNECTIONS" -t 2 --timeout 10s --latency)
say "reads: warm-up, then $RUN_SECONDS s against Pulse"
warm_until_compiled "$NODE_PID" "$WARMUP_MAX" "${WRK[@]}" -d "${WARMUP_ROUND}s" "$URL/api/v1/products/$PRODUCT"
PULSE_WARMED=$WARMED
run_child "${WRK[@]}" -d "${RUN_SECONDS}s" "$URL/api/v1/products/$PRODUCT" >"$WORK/pulse.txt"
say "reads: $RUN_SECONDS s against the hello-world server"
warm_until_compiled "$HELLO_PID" "$WARMUP_MAX" "${WRK[@]}" -d "${WARMUP_ROUND}s" "http://127.0.0.1:$HELLO_PORT/"
HELLO_WARMED=$WARMED
run_child "${WRK[@]}" -d "${RUN_SECONDS}s" "http://127.0.0.1:$HELLO_PORT/" >"$WORK/hello.txt"
HITS=$(curl -s "$URL/metrics" | awk '/^pulse_cache_requests_total\{.*result="hit"/ {s += $2} END {printf "%d", s}')
MISSES=$(curl -s "$URL/metrics" | awk '/^pulse_cache_requests_total\{.*result="miss"/ {s += $2} END {printf "%d", s}')

STOCK_BEFORE=$(psql_q "SELECT stock FROM products WHERE id = $PRODUCT")
MERCHANT_BEFORE=$(psql_q "SELECT coalesce(sum(amount), 0) FROM balances WHERE user_id = $MERCHANT")
FIRST_TOKEN=$(head -n 1 "$WORK/tokens.txt")
FIRST_ORDER=$(curl -s -w ' %{http_code}' -X POST "$URL/api/v1/orders" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $FIRST_TOKEN" -H 'Idempotency-Key: bench-probe' -d "{\"product_id\": $PRODUCT, \"quantity\": 1}")
say "one order first (a probe, counted in the invariants; token of ${#FIRST_TOKEN} chars): ${FIRST_ORDER: -3}: ${FIRST_ORDER:0:200}"
say "orders: $RUN_SECONDS s, $CONNECTIONS connections"
run_child "${WRK[@]}" -d "${RUN_SECONDS}s" -s "$ROOT/bench/catalog/orders.lua" "$URL" -- "$PRODUCT" "$WORK/tokens.txt" >"$WORK/orders.txt"
sleep 2   # orders still in flight when wrk stopped
CONFIRMED=$(psql_q "SELECT coalesce(sum(quantity), 0) FROM orders WHERE status = 'confirmed'")
UNSETTLED=$(psql_q "SELECT count(*) FROM orders WHERE status IN ('pending', 'reserved')")
STOCK_AFTER=$(psql_q "SELECT stock FROM products WHERE id = $PRODUCT")
MERCHANT_AFTER=$(psql_q "SELECT coalesce(sum(amount), 0) FROM balances WHERE user_id = $MERCHANT")
CHARGED=$(psql_q "SELECT $BUYERS::bigint * 1000000000 - coalesce(sum(amount), 0) FROM balances WHERE user_id <> $MERCHANT")
ENTRIES=$(psql_q "SELECT coalesce(sum(amount), 0) FROM entries")
ORDERS_RATE=$(wrk_rate "$WORK/orders.txt")
NON2XX=$(awk '/Non-2xx/ {print $5}' "$WORK/orders.txt"); NON2XX=${NON2XX:-0}

PULSE=$(wrk_rate "$WORK/pulse.txt"); HELLO=$(wrk_rate "$WORK/hello.txt")
RATIO=$(awk -v p="$PULSE" -v h="$HELLO" 'BEGIN { printf "%.3f", p / h }')
MET=$(awk -v p="$PULSE" -v h="$HELLO" -v t="$TARGET_RATIO" 'BEGIN { print (p / h >= t) ? "met" : "NOT MET" }')   # unrounded
STOCK_OK=$([[ $((STOCK_BEFORE - STOCK_AFTER)) -eq $CONFIRMED && $UNSETTLED -eq 0 ]] && echo held || echo BROKEN)
MONEY_OK=$([[ $((MERCHANT_AFTER - MERCHANT_BEFORE)) -eq $((CONFIRMED * 7)) && $ENTRIES -eq 0 ]] && echo held || echo BROKEN)

cat >"$RESULTS" <<MD
# Catalog: cached product reads vs the framework's ceiling; orders under load

$DATE, \`bench/catalog.sh\`: wrk, $CONNECTIONS connections, 2 threads, $RUN_SECONDS s each after a warm-up, one after the
other on the same machine. $CORES cores ($CPU_MODEL), $JAVA_VERSION, load average before: $LOAD.
Warm-ups, in ${WARMUP_ROUND} s rounds until the JVM's JIT compiler used under 0.1 core in a round (at most ${WARMUP_MAX} s):
Pulse $PULSE_WARMED; hello world $HELLO_WARMED.

| side | requests/s | p50 | p90 | p99 |
|---|---:|---:|---:|---:|
| Pulse: GET /api/v1/products/{id} (no token, from the Redis cache) | **$PULSE** | $(wrk_p "$WORK/pulse.txt" 50%) | $(wrk_p "$WORK/pulse.txt" 90%) | $(wrk_p "$WORK/pulse.txt" 99%) |
| Vert.x hello world (the same JSON size) | **$HELLO** | $(wrk_p "$WORK/hello.txt" 50%) | $(wrk_p "$WORK/hello.txt" 90%) | $(wrk_p "$WORK/hello.txt" 99%) |
| **ratio Pulse / hello world** | **$RATIO** (goal ≥ $TARGET_RATIO: **$MET**) | | | |
| Pulse: POST /api/v1/orders (reserve, pay through the ledger, confirm) | **$ORDERS_RATE** | $(wrk_p "$WORK/orders.txt" 50%) | $(wrk_p "$WORK/orders.txt" 90%) | $(wrk_p "$WORK/orders.txt" 99%) |

Cache during the reads: $HITS hits, $MISSES misses. Orders: $CONFIRMED confirmed units, $NON2XX non-2xx answers,
$UNSETTLED left pending or reserved. Invariants after the orders: stock before − after = confirmed units, nothing
unsettled: **$STOCK_OK**; merchant credited = confirmed × price ($((MERCHANT_AFTER - MERCHANT_BEFORE)) = $CONFIRMED × 7), buyers charged
$CHARGED, every ledger entry sums to $ENTRIES: **$MONEY_OK**.
MD
cat "$RESULTS"
