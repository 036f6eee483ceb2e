#!/usr/bin/env bash
# Transfer throughput of one Pulse node over HTTP, against pgbench running one transfer per
# transaction directly on the same PostgreSQL, with the same concurrency, in the same run; and
# the same Pulse measurements on the build before group commit. See bench/LEDGER.md.
#
#   bench/ledger.sh
#
# For each Pulse build (this one, and the one before group commit: LEDGER_BEFORE, a git ref,
# built from `git archive` into the temp dir; "none" skips it): a throw-away node (embedded
# PostgreSQL 17 and Redis, everything on 127.0.0.1, data in a temp dir deleted afterwards),
# funded accounts with their tokens, wrk on POST /api/v1/transactions/transfer with 64
# connections (a warm-up in 10 s rounds until the JVM's JIT compiler used under 0.1 core in a
# round, at most 240 s; then 30 s) and then with 1 connection (15 s). Then pgbench (-M prepared)
# on bench/ledger/transfer.sql against this build's database, 64 clients and then 1.
# Prints them side by side, the ratios, the batch sizes and where the CPU went, and writes
# bench/results/ledger.md. 6–9 minutes. Installs wrk and postgresql-client (pgbench, psql) with
# apt-get when missing.
# Knobs (the results are then not comparable): LEDGER_ACCOUNTS, LEDGER_SECONDS, LEDGER_WARMUP, LEDGER_WARMUP_MAX,
# LEDGER_ONE_SECONDS, LEDGER_CONNECTIONS, LEDGER_THREADS, LEDGER_SETUP_CONCURRENCY, LEDGER_BEFORE, LEDGER_INSTANCES.
set -euo pipefail

ACCOUNTS=${LEDGER_ACCOUNTS:-1000}
RUN_SECONDS=${LEDGER_SECONDS:-30}
WARMUP=${LEDGER_WARMUP:-10}           # seconds: pgbench's warm-up, and each round of Pulse's
WARMUP_MAX=${LEDGER_WARMUP_MAX:-240}  # Pulse's warm-up stops after this many seconds even if its JIT has not settled
ONE_SECONDS=${LEDGER_ONE_SECONDS:-15}
BEFORE_REF=${LEDGER_BEFORE:-e3520fa}   # the last commit before group commit
CONNECTIONS=${LEDGER_CONNECTIONS:-64}
LEDGER_INSTANCES=${LEDGER_INSTANCES:-}   # the node's LEDGER_INSTANCES (empty: its default)
THREADS=${LEDGER_THREADS:-2}
SETUP_CONCURRENCY=${LEDGER_SETUP_CONCURRENCY:-8}
CREDIT=1000000000            # per account; transfers move 1..1000, so funds never run short
CURRENCY=USD                 # the node's DEFAULT_CURRENCY (conf/config.json), what a transfer without one uses
REQUEST_ID=00000000-0000-4000-8000-000000000000   # pgbench's stand-in for Pulse's per-request UUID
TARGET_RATIO=1.5
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
AFTER_JAR=$JAR

# ---------------------------------------------------------------- the build before group commit
BEFORE_JAR=""
BEFORE_NOTE=""
if [[ "$BEFORE_REF" != none ]]; then
  if BEFORE_SHA=$(git -C "$ROOT" rev-parse --verify -q "$BEFORE_REF^{commit}"); then
    say "building the jar of $BEFORE_REF (before group commit) in $WORK/before-src"
    mkdir -p "$WORK/before-src"
    git -C "$ROOT" archive "$BEFORE_SHA" | tar -x -C "$WORK/before-src"
    if (cd "$WORK/before-src" && { mvn -q -B -o -DskipTests package || mvn -q -B -DskipTests package; }) >"$WORK/before-build.log" 2>&1; then
      BEFORE_JAR="$WORK/before-src/target/pulse.jar"
    else
      BEFORE_NOTE="the build of $BEFORE_REF failed, so it was not measured"
      tail -n 20 "$WORK/before-build.log" >&2
    fi
  else
    BEFORE_NOTE="$BEFORE_REF is not a commit of this clone, so the build before group commit was not measured"
  fi
  [[ -z "$BEFORE_NOTE" ]] || say "$BEFORE_NOTE"
fi

