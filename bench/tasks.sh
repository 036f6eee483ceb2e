#!/usr/bin/env bash
# Pulse's task platform against BullMQ, in the same run, on the same machine and the same Redis
# server. See bench/TASKS.md.
#
#   bench/tasks.sh
#
# Starts a throw-away node (embedded PostgreSQL 17 and Redis, everything on 127.0.0.1, data in a
# temp dir deleted afterwards). Pulse side (bench/TasksBench.java): N noop tasks submitted over
# HTTP into a paused queue, 64 in flight; then the queue is unpaused and timed until all N are
# 'succeeded' in PostgreSQL. BullMQ side (bench/bullmq/bench.mjs), against the node's own Redis
# (keys "bull:*", Pulse's are "tasks:*"): N × queue.add, 64 in flight; then a Worker with
# concurrency 64 and a no-op processor until all N completed; and addBulk apart. Each side has a
# warm-up first. Writes bench/results/tasks.md. About 40 seconds (plus npm install the first time).
# Installs postgresql-client (psql) and curl with apt-get, and BullMQ with npm, when missing.
# Knobs (the results are then not comparable): TASKS_N, TASKS_WARMUP, TASKS_CONCURRENCY, TASKS_BULK.
set -euo pipefail

N=${TASKS_N:-20000}                      # jobs per measured phase, each side
WARMUP=${TASKS_WARMUP:-4000}             # jobs through each side before measuring (not counted)
CONCURRENCY=${TASKS_CONCURRENCY:-64}     # submits/adds in flight, and tasks run at once
BULK=${TASKS_BULK:-1000}                 # jobs per BullMQ addBulk call
PHASE_TIMEOUT=150                        # seconds a processing phase may take before we give up

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$ROOT/target/pulse.jar"
BULLMQ_DIR="$ROOT/bench/bullmq"
RESULTS="$ROOT/bench/results/tasks.md"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
say() { echo "tasks.sh: $*" >&2; }

