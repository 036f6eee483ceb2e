#!/usr/bin/env bash
# Transfer throughput of one Pulse node over HTTP, against pgbench running the same transfer SQL
# directly on the same PostgreSQL, with the same concurrency, in the same run. See bench/LEDGER.md.
#
#   bench/ledger.sh
#
# Starts a throw-away node (embedded PostgreSQL 17 and Redis, everything on 127.0.0.1, data in a
# temp dir deleted afterwards), prepares funded accounts with their tokens, then, one after the
# other: wrk (64 connections, 2 threads) on POST /api/v1/transactions/transfer, and pgbench
# (64 clients, 2 threads, -M prepared) on bench/ledger/transfer.sql, each 10 s warm-up + 30 s.
# Prints both, the ratio and where the CPU went, and writes bench/results/ledger.md.
# 2–3 minutes (accounts ~45 s, 2 × 40 s of load). Installs wrk and postgresql-client (pgbench, psql) with apt-get when missing.
# Knobs (the results are then not comparable): LEDGER_ACCOUNTS, LEDGER_SECONDS, LEDGER_WARMUP,
# LEDGER_CONNECTIONS, LEDGER_THREADS, LEDGER_SETUP_CONCURRENCY.
set -euo pipefail

ACCOUNTS=${LEDGER_ACCOUNTS:-1000}
RUN_SECONDS=${LEDGER_SECONDS:-30}
WARMUP=${LEDGER_WARMUP:-10}
CONNECTIONS=${LEDGER_CONNECTIONS:-64}
THREADS=${LEDGER_THREADS:-2}
SETUP_CONCURRENCY=${LEDGER_SETUP_CONCURRENCY:-8}
CREDIT=1000000000            # per account; transfers move 1..1000, so funds never run short
CURRENCY=USD                 # the node's DEFAULT_CURRENCY (conf/config.json), what a transfer without one uses
REQUEST_ID=00000000-0000-4000-8000-000000000000   # pgbench's stand-in for Pulse's per-request UUID
TARGET_RATIO=0.6
TARGET_P99_MS=50

BENCH_NAME=ledger
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ROOT, JAR, JAVA, say, the node's start and cleanup
DIR="$ROOT/bench/ledger"
RESULTS="$ROOT/bench/results/ledger.md"

# ---------------------------------------------------------------- tools
need=()
command -v wrk >/dev/null || need+=(wrk)
{ command -v pgbench >/dev/null && command -v psql >/dev/null; } || need+=(postgresql-client)
command -v curl >/dev/null || need+=(curl)
apt_install ${need[@]+"${need[@]}"}
ensure_jar

bench_workdir   # WORK, and the EXIT trap that stops the children (CHILD_PIDS: load generators, top), the node, and deletes WORK
private_jar
pick_ports

# ---------------------------------------------------------------- the node
start_node RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_USER_PER_MINUTE=100000000 \
  LOG_LEVEL=WARN LOG_FORMAT=text DB_POOL_SIZE=32 \
  ADMIN_USERNAME=bench ADMIN_PASSWORD=bench-password-1
wait_ready 90

PG_PID=$(head -n 1 "$WORK/data/postgres/postmaster.pid" 2>/dev/null || true)
REDIS_PID=$(cat "$WORK/data/redis/redis.pid" 2>/dev/null || true)

# Machine facts, taken before the load (load average: is something else busy here?).
machine_facts   # CORES, JAVA_VERSION, CPU_MODEL, DATE
LOAD=$(load_average)
PG_VERSION=$(psql_q "SHOW server_version" | cut -d' ' -f1)
PG_SETTINGS=$(psql_q "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_sync_method', 'commit_delay')")
PGBENCH_VERSION=$(pgbench --version | sed 's/^pgbench //')
WRK_VERSION=$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2 || true)