# Machine facts, taken before the load (load average: is something else busy here?).
machine_facts   # CORES, JAVA_VERSION, CPU_MODEL, DATE
LOAD=$(load_average)
PGBENCH_VERSION=$(pgbench --version | sed 's/^pgbench //')
WRK_VERSION=$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2 || true)

# ---------------------------------------------------------------- the pgbench script
# The peer is one transfer per transaction, with the exact statements Pulse ran for one transfer
# before group commit (LedgerSql.LOCK_PAIR and TRANSFER of $BEFORE_REF, kept in bench/ledger/transfer.sql).
SETUP=("$JAVA" -cp "$JAR" "$DIR/LedgerSetup.java")
SQL_FILE="$DIR/transfer.sql"

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

# The node's money moves per commit so far: "count sum" of pulse_ledger_batch_size (0 0 before group commit).
batch_totals() {
  curl -s --max-time 5 "$URL/metrics" | awk '$1 ~ /^pulse_ledger_batch_size_count/ {c += $NF}
    $1 ~ /^pulse_ledger_batch_size_sum/ {s += $NF} END {printf "%d %d\n", c, s}'
}
# Its recent distribution (Micrometer's decaying window): "p50 p90 p99 max".
batch_quantiles() {
  curl -s --max-time 5 "$URL/metrics" | awk '$1 ~ /^pulse_ledger_batch_size\{.*quantile="0.5"/ {p50 = $NF}
    $1 ~ /^pulse_ledger_batch_size\{.*quantile="0.9"/ {p90 = $NF} $1 ~ /^pulse_ledger_batch_size\{.*quantile="0.99"/ {p99 = $NF}
    $1 ~ /^pulse_ledger_batch_size_max/ {max = $NF} END {printf "%s %s %s %s\n", p50 + 0, p90 + 0, p99 + 0, max + 0}'
}

# ---------------------------------------------------------------- one Pulse build (wrk)
# SIDE JAR: a node of that jar with its own data, the accounts, then wrk with CONNECTIONS
# connections (warm-up, then measured with CPU snapshots and batch sizes) and with 1 connection.
# Leaves the node running, and LO/HI/PG_URL/URL pointing at it.
pulse_side() {
  local side=$1
  JAR=$2
  NODE_DIR="$WORK/$side"
  pick_ports
  start_node RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_USER_PER_MINUTE=100000000 \
    LOG_LEVEL=WARN LOG_FORMAT=text DB_POOL_SIZE=32 ${LEDGER_INSTANCES:+LEDGER_INSTANCES=$LEDGER_INSTANCES} \
    ADMIN_USERNAME=bench ADMIN_PASSWORD=bench-password-1
  wait_ready 90
  PG_PID=$(head -n 1 "$NODE_DIR/data/postgres/postmaster.pid" 2>/dev/null || true)
  REDIS_PID=$(cat "$NODE_DIR/data/redis/redis.pid" 2>/dev/null || true)

  say "$side: preparing $ACCOUNTS accounts ($SETUP_CONCURRENCY at a time: register, log in, credit $CREDIT)"
  local setup_started=$SECONDS
  run_child "${SETUP[@]}" accounts --url "$URL" --admin-user bench --admin-password bench-password-1 \
    --accounts "$ACCOUNTS" --concurrency "$SETUP_CONCURRENCY" --credit "$CREDIT" --out "$WORK/accounts-$side.lua" \
    >"$WORK/setup-$side.out" || true
  read -r _ LO HI COUNT < <(grep '^ids ' "$WORK/setup-$side.out") || true
  if [[ -z "${COUNT:-}" || "$COUNT" -ne "$ACCOUNTS" ]]; then
    say "preparing the accounts failed; the node's log:"
    tail -n 20 "$NODE_DIR/node.log" >&2
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
  say "$side: accounts ready in ${SETUP_SECONDS} s: user ids $LO..$HI"

  local wrk=(wrk -t "$THREADS" --timeout 10s --latency -s "$DIR/transfer.lua")
  say "$side: wrk warm-up in ${WARMUP} s rounds until the JIT has settled (not counted)"
  warm_until_compiled "$NODE_PID" "$WARMUP_MAX" "${wrk[@]}" -c "$CONNECTIONS" -d "${WARMUP}s" "$URL" -- "$WORK/accounts-$side.lua"
  eval "WARMED_${side}=\$WARMED"
  psql_q "CHECKPOINT" >/dev/null
  say "$side: wrk ${CONNECTIONS} connections, ${THREADS} threads, ${RUN_SECONDS} s"
  top_sample $((RUN_SECONDS / 2)) "$WORK/top-$side.txt"
  batch_totals >"$WORK/batch-$side-start"
  snapshot "$side-start"
  measured "$WORK/wrk-$side.txt" "${wrk[@]}" -c "$CONNECTIONS" -d "${RUN_SECONDS}s" "$URL" -- "$WORK/accounts-$side.lua" || {
    say "wrk failed:"; cat "$WORK/wrk-$side.txt" >&2; exit 1; }
  snapshot "$side-end"
  batch_totals >"$WORK/batch-$side-end"
  batch_quantiles >"$WORK/batch-$side-quantiles"
  wait "$TOP_PID" 2>/dev/null || true
  grep -v '^LEDGER ' "$WORK/wrk-$side.txt" >&2 || true

  say "$side: wrk 1 connection, ${ONE_SECONDS} s"
  batch_totals >"$WORK/batch-$side-one-start"
  measured "$WORK/wrk1-$side.txt" wrk -t 1 --timeout 10s --latency -s "$DIR/transfer.lua" -c 1 -d "${ONE_SECONDS}s" \
    "$URL" -- "$WORK/accounts-$side.lua" || { say "wrk failed:"; cat "$WORK/wrk1-$side.txt" >&2; exit 1; }
  batch_totals >"$WORK/batch-$side-one-end"
  eval "SETUP_SECONDS_${side}=$SETUP_SECONDS"
}

BEFORE_LOG=""
if [[ -n "$BEFORE_JAR" ]]; then
  pulse_side before "$BEFORE_JAR"
  node_log_unexpected 'JWT_SECRET is not set' ' - not ready: \['
  BEFORE_LOG=$unexpected
  BEFORE_STOP=0
  stop_node || BEFORE_STOP=$?
  [[ $BEFORE_STOP -eq 0 ]] || say "the node of $BEFORE_REF did not stop cleanly"
fi
pulse_side after "$AFTER_JAR"

PG_VERSION=$(psql_q "SHOW server_version" | cut -d' ' -f1)
PG_SETTINGS=$(psql_q "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_sync_method', 'commit_delay')")

# ---------------------------------------------------------------- pgbench
PGBENCH=(pgbench -n -M prepared -f "$SQL_FILE"
  -D lo="$LO" -D hi="$HI" -D currency="$CURRENCY" -D type=transfer -D request_id="$REQUEST_ID"
  -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres)
say "pgbench: warm-up ${WARMUP} s (not counted)"
measured "$WORK/pgbench-warmup.txt" "${PGBENCH[@]}" -c "$CONNECTIONS" -j "$THREADS" -T "$WARMUP" || {
  say "pgbench failed:"; cat "$WORK/pgbench-warmup.txt" >&2; exit 1; }
psql_q "CHECKPOINT" >/dev/null
mkdir -p "$WORK/pglog" "$WORK/pglog1"
say "pgbench: ${CONNECTIONS} clients, ${THREADS} threads, -M prepared, ${RUN_SECONDS} s"
top_sample $((RUN_SECONDS / 2)) "$WORK/top-pgbench.txt"
snapshot pgbench-start
measured "$WORK/pgbench.txt" "${PGBENCH[@]}" -c "$CONNECTIONS" -j "$THREADS" -T "$RUN_SECONDS" -l --log-prefix="$WORK/pglog/tx" || {
  say "pgbench failed:"; cat "$WORK/pgbench.txt" >&2; exit 1; }
sleep 0.5   # let the postmaster reap pgbench's backends, so their CPU is in its children's time
snapshot pgbench-end
wait "$TOP_PID" 2>/dev/null || true
grep -v '^pgbench: warning' "$WORK/pgbench.txt" >&2 || true
say "pgbench: 1 client, ${ONE_SECONDS} s"
measured "$WORK/pgbench1.txt" "${PGBENCH[@]}" -c 1 -j 1 -T "$ONE_SECONDS" -l --log-prefix="$WORK/pglog1/tx" || {
  say "pgbench failed:"; cat "$WORK/pgbench1.txt" >&2; exit 1; }

# ---------------------------------------------------------------- numbers
wrk_val() { awk -v k="$2" '$1 == "LEDGER" && $2 == k {print $3}' "$1"; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
# FILE PREFIX: sets PREFIX_TPS, _P50, _P90, _P99, _MEAN, _MAX, _REQ, _US, _NON2XX, _SOCKET_ERR, _STATUSES, _ERR of a wrk run.
wrk_numbers() {
  local f=$1 p=$2 req us ok
  req=$(wrk_val "$f" requests); us=$(wrk_val "$f" duration_us)
  ok=$(awk '$1 == "LEDGER" && $2 == "status" && $3 >= 200 && $3 < 300 {s += $4} END {print s + 0}' "$f")
  printf -v "${p}_REQ" %s "$req"
  printf -v "${p}_US" %s "$us"
  printf -v "${p}_NON2XX" %s $((req - ok))
  printf -v "${p}_TPS" %s "$(awk -v n="$ok" -v us="$us" 'BEGIN {printf "%.1f", n / (us / 1e6)}')"
  printf -v "${p}_P50" %s "$(ms "$(wrk_val "$f" p50_us)")"
  printf -v "${p}_P90" %s "$(ms "$(wrk_val "$f" p90_us)")"
  printf -v "${p}_P99" %s "$(ms "$(wrk_val "$f" p99_us)")"
  printf -v "${p}_MEAN" %s "$(ms "$(wrk_val "$f" mean_us)")"
  printf -v "${p}_MAX" %s "$(ms "$(wrk_val "$f" max_us)")"
  printf -v "${p}_ERR" %s "$(awk '$1 == "LEDGER" && $2 == "errors" {$1 = $2 = ""; sub(/^ +/, ""); print}' "$f")"
  printf -v "${p}_STATUSES" %s "$(awk '$1 == "LEDGER" && $2 == "status" {printf "%s%s × %s", sep, $4, $3; sep = ", "}' "$f")"
  printf -v "${p}_SOCKET_ERR" %s "$(awk '$1 == "LEDGER" && $2 == "errors" {n = 0; for (i = 3; i <= NF; i++) if ($i !~ /^status/) {split($i, kv, "="); n += kv[2]} print n}' "$f")"
}
wrk_numbers "$WORK/wrk-after.txt" W
wrk_numbers "$WORK/wrk1-after.txt" W1
if [[ -n "$BEFORE_JAR" ]]; then
  wrk_numbers "$WORK/wrk-before.txt" B
  wrk_numbers "$WORK/wrk1-before.txt" B1
fi

# FILE DIR PREFIX: sets PREFIX_TPS, _TX, _FAILED, _ABORTED, _P50, _P90, _P99, _MEAN, _MAX, _LOGGED of a pgbench run.
pgbench_numbers() {
  local f=$1 lat="$2.sorted" p=$3
  cat "$2"/tx.* | awk '{print $3}' | sort -n >"$lat"
  pct() { awk -v p="$1" '{v[NR] = $1} END {i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.1f", v[i] / 1000}' "$lat"; }
  printf -v "${p}_TPS" %s "$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$f" | head -n 1 | awk '{printf "%.1f", $1}')"
  printf -v "${p}_TX" %s "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$f")"
  printf -v "${p}_FAILED" %s "$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$f")"
  printf -v "${p}_ABORTED" %s "$(grep -c 'client [0-9]* aborted' "$f" || true)"
  printf -v "${p}_P50" %s "$(pct 50)"
  printf -v "${p}_P90" %s "$(pct 90)"
  printf -v "${p}_P99" %s "$(pct 99)"
  printf -v "${p}_MEAN" %s "$(awk '{s += $1} END {printf "%.1f", s / NR / 1000}' "$lat")"
  printf -v "${p}_MAX" %s "$(tail -n 1 "$lat" | awk '{printf "%.1f", $1 / 1000}')"
  printf -v "${p}_LOGGED" %s "$(wc -l <"$lat")"
}
pgbench_numbers "$WORK/pgbench.txt" "$WORK/pglog" P
pgbench_numbers "$WORK/pgbench1.txt" "$WORK/pglog1" P1

