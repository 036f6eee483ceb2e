#!/usr/bin/env bash
# Pulse's task platform against BullMQ, in the same run, on the same machine and the same Redis
# server. See bench/TASKS.md.
#
#   bench/tasks.sh
#
# Starts a throw-away node (embedded PostgreSQL 17 and Redis, everything on 127.0.0.1, data in a
# temp dir deleted afterwards; TASK_NODE_CONCURRENCY=256). Pulse side (bench/TasksBench.java):
# no-op tasks into the queue "bench", never paused, so the dispatcher runs them while they arrive,
# submitted in batches of 100 (POST /api/v1/tasks/batch): full load, N submitted over HTTP as fast
# as the API allows (8 batch requests in flight) until all N are 'succeeded' in PostgreSQL; half
# load, 10 s of submits open loop at half that throughput (every 5 ms the tasks that came due, as one
# batch); then 10,000 single submits (one POST /api/v1/tasks per task, 64 in flight) at full load,
# after rounds of 10,000 that warm that endpoint up until the JIT compiler used under 0.1 core in one.
# Throughput is N / (first submit -> last finished_at); enqueue-to-start per task is started_at -
# created_at from the tasks table. BullMQ side (bench/bullmq/bench.mjs), against the node's own
# Redis (keys "bull:*", Pulse's are "tasks:*"): the same with queue.add (64 in flight) and a Worker
# in its own process, concurrency 16, no-op processor, until all N completed; enqueue-to-start per
# job is processedOn - timestamp; then, as an extra row, full load with worker concurrency 64; then
# full load with queue.addBulk in chunks of 100 (8 calls in flight), worker concurrency 16. Each
# side and each new worker has a warm-up (150,000 jobs; where a half-load phase follows, its last fifth paced
# at half the throughput of the rest) first; Pulse's is followed by VACUUM and CHECKPOINT. Writes bench/results/tasks.md. About 2 minutes
# (plus npm install the first time). Installs postgresql-client (psql) and curl with apt-get, and
# BullMQ with npm, when missing. Knobs (the results are then not comparable): TASKS_N,
# TASKS_HALF_SECONDS, TASKS_HALF_N, TASKS_WARMUP, TASKS_HALF_TICK_MS, TASKS_BATCH, TASKS_BATCH_CONCURRENCY, TASKS_CONCURRENCY,
# TASKS_NODE_CONCURRENCY, TASKS_SINGLE_N, TASKS_SINGLE_WARMUP, TASKS_WORKER_CONCURRENCY, TASKS_EXTRA_CONCURRENCY,
# TASKS_PULSE_HALF_RATE, TASKS_BULLMQ_HALF_RATE.
set -euo pipefail

N=${TASKS_N:-20000}                      # jobs per full-load phase, each side
HALF_SECONDS=${TASKS_HALF_SECONDS:-10}   # a half-load phase submits for this long: rate x this many jobs
HALF_N=${TASKS_HALF_N:-1000000}          # at most this many jobs per half-load phase
WARMUP=${TASKS_WARMUP:-150000}           # jobs through each side before measuring (not counted): 4/5 closed loop, 1/5 paced
BATCH=${TASKS_BATCH:-100}                # Pulse: tasks per POST /api/v1/tasks/batch (1: one POST /api/v1/tasks each); BullMQ: jobs per addBulk
BATCH_CONCURRENCY=${TASKS_BATCH_CONCURRENCY:-8}  # batch requests / addBulk calls in flight at full load
CONCURRENCY=${TASKS_CONCURRENCY:-64}     # single submits / queue.add calls in flight at full load
NODE_CONCURRENCY=${TASKS_NODE_CONCURRENCY:-256}  # Pulse's TASK_NODE_CONCURRENCY: tasks the node runs at once
SINGLE_N=${TASKS_SINGLE_N:-10000}        # Pulse's single-submit row (one POST per task), after the batched phases (0: none)
SINGLE_WARMUP=${TASKS_SINGLE_WARMUP:-10000}  # single submits per round of that row's own warm-up (not counted): rounds until the JIT settles
WORKER_CONCURRENCY=${TASKS_WORKER_CONCURRENCY:-16}  # BullMQ Worker concurrency (the issue's 16)
EXTRA_CONCURRENCY=${TASKS_EXTRA_CONCURRENCY:-64}    # BullMQ extra full-load row with this concurrency (0: none)
PULSE_HALF_RATE=${TASKS_PULSE_HALF_RATE:-0}        # diagnostic: pace Pulse's "half" phase at this rate instead (0: half its full load)
BULLMQ_HALF_RATE=${TASKS_BULLMQ_HALF_RATE:-0}      # the same for BullMQ
HALF_TICK_MS=${TASKS_HALF_TICK_MS:-5}     # Pulse's batched half load: every this many ms, the tasks that came due go as one request
PHASE_TIMEOUT=60                         # seconds to wait for a phase's last jobs after its last submit
if (( BATCH > 1 )); then
  PULSE_CONCURRENCY=$BATCH_CONCURRENCY   # Pulse's batched phases: requests in flight at full load
  PULSE_HOW="in batches of $BATCH over HTTP, $BATCH_CONCURRENCY requests in flight"