# ---------------------------------------------------------------- the pgbench script: the jar's SQL?
SETUP=("$JAVA" -cp "$JAR" "$DIR/LedgerSetup.java")
SQL_FILE="$DIR/transfer.sql"
SQL_NOTE="bench/ledger/transfer.sql (checked: the same statements as the jar's LedgerSql.LOCK_PAIR and TRANSFER)"
if ! "${SETUP[@]}" check "$SQL_FILE"; then
  "${SETUP[@]}" sql >"$WORK/transfer.sql"
  SQL_FILE="$WORK/transfer.sql"
  SQL_NOTE="**bench/ledger/transfer.sql is stale** (the jar's SQL changed): this run used the jar's SQL, regenerated"
  say "bench/ledger/transfer.sql differs from the jar's SQL; using a regenerated copy for this run"
fi

# ---------------------------------------------------------------- accounts
say "preparing $ACCOUNTS accounts ($SETUP_CONCURRENCY at a time: register, log in, credit $CREDIT)"
setup_started=$SECONDS
run_child "${SETUP[@]}" accounts --url "$URL" --admin-user bench --admin-password bench-password-1 \
  --accounts "$ACCOUNTS" --concurrency "$SETUP_CONCURRENCY" --credit "$CREDIT" --out "$WORK/accounts.lua" \
  >"$WORK/setup.out" || true
read -r _ LO HI COUNT < <(grep '^ids ' "$WORK/setup.out") || true
if [[ -z "${COUNT:-}" || "$COUNT" -ne "$ACCOUNTS" ]]; then
  say "preparing the accounts failed; the node's log:"
  tail -n 20 "$WORK/node.log" >&2
  exit 1