# wrk 4 corrects its latency histogram for coordinated omission before it reports (stats_correct in
# its src/stats.c): a closed-loop connection that waited on a slow answer did not send the requests
# it would have sent meanwhile, so for every sample above twice the expected interval between one
# connection's requests (the run's time ÷ its requests per connection) wrk adds the missing ones, one
# interval apart. One 170 ms stall at 1 connection (1.6 ms apart) so becomes about a hundred samples,
# enough for a p99. pgbench reports its log as it is; corrected the same way here, so that the two
# sides' percentiles compare like with like.
# SORTED_US CONNECTIONS SECONDS PREFIX: sets PREFIX_CP50, _CP90, _CP99, _CMEAN (ms).
corrected_numbers() {
  local out
  out=$(awk -v c="$2" -v rt="$(( $3 * 1000000 ))" '
      {h[$1]++; n++}
      END {
        per = int(n / c); iv = per > 0 ? int(rt / per) : 0
        if (iv > 0) for (v in h) if (v + 0 >= 2 * iv) for (m = v - iv; m > iv; m -= iv) extra[m] += h[v]
        for (v in extra) h[v] += extra[v]
        for (v in h) print v, h[v]
      }' "$1" | sort -n | awk '
      {v[NR] = $1; k[NR] = $2; n += $2; s += $1 * $2}
      END {
        split("50 90 99", ps, " ")
        for (j = 1; j <= 3; j++) {
          rank = int(ps[j] / 100 * n + 0.5 + 0.5); t = 0
          for (i = 1; i <= NR; i++) { t += k[i]; if (t >= rank) break }
          printf "%.1f ", v[i] / 1000
        }
        printf "%.1f\n", s / n / 1000
      }')
  read -r "${4}_CP50" "${4}_CP90" "${4}_CP99" "${4}_CMEAN" <<<"$out"
}
corrected_numbers "$WORK/pglog.sorted" "$CONNECTIONS" "$RUN_SECONDS" P
corrected_numbers "$WORK/pglog1.sorted" 1 "$ONE_SECONDS" P1
[[ -n "$P_TPS" && "$P_LOGGED" -gt 0 && -n "$P1_TPS" ]] || { say "could not read pgbench's results:"; cat "$WORK/pgbench.txt" >&2; exit 1; }

EXACT_RATIO=$(awk -v a="$W_TPS" -v b="$P_TPS" 'BEGIN {print a / b}')   # the goal is judged on this, unrounded
RATIO=$(awk -v r="$EXACT_RATIO" 'BEGIN {printf "%.2f", r}')
VERDICT=$(awk -v r="$EXACT_RATIO" -v p="$W_P99" -v tr="$TARGET_RATIO" -v tp="$TARGET_P99_MS" 'BEGIN {
  ok_r = r >= tr; ok_p = p < tp
  printf "%s: ratio %.2f %s %.1f, Pulse p99 %.1f ms %s %d ms", (ok_r && ok_p) ? "**MET**" : "**NOT MET**",
    r, ok_r ? "≥" : "<", tr, p, ok_p ? "<" : "≥", tp }')

# Batch sizes: mean moves per commit over a window (from the counters), and the recent quantiles.
batch_mean() {  # START END
  read -r c0 s0 <"$WORK/batch-$1"; read -r c1 s1 <"$WORK/batch-$2"
  awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) 'BEGIN {if (c > 0) printf "%.1f moves per commit (%d commits)", s / c, c; else printf "no batches"}'
}
BATCH_64=$(batch_mean after-start after-end)
BATCH_1=$(batch_mean after-one-start after-one-end)
read -r BQ50 BQ90 BQ99 BQMAX <"$WORK/batch-after-quantiles"