else
  PULSE_CONCURRENCY=$CONCURRENCY         # no batches: the main rows are single submits already
  PULSE_HOW="over HTTP, one POST per task, $CONCURRENCY in flight"
  SINGLE_N=0
fi

BENCH_NAME=tasks
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ROOT, JAR, JAVA, say, the node's start and cleanup
BULLMQ_DIR="$ROOT/bench/bullmq"
RESULTS="$ROOT/bench/results/tasks.md"

# ---------------------------------------------------------------- tools
command -v node >/dev/null && command -v npm >/dev/null || { say "node and npm are needed (Node 20+)"; exit 1; }
need=()
command -v psql >/dev/null || need+=(postgresql-client)
command -v curl >/dev/null || need+=(curl)
apt_install ${need[@]+"${need[@]}"}
if [[ ! -f "$BULLMQ_DIR/node_modules/bullmq/package.json" ]]; then
  say "installing BullMQ (bench/bullmq/package.json) with npm"
  (cd "$BULLMQ_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

ensure_jar

# Which code is measured: the jar as it is (rebuild it after changing src/), and the commit.
JAR_BUILT=$(date -u -r "$JAR" '+%Y-%m-%d %H:%M UTC')
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$ROOT" status --porcelain -- src pom.xml 2>/dev/null)" ]]; then COMMIT="$COMMIT (src/ has uncommitted changes)"; fi
if [[ -n "$(find "$ROOT/src/main" "$ROOT/pom.xml" -newer "$JAR" -type f 2>/dev/null | head -n 1)" ]]; then
  JAR_NOTE="**older than some of src/main: it may not be the code of this commit** (mvn -q -B -o -DskipTests package)"
  say "warning: target/pulse.jar is older than some of src/main; measuring it as it is"
else
  JAR_NOTE="newer than src/main"
fi

bench_workdir   # WORK, and the EXIT trap that stops the children (CHILD_PIDS: the two bench clients), the node, and deletes WORK
private_jar
pick_ports

# ---------------------------------------------------------------- the node
LOAD=$(load_average)

start_node RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_USER_PER_MINUTE=100000000 \
  LOG_LEVEL=WARN LOG_FORMAT=text DB_POOL_SIZE=32 \
  ADMIN_USERNAME=bench ADMIN_PASSWORD=bench-password-1 \
  TASK_NODE_CONCURRENCY="$NODE_CONCURRENCY"
wait_ready 60

PG_PID=$(head -n 1 "$WORK/data/postgres/postmaster.pid" 2>/dev/null || echo 0)
REDIS_PID=$(cat "$WORK/data/redis/redis.pid" 2>/dev/null || echo 0)
# The node's JVM alone (its children are the servers, counted apart); PostgreSQL and Redis with
# their children (backends, checkpointer, a BGSAVE fork, ...), live and reaped.
PIDS="pulse=$NODE_PID:self,postgres=$PG_PID:tree,redis=$REDIS_PID:tree"
HZ=$(getconf CLK_TCK)

machine_facts   # CORES, JAVA_VERSION, CPU_MODEL, DATE
NODE_VERSION=$(node --version)
BULLMQ_VERSION=$(node -p 'require(process.argv[1]).version' "$BULLMQ_DIR/node_modules/bullmq/package.json")
IOREDIS_VERSION=$(node -p 'require(process.argv[1]).version' "$BULLMQ_DIR/node_modules/ioredis/package.json")
PG_VERSION=$(psql_q "SHOW server_version" | cut -d' ' -f1)
PG_SETTINGS=$(psql_q "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')")