fi
SETUP_SECONDS=$((SECONDS - setup_started))
# pgbench draws ids in [lo, hi]: they must be exactly the prepared accounts (consecutive ids),
# each with a funded balance row, as the users table says.
read -r DB_LO DB_HI DB_N DB_FUNDED < <(psql_q "SELECT min(u.id), max(u.id), count(*), count(b.user_id) FROM users u
  LEFT JOIN balances b ON b.user_id = u.id AND b.currency = '$CURRENCY' AND b.amount >= $CREDIT
  WHERE u.username LIKE 'ledger\_%'" | tr '|' ' ')
if [[ "$DB_LO $DB_HI $DB_N $DB_FUNDED" != "$LO $HI $ACCOUNTS $ACCOUNTS" || $((HI - LO + 1)) -ne $ACCOUNTS ]]; then
  say "the accounts are not consecutive funded ids: setup says $LO..$HI ($COUNT), users table says $DB_LO..$DB_HI ($DB_N, $DB_FUNDED funded)"
  exit 1
fi
say "accounts ready in ${SETUP_SECONDS} s: user ids $LO..$HI"

# ---------------------------------------------------------------- CPU accounting
# Clock ticks (utime+stime) of a process; with "all", plus those of its reaped children.
ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat   # $1 is field 3 (state): utime is field 14 = $12
  if [[ "${2:-}" == all ]]; then echo $(( ${12} + ${13} + ${14} + ${15} )); else echo $(( ${12} + ${13} )); fi
}
# PostgreSQL: the postmaster with its reaped children (pgbench's backends end with the run),
# plus every live child (Pulse's pooled backends, the checkpointer, the WAL writer, ...).
pg_ticks() {
  local total sum=0 stat pid
  total=$(cat "/proc/$PG_PID/stat" 2>/dev/null) || { echo 0; return; }
  total=${total##*) }
  read -r -a f <<<"$total"
  sum=$(( f[11] + f[12] + f[13] + f[14] ))
  for stat in /proc/[0-9]*/stat; do
    read -r line <"$stat" 2>/dev/null || continue
    line=${line##*) }
    read -r -a f <<<"$line"
    [[ "${f[1]}" == "$PG_PID" ]] && sum=$(( sum + f[11] + f[12] ))
  done
  echo "$sum"
}
# The whole machine: busy and idle ticks (all cores) from /proc/stat.
machine_ticks() {
  read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$(( user + nice + system + irq + softirq + steal )) $(( idle + iowait )) $iowait"
}
snapshot() {  # NAME: java postgres redis machine-busy machine-idle iowait
  echo "$(ticks "$NODE_PID") $(pg_ticks) $(ticks "${REDIS_PID:-0}") $(machine_ticks)" >"$WORK/cpu-$1"
}
HZ=$(getconf CLK_TCK)

# Runs a load generator, its output to FILE, its CPU ticks (a wrapper shell's reaped-children
# time, which is the generator's own, threads included) to FILE.ticks.
measured() {
  local out=$1
  shift
  run_child bash -c '"$@" >"$0" 2>&1; rc=$?; awk "{print \$16 + \$17}" /proc/$$/stat >"$0.ticks"; exit $rc' "$out" "$@"
}

# A top snapshot from the middle of a run (its second sample: %CPU over the 3 s before it).
top_sample() {
  ( sleep "$1"; top -b -n 2 -d 3 -w 160 | awk '/^top -/ {n++} n == 2' | head -n 20 >"$2" ) &
  TOP_PID=$!
  CHILD_PIDS+=("$TOP_PID")
}

# ---------------------------------------------------------------- Pulse (wrk)
WRK=(wrk -c "$CONNECTIONS" -t "$THREADS" --timeout 10s --latency -s "$DIR/transfer.lua")
say "Pulse: wrk warm-up ${WARMUP} s (not counted)"
measured "$WORK/wrk-warmup.txt" "${WRK[@]}" -d "${WARMUP}s" "$URL" -- "$WORK/accounts.lua" || {
  say "wrk failed:"; cat "$WORK/wrk-warmup.txt" >&2; exit 1; }
psql_q "CHECKPOINT" >/dev/null
say "Pulse: wrk ${CONNECTIONS} connections, ${THREADS} threads, ${RUN_SECONDS} s"
top_sample $((RUN_SECONDS / 2)) "$WORK/top-pulse.txt"
snapshot pulse-start
measured "$WORK/wrk.txt" "${WRK[@]}" -d "${RUN_SECONDS}s" "$URL" -- "$WORK/accounts.lua" || {
  say "wrk failed:"; cat "$WORK/wrk.txt" >&2; exit 1; }
snapshot pulse-end
wait "$TOP_PID" 2>/dev/null || true
grep -v '^LEDGER ' "$WORK/wrk.txt" >&2 || true

# ---------------------------------------------------------------- pgbench
PGBENCH=(pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -f "$SQL_FILE"
  -D lo="$LO" -D hi="$HI" -D currency="$CURRENCY" -D type=transfer -D request_id="$REQUEST_ID"
  -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres)
say "pgbench: warm-up ${WARMUP} s (not counted)"
measured "$WORK/pgbench-warmup.txt" "${PGBENCH[@]}" -T "$WARMUP" || {
  say "pgbench failed:"; cat "$WORK/pgbench-warmup.txt" >&2; exit 1; }
psql_q "CHECKPOINT" >/dev/null
mkdir -p "$WORK/pglog"
say "pgbench: ${CONNECTIONS} clients, ${THREADS} threads, -M prepared, ${RUN_SECONDS} s"
top_sample $((RUN_SECONDS / 2)) "$WORK/top-pgbench.txt"
snapshot pgbench-start
measured "$WORK/pgbench.txt" "${PGBENCH[@]}" -T "$RUN_SECONDS" -l --log-prefix="$WORK/pglog/tx" || {
  say "pgbench failed:"; cat "$WORK/pgbench.txt" >&2; exit 1; }
sleep 0.5   # let the postmaster reap pgbench's backends, so their CPU is in its children's time
snapshot pgbench-end
wait "$TOP_PID" 2>/dev/null || true
grep -v '^pgbench: warning' "$WORK/pgbench.txt" >&2 || true

# ---------------------------------------------------------------- numbers
wrk_val() { awk -v k="$1" '$1 == "LEDGER" && $2 == k {print $3}' "$WORK/wrk.txt"; }
W_REQ=$(wrk_val requests)
W_US=$(wrk_val duration_us)
W_ERR=$(awk '$1 == "LEDGER" && $2 == "errors" {$1 = $2 = ""; sub(/^ +/, ""); print}' "$WORK/wrk.txt")
W_2XX=$(awk '$1 == "LEDGER" && $2 == "status" && $3 >= 200 && $3 < 300 {s += $4} END {print s + 0}' "$WORK/wrk.txt")
W_STATUSES=$(awk '$1 == "LEDGER" && $2 == "status" {printf "%s%s × %s", sep, $4, $3; sep = ", "}' "$WORK/wrk.txt")
W_SOCKET_ERR=$(awk '$1 == "LEDGER" && $2 == "errors" {n = 0; for (i = 3; i <= NF; i++) if ($i !~ /^status/) {split($i, kv, "="); n += kv[2]} print n}' "$WORK/wrk.txt")
W_NON2XX=$((W_REQ - W_2XX))
W_TPS=$(awk -v n="$W_2XX" -v us="$W_US" 'BEGIN {printf "%.1f", n / (us / 1e6)}')
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
W_P50=$(ms "$(wrk_val p50_us)"); W_P90=$(ms "$(wrk_val p90_us)"); W_P99=$(ms "$(wrk_val p99_us)")
W_MEAN=$(ms "$(wrk_val mean_us)"); W_MAX=$(ms "$(wrk_val max_us)")

P_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$WORK/pgbench.txt" | head -n 1 \
  | awk '{printf "%.1f", $1}')
P_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.txt")
P_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.txt")
P_ABORTED=$(grep -c 'client [0-9]* aborted' "$WORK/pgbench.txt" || true)
# Per-transaction log: client, transaction no, latency µs, script, epoch s, µs.
cat "$WORK"/pglog/tx.* | awk '{print $3}' | sort -n >"$WORK/pglat"
pct() { awk -v p="$1" '{v[NR] = $1} END {i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.1f", v[i] / 1000}' "$WORK/pglat"; }
P_P50=$(pct 50); P_P90=$(pct 90); P_P99=$(pct 99)
P_MEAN=$(awk '{s += $1} END {printf "%.1f", s / NR / 1000}' "$WORK/pglat")
P_MAX=$(tail -n 1 "$WORK/pglat" | awk '{printf "%.1f", $1 / 1000}')
P_LOGGED=$(wc -l <"$WORK/pglat")
[[ -n "$P_TPS" && "$P_LOGGED" -gt 0 ]] || { say "could not read pgbench's results:"; cat "$WORK/pgbench.txt" >&2; exit 1; }

RATIO=$(awk -v a="$W_TPS" -v b="$P_TPS" 'BEGIN {printf "%.2f", a / b}')
VERDICT=$(awk -v r="$RATIO" -v p="$W_P99" -v tr="$TARGET_RATIO" -v tp="$TARGET_P99_MS" 'BEGIN {
  ok_r = r >= tr; ok_p = p < tp
  printf "%s: ratio %.2f %s %.1f, Pulse p99 %.1f ms %s %d ms", (ok_r && ok_p) ? "**MET**" : "**NOT MET**",
    r, ok_r ? "≥" : "<", tr, p, ok_p ? "<" : "≥", tp }')

# CPU per window: cores used by each (ticks / HZ / seconds), and CPU ms per transfer.
cpu_row() {  # NAME START END SECONDS TRANSFERS LOADGEN_TICKS
  read -r j0 g0 r0 b0 i0 w0 <"$WORK/cpu-$2"
  read -r j1 g1 r1 b1 i1 w1 <"$WORK/cpu-$3"
  awk -v name="$1" -v hz="$HZ" -v s="$4" -v n="$5" -v lg="$6" -v j=$((j1 - j0)) -v g=$((g1 - g0)) \
      -v r=$((r1 - r0)) -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v w=$((w1 - w0)) 'BEGIN {
    other = b - j - g - r - lg; if (other < 0) other = 0
    c = hz * s
    printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f (iowait %.2f) | %.2f | %.2f | %.2f |\n", name,
      j / c, g / c, r / c, lg / c, other / c, i / c, w / c, b / c,
      (j + g + r) * 1000 / hz / n, b * 1000 / hz / n }'
}
W_SECONDS=$(awk -v us="$W_US" 'BEGIN {printf "%.2f", us / 1e6}')
CPU_PULSE=$(cpu_row "Pulse (wrk)" pulse-start pulse-end "$W_SECONDS" "$W_REQ" "$(cat "$WORK/wrk.txt.ticks")")
CPU_PGBENCH=$(cpu_row "pgbench" pgbench-start pgbench-end "$RUN_SECONDS" "$P_TX" "$(cat "$WORK/pgbench.txt.ticks")")

node_log_unexpected 'JWT_SECRET is not set' ' - not ready: \['   # sets unexpected

# ---------------------------------------------------------------- report
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Ledger transfers: Pulse over HTTP vs pgbench on the same SQL"
  echo
  echo "$DATE, \`bench/ledger.sh\`: $ACCOUNTS funded accounts (user ids $LO..$HI), random (from, to) pair"
  echo "and amount 1..1000 per transfer; both sides $CONNECTIONS connections on $THREADS threads, closed loop,"
  echo "${WARMUP} s warm-up then ${RUN_SECONDS} s measured, one after the other on the same database"
  echo "(a CHECKPOINT before each measured run). See [bench/LEDGER.md](../LEDGER.md) for how to read this."
  echo
  echo "| side | transfers/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | failed |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "| Pulse: POST /api/v1/transactions/transfer (wrk) | $W_TPS | $W_MEAN | $W_P50 | $W_P90 | $W_P99 | $W_MAX | $W_NON2XX non-2xx, $W_SOCKET_ERR socket errors |"
  echo "| pgbench: the same transaction, \`-M prepared\` | $P_TPS | $P_MEAN | $P_P50 | $P_P90 | $P_P99 | $P_MAX | ${P_FAILED:-0} failed, $P_ABORTED clients aborted |"
  echo "| **ratio Pulse / pgbench** | **$RATIO** | | | | | | |"
  echo
  echo "Target (Pulse ≥ $TARGET_RATIO × pgbench, Pulse p99 < $TARGET_P99_MS ms): $VERDICT."
  echo
  echo "Pulse counts only 2xx answers per second (statuses: ${W_STATUSES:-none}; wrk errors: $W_ERR);"
  echo "latencies are wrk's own histogram. pgbench's transfers/s is its \`tps\` (without connection time);"
  echo "its percentiles come from its per-transaction log ($P_LOGGED transactions)."
  echo "pgbench ran $SQL_NOTE."
  echo
  echo "## Where the CPU went"
  echo
  echo "Cores used during each measured run (of $CORES), from /proc: the node's JVM, PostgreSQL (postmaster,"
  echo "every backend, background processes), Redis, the load generator itself, anything else; and CPU"
  echo "milliseconds per transfer, for the server side (java + postgres + redis) and for everything."
  echo
  echo "| run | java | postgres | redis | load generator | other | idle | busy | server CPU ms/transfer | all CPU ms/transfer |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "$CPU_PULSE"
  echo "$CPU_PGBENCH"
  echo
  awk -F'|' '{n = $2; gsub(/^ +| +$/, "", n); if ($7 + 0 > 0.15) {busy = busy sprintf("%s %s: %.2f cores", sep, n, $7); sep = ";"}}
    END {if (busy != "") printf "**Something else was using the CPU during the measurement (\"other\":%s); the numbers are disturbed, see top below.**\n\n", busy}' \
    <<<"$CPU_PULSE
$CPU_PGBENCH"
  if [[ -n "$unexpected" ]]; then
    echo "**The node logged $(wc -l <<<"$unexpected") unexpected line(s)** (kept in bench/results/ledger-node.log), the first:"
    echo
    echo '```'
    grep -m 3 -v '^[[:space:]]' <<<"$unexpected" | cut -c1-300
    echo '```'
    echo
  fi
  for side in pulse pgbench; do
    if [[ -s "$WORK/top-$side.txt" ]]; then
      echo "<details><summary>top, mid-run ($side)</summary>"
      echo
      echo '```'
      cat "$WORK/top-$side.txt"
      echo '```'
      echo "</details>"
      echo
    fi
  done
  echo "Machine: nproc $CORES${CPU_MODEL:+, $CPU_MODEL}; load average before the run $LOAD; \`$JAVA_VERSION\`;"
  echo "PostgreSQL $PG_VERSION (embedded: $PG_SETTINGS); pgbench $PGBENCH_VERSION; $WRK_VERSION."
  echo "Node: DB_POOL_SIZE=32, rate limits lifted, LOG_LEVEL=WARN. Accounts prepared in ${SETUP_SECONDS} s."
  echo "Server, database and load generator share the same cores, on both sides."
} >"$RESULTS"

echo >&2
cat "$RESULTS"