# CPU per window: cores used by each (ticks / HZ / seconds), and CPU ms per transfer.
cpu_row() {  # NAME START END SECONDS TRANSFERS LOADGEN_TICKS
  read -r j0 g0 r0 b0 i0 w0 <"$WORK/cpu-$2"
  read -r j1 g1 r1 b1 i1 w1 <"$WORK/cpu-$3"
  awk -v name="$1" -v hz="$HZ" -v s="$4" -v n="$5" -v lg="$6" -v j=$((j1 - j0)) -v g=$((g1 - g0)) \
      -v r=$((r1 - r0)) -v b=$((b1 - b0)) -v i=$((i1 - i0)) -v w=$((w1 - w0)) 'BEGIN {
    other = b - j - g - r - lg; if (other < 0) other = 0
    c = hz * s
    printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f (iowait %.2f) | %.2f | %.2f | %.2f | %.2f |\n", name,
      j / c, g / c, r / c, lg / c, other / c, i / c, w / c, b / c,
      j * 1000 / hz / n, (j + g + r) * 1000 / hz / n, b * 1000 / hz / n }'
}
secs() { awk -v us="$1" 'BEGIN {printf "%.2f", us / 1e6}'; }
CPU_PULSE=$(cpu_row "Pulse (wrk)" after-start after-end "$(secs "$W_US")" "$W_REQ" "$(cat "$WORK/wrk-after.txt.ticks")")
CPU_BEFORE=""
[[ -z "$BEFORE_JAR" ]] || CPU_BEFORE=$(cpu_row "Pulse before group commit (wrk)" before-start before-end "$(secs "$B_US")" "$B_REQ" \
  "$(cat "$WORK/wrk-before.txt.ticks")")