# ---------------------------------------------------------------- Pulse
say "Pulse: $WARMUP warm-up tasks; full load: $N tasks $PULSE_HOW while the dispatcher runs them; half load: paced at half that$( (( SINGLE_N > 0 )) && echo "; then single submits, rounds of $SINGLE_WARMUP to warm up and $SINGLE_N measured ($CONCURRENCY in flight)")"
pulse_status=0
run_child timeout 900 "$JAVA" "$ROOT/bench/TasksBench.java" --url "$URL" --pg "$PG_URL" \
  --out "$WORK/pulse.properties" --n "$N" --half-n "$HALF_N" --warmup "$WARMUP" \
  --batch "$BATCH" --concurrency "$PULSE_CONCURRENCY" --single-n "$SINGLE_N" --single-concurrency "$CONCURRENCY" \
  --single-warmup "$SINGLE_WARMUP" \
  --half-max-seconds "$HALF_SECONDS" --half-rate "$PULSE_HALF_RATE" --half-tick-ms "$HALF_TICK_MS" \
  --pids "$PIDS" --clk-tck "$HZ" --timeout "$PHASE_TIMEOUT" --probe-dir "$WORK/data" || pulse_status=$?
if [[ $pulse_status -ne 0 && $pulse_status -ne 3 ]]; then
  say "the Pulse side failed (exit $pulse_status); the node's log:"
  tail -n 40 "$WORK/node.log" >&2
  exit "$pulse_status"
fi
# Group commit of single submits (only they record it): how many shared each INSERT.
GROUP_COUNT=$(curl -fsS "$URL/metrics" | awk '$1 == "pulse_tasks_submit_group_count" {print $2}' || true)
GROUP_SUM=$(curl -fsS "$URL/metrics" | awk '$1 == "pulse_tasks_submit_group_sum" {print $2}' || true)
GROUP_QUANTILES=$(curl -fsS "$URL/metrics" | awk '/^pulse_tasks_submit_group\{/ && match($0, /quantile="[^"]*"/) {
  printf "%sp%g %s", sep, substr($0, RSTART + 10, RLENGTH - 11) * 100, $NF; sep = ", " }' || true)

# ---------------------------------------------------------------- BullMQ
say "BullMQ $BULLMQ_VERSION: Worker concurrency $WORKER_CONCURRENCY$( (( EXTRA_CONCURRENCY > 0 )) && echo " (and $EXTRA_CONCURRENCY apart)"): $WARMUP warm-up jobs; full load: $N × queue.add ($CONCURRENCY in flight) while it runs them; half load$( (( BATCH > 1 )) && echo "; then full load with queue.addBulk in chunks of $BATCH ($BATCH_CONCURRENCY in flight)")"
bull_status=0
run_child timeout 900 node "$BULLMQ_DIR/bench.mjs" --port "$REDIS_PORT" \
  --out "$WORK/bullmq.json" --n "$N" --half-n "$HALF_N" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
  --worker-concurrency "$WORKER_CONCURRENCY" --extra-concurrency "$EXTRA_CONCURRENCY" \
  --batch "$BATCH" --batch-concurrency "$BATCH_CONCURRENCY" \
  --half-max-seconds "$HALF_SECONDS" --half-rate "$BULLMQ_HALF_RATE" \
  --pids "$PIDS" --clk-tck "$HZ" --timeout "$PHASE_TIMEOUT" || bull_status=$?
if [[ $bull_status -ne 0 && $bull_status -ne 3 ]]; then
  say "the BullMQ side failed (exit $bull_status)"
  exit "$bull_status"
fi
REDIS_VERSION=$(node -p 'require(process.argv[1]).redis_version' "$WORK/bullmq.json")

# ---------------------------------------------------------------- numbers
p() { sed -n "s/^$1=//p" "$WORK/pulse.properties"; }
b() { node -p "const r = require(process.argv[1]); const v = $1; v === null || v === undefined ? '' : v" "$WORK/bullmq.json"; }
f0() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }
f1() { awk -v v="$1" 'BEGIN {printf "%.1f", v}'; }
f2() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
HAS_EXTRA=$(b "r.extra_full ? 1 : 0")
HAS_BULK=$(b "r.bulk_full ? 1 : 0")
HAS_SINGLE=$([[ -n "$(p single.n)" ]] && echo 1 || echo 0)

