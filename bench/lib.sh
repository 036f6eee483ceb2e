# Shared by the benchmark scripts (bench/login.sh, bench/ledger.sh, bench/tasks.sh): sourced, not run.
#
#   BENCH_NAME=login                          # names the messages, the temp dir and the kept node log
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sets ROOT, JAR and JAVA; the functions below set the rest (WORK, NODE_PID, CHILD_PIDS, the ports,
# URL, PG_URL, the machine facts). Plain functions, called in the order each script needs.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$ROOT/target/pulse.jar"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
NODE_PID=""
CHILD_PIDS=()                                  # background processes cleanup stops (see run_child)

# A message on stderr, prefixed with the script's name ("ledger.sh: ...").
say() { echo "$BENCH_NAME.sh: $*" >&2; }

# Installs the given Debian packages with apt-get (apt-get update first only if that fails); none: nothing.
apt_install() {
  (( $# )) || return 0
  say "installing $* with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  fi
}

# Builds target/pulse.jar (offline, no tests) when it is missing.
ensure_jar() {
  if [[ ! -f "$JAR" ]]; then
    say "$JAR is missing; building it"
    (cd "$ROOT" && mvn -q -B -o -DskipTests package)
  fi
}

# Creates the temp dir WORK (deleted by cleanup), forgets a node log kept by an earlier run, and
# installs the traps: cleanup on exit, exit 130 on SIGINT, 143 on SIGTERM.
bench_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/pulse-$BENCH_NAME-bench.XXXXXX")
  NODE_DIR=$WORK   # the node's data dir and log; a script running two nodes one after the other changes it
  rm -f "$ROOT/bench/results/$BENCH_NAME-node.log"   # kept only when the node misbehaved, see cleanup
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Runs a private copy of the jar (JAR then points to it): a JVM loads classes from its jar lazily, so
# a rebuild of target/pulse.jar during the run (mvn package in another shell) would break the node mid-run.
private_jar() {
  cp "$JAR" "$WORK/pulse.jar"
  JAR="$WORK/pulse.jar"
}

# Stops the node (SIGTERM: it stops its embedded servers) and waits for it. A node that does not
# stop in 20 s gets a thread dump (SIGQUIT, into its log, kept as bench/results/NAME-node.log), then
# SIGKILL; its watchdog then stops PostgreSQL and Redis, and we wait for those before their data
# directory may be deleted. Returns 4 when the node exited non-zero (its log is then kept too).
stop_node() {
  [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null || return 0
  local pid servers="" node_exit=0
  kill -TERM "$NODE_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$NODE_PID" 2>/dev/null; then
    say "THE NODE DID NOT STOP within 20 s of SIGTERM; thread dump, then SIGKILL"
    servers="$(head -n 1 "$NODE_DIR/data/postgres/postmaster.pid" 2>/dev/null || true) $(cat "$NODE_DIR/data/redis/redis.pid" 2>/dev/null || true)"
    kill -QUIT "$NODE_PID" 2>/dev/null || true
    sleep 2
    kill -KILL "$NODE_PID" 2>/dev/null || true
  fi
  wait "$NODE_PID" 2>/dev/null || node_exit=$?
  NODE_PID=""
  for pid in $servers; do
    for _ in $(seq 1 75); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  done
  if [[ $node_exit -ne 0 ]]; then
    mkdir -p "$ROOT/bench/results"
    cp "$NODE_DIR/node.log" "$ROOT/bench/results/$BENCH_NAME-node.log" 2>/dev/null || true
    say "the node exited with $node_exit after SIGTERM (expected 0); log kept in bench/results/$BENCH_NAME-node.log"
    return 4
  fi
}

# The EXIT trap. Always: stop what we started (each of CHILD_PIDS with its children, then the node),
# wait for them, delete the temp dir. A node that exits non-zero turns a successful run's status into 4.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pid
  for pid in ${CHILD_PIDS[@]+"${CHILD_PIDS[@]}"}; do
    if kill -0 "$pid" 2>/dev/null; then
      pkill -TERM -P "$pid" 2>/dev/null || true   # its children first (wrk, pgbench, top, timeout's child), by parent id
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  local stopped=0
  stop_node || stopped=$?
  [[ $status -ne 0 || $stopped -eq 0 ]] || status=$stopped
  [[ -z "${CLEANUP_EXTRA:-}" ]] || eval "$CLEANUP_EXTRA" || true
  rm -rf "$WORK"
  exit "$status"
}

# Runs a command in the background (so cleanup can stop it) and waits for it; its exit status.
run_child() {
  "$@" &
  local pid=$!
  CHILD_PIDS+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# CPU ticks a JVM's JIT compiler threads ("C1 CompilerThre", "C2 CompilerThre") have used, live ones.
jit_ticks() {
  local total=0 task stat fields
  for task in /proc/"$1"/task/*; do
    [[ $(cat "$task/comm" 2>/dev/null) == C[12]\ CompilerThre* ]] || continue
    stat=$(cat "$task/stat" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# Warms a JVM up until its JIT compiler has settled: runs the command (its output dropped) in rounds
# until the compiler threads of the JVM with pid $1 used under a tenth of a core during a round, or
# $2 seconds have passed. On this 2-core machine the JIT competes with the load for the CPU: after
# a fixed 10-30 s warm-up it was still using half a core, and the rate measured then was a third of
# the settled one. Sets WARMED, the story for the report: "N round(s), S s; the JIT compiler at X cores in the last".
warm_until_compiled() {
  local pid=$1 limit=$2 began=$SECONDS rounds=0 before started cores hz
  shift 2
  hz=$(getconf CLK_TCK)
  while :; do
    before=$(jit_ticks "$pid")
    started=$(date +%s%N)
    run_child "$@" >/dev/null
    rounds=$((rounds + 1))
    cores=$(awk -v t=$(($(jit_ticks "$pid") - before)) -v hz="$hz" -v ns=$(($(date +%s%N) - started)) \
      'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }')
    if awk -v c="$cores" 'BEGIN { exit !(c < 0.10) }' || ((SECONDS - began >= limit)); then
      break
    fi
  done
  WARMED="$rounds round(s), $((SECONDS - began)) s; the JIT compiler at $cores cores in the last"
  say "warmed up: $WARMED"
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

# Picks the node's three ports: sets HTTP_PORT, PG_PORT, REDIS_PORT, URL (the node) and PG_URL (its PostgreSQL).
pick_ports() {
  HTTP_PORT=$(free_port)
  PG_PORT=$(free_port "$HTTP_PORT")
  REDIS_PORT=$(free_port "$HTTP_PORT" "$PG_PORT")
  URL="http://127.0.0.1:$HTTP_PORT"
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}

# Is something else busy here? The 1-, 5- and 15-minute load average (take it before adding ours).
load_average() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }

# Starts the node in the background (NODE_PID), log in NODE_DIR/node.log: embedded PostgreSQL and Redis
# on our ports, data in NODE_DIR/data, HTTP on 127.0.0.1; the arguments are further NAME=value settings.
# The node reads every key of conf/config.json from the environment (and from ./.env): drop any the
# caller has set (DATABASE_URL, REDIS_URL, CLUSTER, ...) and run it in the temp dir, so only ours count.
start_node() {
  local unset=() key
  if [[ -f "$ROOT/conf/config.json" ]]; then
    for key in $(sed -n 's/^[[:space:]]*"\([A-Z_][A-Z0-9_]*\)"[[:space:]]*:.*/\1/p' "$ROOT/conf/config.json"); do
      unset+=(-u "$key")
    done
  fi
  say "starting a node on $URL (PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, data in $WORK)"
  mkdir -p "$NODE_DIR"
  (
    cd "$NODE_DIR"
    exec env ${unset[@]+"${unset[@]}"} \
      DATA_DIR="$NODE_DIR/data" HTTP_HOST=127.0.0.1 HTTP_PORT="$HTTP_PORT" \
      EMBEDDED_PG_PORT="$PG_PORT" EMBEDDED_REDIS_PORT="$REDIS_PORT" \
      "$@" \
      "$JAVA" -jar "$JAR"
  ) >"$NODE_DIR/node.log" 2>&1 &
  NODE_PID=$!
}

# Waits until the node answers /health/ready; exits 1 with the tail of its log if it dies first or
# is not ready within the given number of seconds.
wait_ready() {
  local limit=$1
  local ready_by=$((SECONDS + limit))
  until curl -s -o /dev/null -f --max-time 2 "$URL/health/ready"; do
    if ! kill -0 "$NODE_PID" 2>/dev/null; then
      say "the node exited before it was ready; its log:"
      tail -n 40 "$NODE_DIR/node.log" >&2
      exit 1
    fi
    if (( SECONDS >= ready_by )); then
      say "the node is not ready after $limit s; its log:"
      tail -n 40 "$NODE_DIR/node.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  say "node ready"
}

# One psql query on the node's PostgreSQL (PG_URL): unaligned, tuples only, stops on error.
psql_q() { psql "$PG_URL" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# Machine facts: sets CORES, JAVA_VERSION, CPU_MODEL (may be empty) and DATE (UTC, to the minute).
machine_facts() {
  CORES=$(nproc)
  JAVA_VERSION=$("$JAVA" -version 2>&1 | grep -v '^Picked up' | head -n 1)   # (not JAVA_TOOL_OPTIONS' notice)
  CPU_MODEL=$(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
  DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
}

# What the node logged beyond the expected lines (grep patterns, the arguments): sets `unexpected`; if
# there is any, says how many lines with the first ones, and keeps the log as bench/results/NAME-node.log.
node_log_unexpected() {
  local expected=() pattern
  for pattern in "$@"; do expected+=(-e "$pattern"); done
  unexpected=$(grep -v "${expected[@]}" "$NODE_DIR/node.log" || true)
  if [[ -n "$unexpected" ]]; then
    say "the node logged $(wc -l <<<"$unexpected") unexpected line(s), kept in bench/results/$BENCH_NAME-node.log; the first ones:"
    head -n 10 <<<"$unexpected" >&2
    mkdir -p "$ROOT/bench/results"
    cp "$NODE_DIR/node.log" "$ROOT/bench/results/$BENCH_NAME-node.log"
  fi
}