CPU_PGBENCH=$(cpu_row "pgbench" pgbench-start pgbench-end "$RUN_SECONDS" "$P_TX" "$(cat "$WORK/pgbench.txt.ticks")")

node_log_unexpected 'JWT_SECRET is not set' ' - not ready: \['   # sets unexpected
PROMISE_LINES=$(grep -c 'Promise already completed' "$NODE_DIR/node.log" || true)
BEFORE_PROMISE_LINES=$(grep -c 'Promise already completed' "$WORK/before/node.log" 2>/dev/null || true)

# ---------------------------------------------------------------- report
before_row() {  # the before-build's row of a table, or nothing
  [[ -n "$BEFORE_JAR" ]] || return 0
  echo "$1"
}
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Ledger transfers: Pulse over HTTP vs pgbench, one transfer per transaction"
  echo
  echo "$DATE, \`bench/ledger.sh\`: $ACCOUNTS funded accounts, random (from, to) pair and amount 1..1000"
  echo "per transfer; every side $CONNECTIONS connections on $THREADS threads, closed loop, a warm-up then"
  echo "${RUN_SECONDS} s measured, then 1 connection for ${ONE_SECONDS} s; one after the other (a CHECKPOINT before"
  echo "each measured run). \"Before group commit\" is the jar of \`$BEFORE_REF\`, on a node of its own."
  echo "Warm-ups: pgbench ${WARMUP} s; each Pulse node in ${WARMUP} s rounds until its JIT compiler used under 0.1 core"
  echo "in a round (at most ${WARMUP_MAX} s): this build ${WARMED_after}$(before_row "; before group commit ${WARMED_before:-}")."
  echo "See [bench/LEDGER.md](../LEDGER.md) for how to read this."
  echo
  echo "## $CONNECTIONS connections"
  echo
  echo "| side | transfers/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | failed |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "| Pulse: POST /api/v1/transactions/transfer (wrk) | $W_TPS | $W_MEAN | $W_P50 | $W_P90 | $W_P99 | $W_MAX | $W_NON2XX non-2xx, $W_SOCKET_ERR socket errors |"
  before_row "| Pulse before group commit ($BEFORE_REF) | ${B_TPS:-} | ${B_MEAN:-} | ${B_P50:-} | ${B_P90:-} | ${B_P99:-} | ${B_MAX:-} | ${B_NON2XX:-} non-2xx, ${B_SOCKET_ERR:-} socket errors |"
  echo "| pgbench: one transfer per transaction, \`-M prepared\` | $P_TPS | $P_MEAN | $P_P50 | $P_P90 | $P_P99 | $P_MAX | ${P_FAILED:-0} failed, $P_ABORTED clients aborted |"
  echo "| pgbench, its latencies corrected as wrk corrects Pulse's (see below) | | $P_CMEAN | $P_CP50 | $P_CP90 | $P_CP99 | | |"
  echo "| **ratio Pulse / pgbench** | **$RATIO** | | | | | | |"
  before_row "| ratio Pulse before / pgbench | $(awk -v a="${B_TPS:-0}" -v b="$P_TPS" 'BEGIN {printf "%.2f", a / b}') | | | | | | |"
  echo
  echo "Target (Pulse ≥ $TARGET_RATIO × pgbench, Pulse p99 < $TARGET_P99_MS ms): $VERDICT."
  echo
  echo "Group commit under this load: $BATCH_64; recent quantiles p50 $BQ50, p90 $BQ90, p99 $BQ99, max $BQMAX."
  echo
  echo "## 1 connection"
  echo
  echo "| side | transfers/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | failed |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "| Pulse (wrk) | $W1_TPS | $W1_MEAN | **$W1_P50** | $W1_P90 | $W1_P99 | $W1_MAX | $W1_NON2XX non-2xx |"
  before_row "| Pulse before group commit ($BEFORE_REF) | ${B1_TPS:-} | ${B1_MEAN:-} | **${B1_P50:-}** | ${B1_P90:-} | ${B1_P99:-} | ${B1_MAX:-} | ${B1_NON2XX:-} non-2xx |"
  echo "| pgbench | $P1_TPS | $P1_MEAN | $P1_P50 | $P1_P90 | $P1_P99 | $P1_MAX | ${P1_FAILED:-0} failed |"
  echo "| pgbench, corrected as wrk corrects Pulse's | | $P1_CMEAN | $P1_CP50 | $P1_CP90 | $P1_CP99 | | |"
  echo
  echo "Group commit at 1 connection: $BATCH_1 (a lone move is written at once, no timer)."
  [[ -z "$BEFORE_NOTE" ]] || { echo; echo "**$BEFORE_NOTE.**"; }
  echo
  echo "Pulse counts only 2xx answers per second (statuses: ${W_STATUSES:-none}; wrk errors: $W_ERR);"
  echo "latencies are wrk's own histogram, which wrk corrects for coordinated omission before it reports: for an"
  echo "answer slower than twice a connection's mean interval between requests, it adds the requests the"
  echo "connection did not send while it waited, one interval apart (one 170 ms stall at 1 connection becomes about"
  echo "a hundred samples). pgbench's transfers/s is its \`tps\` (without connection time); its percentiles come from"
  echo "its per-transaction log ($P_LOGGED transactions), as logged and, in the \"corrected\" rows, corrected the same way."
  echo "pgbench ran bench/ledger/transfer.sql: one transfer per transaction, the statements Pulse ran before group commit."
  echo "\`Promise already completed\` lines in the node's log: $PROMISE_LINES (before group commit: ${BEFORE_PROMISE_LINES:-not run})."
  echo
  echo "## Where the CPU went"
  echo
  echo "Cores used during each measured $CONNECTIONS-connection run (of $CORES), from /proc: the node's JVM, PostgreSQL"
  echo "(postmaster, every backend, background processes), Redis, the load generator itself, anything else; and CPU"
  echo "milliseconds per transfer: the JVM's, the server side's (java + postgres + redis) and everything's."
  echo
  echo "| run | java | postgres | redis | load generator | other | idle | busy | java CPU ms/transfer | server CPU ms/transfer | all CPU ms/transfer |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "$CPU_PULSE"
  before_row "$CPU_BEFORE"
  echo "$CPU_PGBENCH"
  echo
  awk -F'|' '{n = $2; gsub(/^ +| +$/, "", n); if ($7 + 0 > 0.15) {busy = busy sprintf("%s %s: %.2f cores", sep, n, $7); sep = ";"}}
    END {if (busy != "") printf "**Something else was using the CPU during the measurement (\"other\":%s); the numbers are disturbed, see top below.**\n\n", busy}' \
    <<<"$CPU_PULSE
$CPU_BEFORE
$CPU_PGBENCH"
  for which in this before; do
    if [[ $which == this ]]; then log=$unexpected; node="This build's node"; else log=$BEFORE_LOG; node="The node of $BEFORE_REF (before group commit)"; fi
    if [[ -n "$log" ]]; then
      echo "**$node logged $(wc -l <<<"$log") unexpected line(s)** (its log kept in bench/results/ledger-node.log, unless this build's node logged some too), the first:"
      echo
      echo '```'
      grep -m 3 -v '^[[:space:]]' <<<"$log" | cut -c1-300
      echo '```'
      echo
    fi
  done
  for side in after before pgbench; do
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
  echo "Node: DB_POOL_SIZE=32, rate limits lifted, LOG_LEVEL=WARN. Accounts prepared in ${SETUP_SECONDS_after} s"
  echo "(before group commit: ${SETUP_SECONDS_before:-not run} s). Server, database and load generator share the same cores, on every side."
} >"$RESULTS"

echo >&2
cat "$RESULTS"