# The ratio and the goal: Pulse's main full-load row (batched when BATCH > 1) against BullMQ's
# queue.add with the issue's concurrency 16; also the single-submit row against it, and the main
# row against BullMQ's addBulk.
P_FULL=$(p full.jobs_per_s); B_FULL=$(b r.full.jobs_per_s)
RATIO=$(ratio "$P_FULL" "$B_FULL")
if (( HAS_SINGLE )); then RATIO_SINGLE=$(ratio "$(p single.jobs_per_s)" "$B_FULL"); fi
if (( HAS_BULK )); then RATIO_BULK=$(ratio "$P_FULL" "$(b r.bulk_full.jobs_per_s)"); fi
P_HALF_P99=$(p half.e2s.p99_ms)
GOAL_RATIO=$(awk -v a="$P_FULL" -v b="$B_FULL" 'BEGIN {print (b > 0 && a / b >= 1.0) ? "**met**" : "**not met**"}')   # unrounded
GOAL_P99=$(awk -v v="$P_HALF_P99" 'BEGIN {print (v + 0 < 10) ? "**met**" : "**not met**"}')
# The share of the half-load phase's tasks submitted while the disk probe's fdatasync stalled (over
# 20 ms), or in the 10 ms before: their INSERTs' commits waited on the same disk. From 1 % up,
# such tasks alone set the p99.
STALLED_SHARE=$(awk -v d="$(p half.disk.tasks_during_stalls)" -v n="$(p half.e2s.count)" 'BEGIN {if (n > 0) printf "%.1f", 100 * d / n; else print 0}')
GOAL_P99_NOTE=""
if [[ $GOAL_P99 == "**not met**" ]] && awk -v s="$STALLED_SHARE" 'BEGIN {exit !(s >= 1)}'; then
  GOAL_P99_NOTE="; $STALLED_SHARE % of the phase's tasks were submitted during a disk stall, see below"
fi
if [[ $PULSE_HALF_RATE != 0 ]]; then GOAL_P99="**not judged** (TASKS_PULSE_HALF_RATE set: not half load)"; fi
if (( BATCH > 1 )); then PULSE_NAME="Pulse (batches of $BATCH)"; else PULSE_NAME="Pulse"; fi