# ---------------------------------------------------------------- tools
command -v node >/dev/null && command -v npm >/dev/null || { say "node and npm are needed (Node 20+)"; exit 1; }
need=()
command -v psql >/dev/null || need+=(postgresql-client)
command -v curl >/dev/null || need+=(curl)
if (( ${#need[@]} )); then
  say "installing ${need[*]} with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  fi
fi
if [[ ! -f "$BULLMQ_DIR/node_modules/bullmq/package.json" ]]; then
  say "installing BullMQ (bench/bullmq/package.json) with npm"
  (cd "$BULLMQ_DIR" && npm install --no-audit --no-fund --loglevel=error >&2)
fi

if [[ ! -f "$JAR" ]]; then
  say "$JAR is missing; building it"
  (cd "$ROOT" && mvn -q -B -o -DskipTests package)
fi

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pulse-tasks-bench.XXXXXX")
# Run a private copy of the jar: a JVM loads classes from its jar lazily, so a rebuild of
# target/pulse.jar during the run (mvn package in another shell) would break the node mid-run.
cp "$JAR" "$WORK/pulse.jar"
JAR="$WORK/pulse.jar"
rm -f "$ROOT/bench/results/tasks-node.log"   # kept only when the node misbehaved, see cleanup
NODE_PID=""
CHILD_PIDS=()                                  # the two bench clients, while they run

# Always: stop what we started (a bench client still running, then the node: SIGTERM, it stops
# its embedded servers), wait for them, delete the temp dir. A node that does not stop in 20 s
# gets a thread dump (into its log, kept as bench/results/tasks-node.log), then SIGKILL; its
# watchdog then stops PostgreSQL and Redis, and we wait for those before deleting their data.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pid
  for pid in ${CHILD_PIDS[@]+"${CHILD_PIDS[@]}"}; do
    if kill -0 "$pid" 2>/dev/null; then
      pkill -TERM -P "$pid" 2>/dev/null || true   # its children first (timeout's child), by parent id
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$NODE_PID" 2>/dev/null || break
      sleep 0.2
    done
    local servers=""
    if kill -0 "$NODE_PID" 2>/dev/null; then
      say "THE NODE DID NOT STOP within 20 s of SIGTERM; thread dump, then SIGKILL"
      servers="$(head -n 1 "$WORK/data/postgres/postmaster.pid" 2>/dev/null || true) $(cat "$WORK/data/redis/redis.pid" 2>/dev/null || true)"
      kill -QUIT "$NODE_PID" 2>/dev/null || true
      sleep 2
      kill -KILL "$NODE_PID" 2>/dev/null || true
    fi
    local node_exit=0
    wait "$NODE_PID" 2>/dev/null || node_exit=$?
    if [[ $node_exit -ne 0 ]]; then
      mkdir -p "$ROOT/bench/results"
      cp "$WORK/node.log" "$ROOT/bench/results/tasks-node.log" 2>/dev/null || true
      say "the node exited with $node_exit after SIGTERM (expected 0); log kept in bench/results/tasks-node.log"
      [[ $status -ne 0 ]] || status=4
    fi
    for pid in $servers; do
      for _ in $(seq 1 75); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background (so cleanup can stop it) and waits for it; its exit status.
run_child() {
  "$@" &
  local pid=$!
  CHILD_PIDS+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# A port nothing listens on (127.0.0.1), and not one of the ports given as arguments.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM))
    if [[ " $* " != *" $port "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  say "no free port found"
  return 1
}
HTTP_PORT=$(free_port)
PG_PORT=$(free_port "$HTTP_PORT")
REDIS_PORT=$(free_port "$HTTP_PORT" "$PG_PORT")
URL="http://127.0.0.1:$HTTP_PORT"
PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"

# ---------------------------------------------------------------- the node
# The node reads every key of conf/config.json from the environment (and from ./.env): drop any
# the caller has set (DATABASE_URL, REDIS_URL, CLUSTER, ...) and run it in the temp dir, so only ours count.
UNSET=()
if [[ -f "$ROOT/conf/config.json" ]]; then
  for key in $(sed -n 's/^[[:space:]]*"\([A-Z_][A-Z0-9_]*\)"[[:space:]]*:.*/\1/p' "$ROOT/conf/config.json"); do
    UNSET+=(-u "$key")
  done
fi

# Is something else busy here? (1-, 5-, 15-minute load average, before we add ours.)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

say "starting a node on $URL (PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, data in $WORK)"
(
  cd "$WORK"
  exec env ${UNSET[@]+"${UNSET[@]}"} \
    DATA_DIR="$WORK/data" HTTP_HOST=127.0.0.1 HTTP_PORT="$HTTP_PORT" \
    EMBEDDED_PG_PORT="$PG_PORT" EMBEDDED_REDIS_PORT="$REDIS_PORT" \
    RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_USER_PER_MINUTE=100000000 \
    LOG_LEVEL=WARN LOG_FORMAT=text DB_POOL_SIZE=32 \
    ADMIN_USERNAME=bench ADMIN_PASSWORD=bench-password-1 \
    TASK_NODE_CONCURRENCY="$CONCURRENCY" \
    "$JAVA" -jar "$JAR"
) >"$WORK/node.log" 2>&1 &
NODE_PID=$!

ready_by=$((SECONDS + 90))
until curl -s -o /dev/null -f --max-time 2 "$URL/health/ready"; do
  if ! kill -0 "$NODE_PID" 2>/dev/null; then
    say "the node exited before it was ready; its log:"
    tail -n 40 "$WORK/node.log" >&2
    exit 1
  fi
  if (( SECONDS >= ready_by )); then
    say "the node is not ready after 90 s; its log:"
    tail -n 40 "$WORK/node.log" >&2
    exit 1
  fi
  sleep 0.2
done
say "node ready"

PG_PID=$(head -n 1 "$WORK/data/postgres/postmaster.pid" 2>/dev/null || echo 0)
REDIS_PID=$(cat "$WORK/data/redis/redis.pid" 2>/dev/null || echo 0)
# The node's JVM alone (its children are the servers, counted apart); PostgreSQL and Redis with
# their children (backends, checkpointer, a BGSAVE fork, ...), live and reaped.
PIDS="pulse=$NODE_PID:self,postgres=$PG_PID:tree,redis=$REDIS_PID:tree"
HZ=$(getconf CLK_TCK)
psql_q() { psql "$PG_URL" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# Machine facts.
CORES=$(nproc)
JAVA_VERSION=$("$JAVA" -version 2>&1 | head -n 1)
NODE_VERSION=$(node --version)
BULLMQ_VERSION=$(node -p 'require(process.argv[1]).version' "$BULLMQ_DIR/node_modules/bullmq/package.json")
IOREDIS_VERSION=$(node -p 'require(process.argv[1]).version' "$BULLMQ_DIR/node_modules/ioredis/package.json")
CPU_MODEL=$(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
PG_VERSION=$(psql_q "SHOW server_version" | cut -d' ' -f1)
PG_SETTINGS=$(psql_q "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')")

# ---------------------------------------------------------------- Pulse
say "Pulse: $WARMUP warm-up tasks, then $N tasks over HTTP ($CONCURRENCY in flight) into a paused queue, then processing"
pulse_status=0
run_child timeout $((2 * PHASE_TIMEOUT + 120)) "$JAVA" "$ROOT/bench/TasksBench.java" --url "$URL" --pg "$PG_URL" \
  --out "$WORK/pulse.properties" --n "$N" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
  --pids "$PIDS" --clk-tck "$HZ" --timeout "$PHASE_TIMEOUT" || pulse_status=$?
if [[ $pulse_status -ne 0 && $pulse_status -ne 3 ]]; then
  say "the Pulse side failed (exit $pulse_status); the node's log:"
  tail -n 40 "$WORK/node.log" >&2
  exit "$pulse_status"
fi

# ---------------------------------------------------------------- BullMQ
say "BullMQ $BULLMQ_VERSION: $WARMUP warm-up jobs, then $N × queue.add ($CONCURRENCY in flight), a Worker (concurrency $CONCURRENCY), addBulk"
bull_status=0
run_child timeout $((2 * PHASE_TIMEOUT + 120)) node "$BULLMQ_DIR/bench.mjs" --port "$REDIS_PORT" \
  --out "$WORK/bullmq.json" --n "$N" --warmup "$WARMUP" --concurrency "$CONCURRENCY" --bulk "$BULK" \
  --pids "$PIDS" --clk-tck "$HZ" --timeout "$PHASE_TIMEOUT" || bull_status=$?
if [[ $bull_status -ne 0 && $bull_status -ne 3 ]]; then
  say "the BullMQ side failed (exit $bull_status)"
  exit "$bull_status"
fi
REDIS_VERSION=$(node -p 'require(process.argv[1]).redis_version' "$WORK/bullmq.json")

# ---------------------------------------------------------------- numbers
p() { sed -n "s/^$1=//p" "$WORK/pulse.properties"; }
b() { node -p "const r = require(process.argv[1]); const v = $1; v === null || v === undefined ? '' : v" "$WORK/bullmq.json"; }
f1() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }
f2() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

P_ENQ=$(p enqueue.jobs_per_s);   B_ENQ=$(b r.enqueue.jobs_per_s)
P_PROC=$(p process.jobs_per_s);  B_PROC=$(b r.process.jobs_per_s)
P_PROCX=$(p process.exact_jobs_per_s); B_PROCX=$(b r.process.exact_jobs_per_s)
B_BULK=$(b r.add_bulk.jobs_per_s)

# CPU per window: cores used by each (CPU s / window s), and CPU ms per job of the servers.
# ARGS: label, then the window's cpu values: window pulse postgres redis client machine, jobs.
cpu_row() {
  awk -v name="$1" -v s="$2" -v j="$3" -v g="$4" -v r="$5" -v c="$6" -v m="$7" -v n="$8" -v cl="$9" 'BEGIN {
    other = m - j - g - r - c; if (other < 0) other = 0
    printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f |\n", name,
      j / s, g / s, r / s, c / s, other / s, m / s, (j + g + r + (cl ? c : 0)) * 1000 / n, m * 1000 / n }'
}
pc() { p "cpu.$1.$2"; }
bc() { b "r.$1.cpu.$2"; }
CPU_ROWS=$(
  cpu_row "Pulse enqueue (client: the HTTP load generator)" "$(pc enqueue window)" "$(pc enqueue pulse)" \
    "$(pc enqueue postgres)" "$(pc enqueue redis)" "$(pc enqueue client)" "$(pc enqueue machine)" "$N" 0
  cpu_row "BullMQ queue.add (client: node, the BullMQ producer)" "$(bc enqueue window)" "$(bc enqueue pulse)" \
    "$(bc enqueue postgres)" "$(bc enqueue redis)" "$(bc enqueue client)" "$(bc enqueue machine)" "$N" 1
  cpu_row "Pulse processing (client: polling only)" "$(pc process window)" "$(pc process pulse)" \
    "$(pc process postgres)" "$(pc process redis)" "$(pc process client)" "$(pc process machine)" "$N" 0
  cpu_row "BullMQ processing (client: node, the BullMQ Worker)" "$(bc process window)" "$(bc process pulse)" \
    "$(bc process postgres)" "$(bc process redis)" "$(bc process client)" "$(bc process machine)" "$N" 1
  cpu_row "BullMQ addBulk (client: node)" "$(bc add_bulk window)" "$(bc add_bulk pulse)" \
    "$(bc add_bulk postgres)" "$(bc add_bulk redis)" "$(bc add_bulk client)" "$(bc add_bulk machine)" "$N" 1
)

ROWS_OK=$(( pulse_status == 0 && bull_status == 0 ))
# Cores used by other processes (not the node, its servers or the bench client) during the busiest window.
OTHER_MAX=$(awk -F'|' '{v = $7 + 0; if (v > m) m = v} END {printf "%.2f", m}' <<<"$CPU_ROWS")
BUSY=$(awk -v o="$OTHER_MAX" 'BEGIN {print (o > 0.25) ? 1 : 0}')

# Expected at WARN: the development-secret warning, and "not ready" while our readiness polls beat the start-up.
unexpected=$(grep -v -e 'JWT_SECRET is not set' -e 'v.http.HttpVerticle .* not ready: ' "$WORK/node.log" || true)
if [[ -n "$unexpected" ]]; then
  say "the node logged $(wc -l <<<"$unexpected") unexpected line(s), kept in bench/results/tasks-node.log; the first ones:"
  head -n 10 <<<"$unexpected" >&2
  mkdir -p "$ROOT/bench/results"
  cp "$WORK/node.log" "$ROOT/bench/results/tasks-node.log"
fi

# ---------------------------------------------------------------- report
mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Task platform: Pulse vs BullMQ"
  echo
  echo "$DATE, \`bench/tasks.sh\`: $N no-op jobs per phase and side, $CONCURRENCY in flight / at once,"
  echo "after $WARMUP warm-up jobs per side (not counted); one after the other, Pulse first, on the same"
  echo "Redis server (Pulse's embedded one). See [bench/TASKS.md](../TASKS.md) for how to read this."
  echo
  echo "| phase | Pulse jobs/s | BullMQ jobs/s | Pulse / BullMQ |"
  echo "|---|---:|---:|---:|"
  echo "| enqueue: Pulse POST /api/v1/tasks over HTTP vs BullMQ \`queue.add()\` ($CONCURRENCY in flight) | $(f1 "$P_ENQ") | $(f1 "$B_ENQ") | **$(ratio "$P_ENQ" "$B_ENQ")** |"
  echo "| processing: queued → succeeded / completed ($CONCURRENCY at once, 200 ms poll) | $(f1 "$P_PROC") | $(f1 "$B_PROC") | **$(ratio "$P_PROC" "$B_PROC")** |"
  echo "| processing, exact end (last \`finished_at\` / Nth \`completed\` event) | $(f1 "$P_PROCX") | $(f1 "$B_PROCX") | $(ratio "$P_PROCX" "$B_PROCX") |"
  echo "| BullMQ \`addBulk()\`, $BULK per call, one call at a time (Pulse has no batch submit) | — | $(f1 "$B_BULK") | — |"
  echo
  echo "| detail | Pulse | BullMQ |"
  echo "|---|---:|---:|"
  echo "| enqueue: seconds for $N | $(f2 "$(p enqueue.seconds)") | $(f2 "$(b r.enqueue.seconds)") |"
  echo "| enqueue: latency p50 / p99 ms (one submit / one add) | $(f2 "$(p enqueue.p50_ms)") / $(f2 "$(p enqueue.p99_ms)") | $(f2 "$(b r.enqueue.p50_ms)") / $(f2 "$(b r.enqueue.p99_ms)") |"
  echo "| enqueue: errors; waiting afterwards (PostgreSQL 'queued' / BullMQ wait) | $(p enqueue.errors); $(p enqueue.queued_in_db) | $(b r.enqueue.errors); $(b r.enqueue.waiting) |"
  echo "| processing: seconds (poll saw N) / exact | $(f2 "$(p process.seconds)") / $(f2 "$(p process.exact_seconds)") | $(f2 "$(b r.process.seconds)") / $(f2 "$(b r.process.exactSeconds)") |"
  echo "| processing: done; not done or failed | $(p process.succeeded); $(p process.not_succeeded) (retried: $(p process.retried)) | $(b r.process.completed); $(b r.process.failed) failed |"
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
  echo "Cores busy during each measured window (CPU seconds ÷ window seconds; 2.00 = both cores of this"
  echo "machine), from /proc. *pulse* is the node's JVM alone, *postgres* and *redis* include their child"
  echo "processes, *client* is the bench's own process, *other* is the rest of the machine (the kernel's"
  echo "network and disk work not charged to a process, psql polls, the node's watchdog, anything else)."
  echo "The CPU ms per job adds up the servers (pulse, postgres, redis) plus, for BullMQ, node: there the"
  echo "client *is* the queue library doing the work; Pulse's HTTP load generator is left out."
  echo
  echo "| window | pulse | postgres | redis | client | other | machine | server CPU ms/job | machine CPU ms/job |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "$CPU_ROWS"
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