# One row of the main table: side, load, then the values of that phase.
# ARGS: side, load text, jobs/s, p50, p99.
main_row() { echo "| $1 | $2 | **$(f0 "$3")** | $(f2 "$4") | $(f2 "$5") |"; }
# Pulse's phase figures by prefix (full, half, single), BullMQ's by key (full, half, extra_full, bulk_full).
pulse_main() {
  local load
  if [[ $1 == single ]]; then
    load="single submits (one POST per task, $(p single.concurrency) in flight), full load: $(p single.n) tasks"
  elif [[ $1 == full && $(p full.batch) -gt 1 ]]; then
    load="full: $(p full.n) tasks in batches of $(p full.batch) over HTTP, $(p full.concurrency) requests in flight (closed loop)"
  elif [[ $1 == full ]]; then
    load="full: $(p full.n) tasks, $(p full.concurrency) submits in flight (closed loop)"
  elif [[ $(p half.batch) -gt 1 ]]; then
    load="half: $(p half.n) tasks paced at $(f0 "$(p half.target_rate)")/s (achieved $(f0 "$(p half.submit.achieved_rate)")/s), every ~$HALF_TICK_MS ms the tasks due as one batch ($(f1 "$(p half.submit.tasks_per_request)") per request)"
  else
    load="half: $(p half.n) tasks paced at $(f0 "$(p half.target_rate)")/s (achieved $(f0 "$(p half.submit.achieved_rate)")/s)"
  fi
  main_row "Pulse" "$load" "$(p "$1.jobs_per_s")" "$(p "$1.e2s.p50_ms")" "$(p "$1.e2s.p99_ms")"
}
bull_main() {
  local load
  if [[ $(b "r.$1.batch") -gt 1 ]]; then
    load="full: $(b "r.$1.n") jobs, queue.addBulk in chunks of $(b "r.$1.batch"), $(b "r.$1.add.max_in_flight") calls in flight (closed loop)"
  elif [[ $(b "r.$1.target_rate") == 0 ]]; then
    load="full: $(b "r.$1.n") jobs, $CONCURRENCY adds in flight (closed loop)"
  else
    load="half: $(b "r.$1.n") jobs paced at $(f0 "$(b "r.$1.target_rate")")/s (achieved $(f0 "$(b "r.$1.add.achieved_rate")")/s)"
  fi
  main_row "BullMQ, Worker concurrency $(b "r.$1.worker_concurrency")$2" "$load" "$(b "r.$1.jobs_per_s")" "$(b "r.$1.e2s.p50_ms")" "$(b "r.$1.e2s.p99_ms")"
}
# Detail row: phase; submit/add window, jobs/s and requests (calls)/s; jobs per request; request p50/p99;
# schedule lag and most in flight; e2s p90/max; done and errors.
pulse_detail() {
  echo "| Pulse $2 | $(f2 "$(p "$1.submit.seconds")") s, $(f0 "$(p "$1.submit.jobs_per_s")")/s, $(f0 "$(p "$1.submit.requests_per_s")") req/s | $(f1 "$(p "$1.submit.tasks_per_request")") (up to $(p "$1.batch")) | $(f2 "$(p "$1.submit.p50_ms")") / $(f2 "$(p "$1.submit.p99_ms")") | $(f1 "$(p "$1.max_lag_ms")") / $(p "$1.max_in_flight") | $(f2 "$(p "$1.e2s.p90_ms")") / $(f2 "$(p "$1.e2s.max_ms")") | $(p "$1.succeeded") of $(p "$1.n"); $(p "$1.not_succeeded") not; $(p "$1.retried") retried | $(p "$1.submit.errors") |"
}
bull_detail() {
  echo "| BullMQ c$(b "r.$1.worker_concurrency") $2 | $(f2 "$(b "r.$1.add.seconds")") s, $(f0 "$(b "r.$1.add.jobs_per_s")")/s, $(f0 "$(b "r.$1.add.calls_per_s")") calls/s | $(f1 "$(b "r.$1.n / r.$1.add.calls")") (up to $(b "r.$1.batch")) | $(f2 "$(b "r.$1.add.p50_ms")") / $(f2 "$(b "r.$1.add.p99_ms")") | $(f1 "$(b "r.$1.add.max_lag_ms")") / $(b "r.$1.add.max_in_flight") | $(f2 "$(b "r.$1.e2s.p90_ms")") / $(f2 "$(b "r.$1.e2s.max_ms")") | $(b "r.$1.completed") of $(b "r.$1.n"); $(b "r.$1.failed") failed | $(b "r.$1.add.errors") |"
}

# Pulse's dispatcher per phase: its statements, and how long a task holds a slot.
pulse_dispatch() {
  awk -v name="Pulse $2" -v n="$(p "$1.n")" -v i="$(p "$1.inserts")" -v c="$(p "$1.claims")" -v w="$(p "$1.success_writes")" \
    -v mean="$(p "$1.run.mean_ms")" -v p50="$(p "$1.run.p50_ms")" -v slots="$NODE_CONCURRENCY" 'BEGIN {
    printf "| %s | %d (%.1f tasks each) | %d (%.1f tasks each) | %d (%.1f tasks each) | %.2f | %.1f / %.1f | %.0f |\n", name,
      i, n / i, c, n / c, w, n / w, (i + c + w) / n, mean, p50, (mean > 0 ? slots * 1000 / mean : 0) }'
}

# CPU per window: cores used by each (CPU s / window s), and CPU ms per job of the servers.
# ARGS: label, then the window's cpu values: window pulse postgres redis client machine, jobs, count client.
cpu_row() {
  awk -v name="$1" -v s="$2" -v j="$3" -v g="$4" -v r="$5" -v c="$6" -v m="$7" -v n="$8" -v cl="$9" 'BEGIN {
    other = m - j - g - r - c; if (other < 0) other = 0
    printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f |\n", name,
      j / s, g / s, r / s, c / s, other / s, m / s, (j + g + r + (cl ? c : 0)) * 1000 / n, m * 1000 / n }'
}
pc() { p "cpu.$1.$2"; }
bc() { b "r.$1.cpu.$2"; }
pulse_cpu() {
  cpu_row "Pulse $2 (client: the HTTP load generator)" "$(pc "$1" window)" "$(pc "$1" pulse)" "$(pc "$1" postgres)" \
    "$(pc "$1" redis)" "$(pc "$1" client)" "$(pc "$1" machine)" "$(p "$1.n")" 0
}
bull_cpu() {
  cpu_row "BullMQ c$(b "r.$1.worker_concurrency") $2 (client: node producer + node worker)" "$(bc "$1" window)" \
    "$(bc "$1" pulse)" "$(bc "$1" postgres)" "$(bc "$1" redis)" "$(bc "$1" client)" "$(bc "$1" machine)" "$(b "r.$1.n")" 1
}
# Phase labels of the detail, dispatcher and CPU tables.
if (( BATCH > 1 )); then P_FULL_LABEL="full, batches"; P_HALF_LABEL="half, batches"; else P_FULL_LABEL=full; P_HALF_LABEL=half; fi
CPU_ROWS=$(
  pulse_cpu full "$P_FULL_LABEL"
  pulse_cpu half "$P_HALF_LABEL"
  if (( HAS_SINGLE )); then pulse_cpu single "single submits, full"; fi
  bull_cpu full full
  bull_cpu half half
  if (( HAS_EXTRA )); then bull_cpu extra_full full; fi
  if (( HAS_BULK )); then bull_cpu bulk_full "addBulk full"; fi
)
client_split() { awk -v s="$(bc "$1" window)" -v a="$(bc "$1" producer)" -v w="$(bc "$1" worker)" 'BEGIN {printf "%.2f + %.2f", a / s, w / s}'; }
jit() { awk -v a="$(pc "$1" pulse_jit)" -v s="$(pc "$1" window)" 'BEGIN {printf "%.2f", a / s}'; }
JIT="full $(jit full), half $(jit half)"
if (( HAS_SINGLE )); then JIT="$JIT, single submits $(jit single)"; fi
CLIENT_SPLIT="full $(client_split full), half $(client_split half)"
if (( HAS_EXTRA )); then CLIENT_SPLIT="$CLIENT_SPLIT, c$(b r.extra_full.worker_concurrency) full $(client_split extra_full)"; fi
if (( HAS_BULK )); then CLIENT_SPLIT="$CLIENT_SPLIT, addBulk full $(client_split bulk_full)"; fi

ROWS_OK=$(( pulse_status == 0 && bull_status == 0 ))
# Cores used by other processes (not the node, its servers or the bench client) during the busiest window.
OTHER_MAX=$(awk -F'|' '{v = $7 + 0; if (v > m) m = v} END {printf "%.2f", m}' <<<"$CPU_ROWS")
BUSY=$(awk -v o="$OTHER_MAX" 'BEGIN {print (o > 0.25) ? 1 : 0}')

# Expected at WARN: the development-secret warning, and "not ready" while our readiness polls beat the start-up.
node_log_unexpected 'JWT_SECRET is not set' 'v.http.HttpVerticle .* not ready: '   # sets unexpected

# ---------------------------------------------------------------- report
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Task platform: Pulse vs BullMQ"
  echo
  echo "$DATE, \`bench/tasks.sh\`: no-op jobs, submitted while they are being run, until all have"
  echo "succeeded (Pulse: status written in PostgreSQL) / completed (BullMQ); after $WARMUP warm-up jobs per"
  echo "side (not counted); one side after the other, Pulse first, on the same Redis server (Pulse's"
  echo "embedded one). Pulse's node runs $NODE_CONCURRENCY tasks at once (\`TASK_NODE_CONCURRENCY=$NODE_CONCURRENCY\`)."
  if (( BATCH > 1 )); then
    echo "Pulse's main rows submit in batches of $BATCH (\`POST /api/v1/tasks/batch\`), its single-submit row one"
    echo "\`POST /api/v1/tasks\` per task; BullMQ's rows use \`queue.add\`, its addBulk row \`queue.addBulk\` in chunks of $BATCH."
  fi
  echo "See [bench/TASKS.md](../TASKS.md) for how to read this."
  echo
  echo "| side | load | jobs/s | enqueue→start p50 ms | enqueue→start p99 ms |"
  echo "|---|---|---:|---:|---:|"
  pulse_main full
  pulse_main half
  if (( HAS_SINGLE )); then pulse_main single; fi
  bull_main full ""
  bull_main half ""
  if (( HAS_EXTRA )); then bull_main extra_full " (extra)"; fi
  if (( HAS_BULK )); then bull_main bulk_full ", queue.addBulk"; fi
  echo
  echo "- jobs/s: jobs ÷ (first submit → last finish: Pulse's largest \`finished_at\`, BullMQ's last"
  echo "  \`completed\` event). Enqueue→start: Pulse \`started_at − created_at\` from the \`tasks\` table;"
  echo "  BullMQ \`job.processedOn − job.timestamp\` (whole ms). Half load: paced at half the side's own"
  echo "  full-load jobs/s, open loop."
  if [[ $PULSE_HALF_RATE != 0 || $BULLMQ_HALF_RATE != 0 ]]; then
    echo "- **Diagnostic run: TASKS_PULSE_HALF_RATE=$PULSE_HALF_RATE / TASKS_BULLMQ_HALF_RATE=$BULLMQ_HALF_RATE set the"
    echo "  'half' rows' rate (0: half of full load as usual); a set one is not the issue's half load.**"
  fi
  echo "- Pulse's warm-up ended with rounds like the full-load phase until the node's JIT compiler used under 0.1 core in one: $(p warmup.settle)."
  echo "- **$PULSE_NAME / BullMQ (queue.add, Worker concurrency $(b r.full.worker_concurrency)) at full load: $RATIO×.**"
  if (( HAS_SINGLE )); then
    echo "- Pulse single submits / BullMQ (queue.add, Worker concurrency $(b r.full.worker_concurrency)) at full load: $RATIO_SINGLE×."
    if [[ -n "$GROUP_COUNT" && "$GROUP_COUNT" != 0* ]]; then
      echo "- Single submits' own warm-up (rounds until the node's JIT compiler used under 0.1 core in one): $(p single.warmup)."
      echo "- Single submits' group commit: $(awk -v s="$GROUP_SUM" -v c="$GROUP_COUNT" 'BEGIN {printf "%.0f submits in %.0f INSERTs, %.1f per commit", s, c, s / c}')${GROUP_QUANTILES:+ (recent quantiles: $GROUP_QUANTILES)}."
    fi
  fi
  if (( HAS_BULK )); then
    echo "- $PULSE_NAME / BullMQ (queue.addBulk in chunks of $(b r.bulk_full.batch), Worker concurrency $(b r.bulk_full.worker_concurrency)) at full load: $RATIO_BULK×."
  fi
  echo "- Goal Pulse ≥ 1.0× BullMQ (queue.add, concurrency $(b r.full.worker_concurrency)): $GOAL_RATIO ($RATIO×)."
  echo "- Goal Pulse enqueue→start p99 < 10 ms at half load: $GOAL_P99 ($(f2 "$P_HALF_P99") ms$GOAL_P99_NOTE)."
  echo "- The disk under PostgreSQL's data, timed while Pulse's phases submitted (8 KB and an fdatasync every 10 ms, as a"
  echo "  commit flushes the WAL; a stall: over 20 ms):"
  for phase in full half single; do
    [[ -n "$(p "$phase.disk.flushes")" ]] || continue
    echo "  $phase: $(p "$phase.disk.flushes") flushes, p50 $(f2 "$(p "$phase.disk.p50_ms")") / p99 $(f2 "$(p "$phase.disk.p99_ms")") / max $(f1 "$(p "$phase.disk.max_ms")") ms; $(p "$phase.disk.stalls") stall(s), $(p "$phase.disk.tasks_during_stalls") tasks submitted during one or in the 10 ms before."
  done
  echo
  echo "| phase | submits / adds: window, jobs/s, requests (calls)/s | jobs per request (call): mean | request (call) latency p50 / p99 ms | schedule lag max ms / most requests in flight | enqueue→start p90 / max ms | done | errors (jobs) |"
  echo "|---|---:|---:|---:|---:|---:|---|---:|"
  pulse_detail full "$P_FULL_LABEL"
  pulse_detail half "$P_HALF_LABEL"
  if (( HAS_SINGLE )); then pulse_detail single "single submits, full"; fi
  bull_detail full full
  bull_detail half half
  if (( HAS_EXTRA )); then bull_detail extra_full full; fi
  if (( HAS_BULK )); then bull_detail bulk_full "addBulk full"; fi
  echo
  echo "Pulse's submits and dispatcher, from the same rows: one INSERT statement stamps all the tasks it inserts"
  echo "(one single submit, or a whole batch request) with one \`created_at\`, one CLAIM statement all it takes with"
  echo "one \`started_at\`, one SUCCEED batch all it records with one \`finished_at\`; each statement is a commit."
  echo "started→finished is how long a task held one of the node's $NODE_CONCURRENCY slots (at least: the slot is freed"
  echo "after the SUCCEED commit and a Redis release), so $NODE_CONCURRENCY ÷ its mean bounds the rate."
  echo
  echo "| phase | INSERT statements | CLAIM statements | SUCCEED writes | PostgreSQL commits per task | started→finished mean / p50 ms | $NODE_CONCURRENCY slots ÷ mean, tasks/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  pulse_dispatch full "$P_FULL_LABEL"
  pulse_dispatch half "$P_HALF_LABEL"
  if (( HAS_SINGLE )); then pulse_dispatch single "single submits, full"; fi
  echo
  echo "Vacuum ran on \`tasks\` $(p tasks_table.autovacuum_count) time(s) during the run (the bench's own after the warm-up included;"
  echo "$(p tasks_table.rows) rows at the end, warm-up included): until it runs, every task queued since keeps an entry in the partial"
  echo "index \`tasks_waiting\`."
  echo
  if (( ! ROWS_OK )); then
    echo "**WARNING: a side did not end cleanly (errors, a count that does not match, or failed jobs; see the"
    echo "detail table): these numbers are suspect.**"
    echo
  fi
  if (( BUSY )); then
    echo "**WARNING: something else was busy on this machine during the run (up to $OTHER_MAX cores in the"
    echo "*other* column below; load average before the run $LOAD): the numbers are lower and noisier than"
    echo "on a quiet machine. Run it again when nothing else runs.**"
    echo
  fi
  echo "## Where the CPU went"
  echo
  echo "Cores busy during each measured window (first submit → all done; CPU seconds ÷ window seconds;"
  echo "$CORES.00 = every core of this machine), from /proc. *pulse* is the node's JVM alone, *postgres* and"
  echo "*redis* include their child processes, *client* is the bench's own processes (for BullMQ the"
  echo "producer and the worker, cores: $CLIENT_SPLIT), *other* is the rest of the machine (the kernel's"
  echo "network and disk work not charged to a process, psql, the node's watchdog, anything else)."
  echo "The CPU ms per job adds up the servers (pulse, postgres, redis) plus, for BullMQ, node: there the"
  echo "client *is* the queue library doing the work; Pulse's HTTP load generator is left out."
  echo
  echo "| window | pulse | postgres | redis | client | other | machine | server CPU ms/job | machine CPU ms/job |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "$CPU_ROWS"
  echo
  echo "Of the *pulse* column, the JVM's JIT compiler threads (C1/C2) used $JIT cores (above 0.1, the node"
  echo "was still compiling: the warm-up ended at its time limit, see above)."
  echo
  echo "During the BullMQ windows the Pulse node is idle but alive (its Redis is the one BullMQ uses):"
  echo "its pollers' CPU shows in the pulse and postgres columns."
  echo
  if [[ -n "$unexpected" ]]; then
    RECONCILED=$(sed -n 's/.*reconciler put \([0-9]*\) task(s).*/\1/p' <<<"$unexpected" | awk '{s += $1} END {print s + 0}')
    echo "The node logged $(wc -l <<<"$unexpected") warning(s) (kept in bench/results/tasks-node.log), of which"
    echo "$(grep -c 'reconciler put' <<<"$unexpected" || true) from the reconciler, putting back $RECONCILED task id(s) in all; the first line:"
    echo "\`$(head -n 1 <<<"$unexpected" | cut -c1-200)\`."
  else
    echo "The node logged no warning beyond the expected ones."
  fi
  echo
  echo "Machine: nproc $CORES${CPU_MODEL:+, $CPU_MODEL}; load average before the run $LOAD;"
  echo "\`$JAVA_VERSION\`; Node $NODE_VERSION, bullmq $BULLMQ_VERSION, ioredis $IOREDIS_VERSION;"
  echo "PostgreSQL $PG_VERSION ($PG_SETTINGS); Redis $REDIS_VERSION ($(b r.redis_persistence))."
  echo "Clients and servers share the machine. Code: commit $COMMIT; target/pulse.jar built $JAR_BUILT, $JAR_NOTE."
} >"$RESULTS"

echo >&2
cat "$RESULTS"
(( ROWS_OK )) || exit 3
