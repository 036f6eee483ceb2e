#!/usr/bin/env bash
# Login throughput of one Pulse node, compared with the argon2id ceiling of this machine.
#
#   bench/login.sh
#
# Starts a throw-away node (embedded PostgreSQL and Redis, everything on 127.0.0.1), measures
# the ceiling (raw argon2id checks on every core, in-process), then HTTP logins at each
# concurrency level; stops the node, deletes its data, and writes bench/results/login.md.
# Takes about 1.5 minutes. The knobs below can be overridden from the environment, e.g.
# BENCH_SECONDS=5 bench/login.sh for a quick try (the results file is then not comparable).
set -euo pipefail

USERS=${BENCH_USERS:-50}                 # registered users; each login picks one at random
WARMUP=${BENCH_WARMUP:-5}                # seconds of logins before measuring (not counted)
RUN_SECONDS=${BENCH_SECONDS:-20}         # seconds per measured run
CONCURRENCY=${BENCH_CONCURRENCY:-8,32}   # logins in flight, one run per level
CEILING_WARMUP=${BENCH_CEILING_WARMUP:-3}
CEILING_SECONDS=${BENCH_CEILING_SECONDS:-15}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$ROOT/target/pulse.jar"
RESULTS="$ROOT/bench/results/login.md"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

command -v curl >/dev/null || { echo "login.sh: curl is needed (readiness check)" >&2; exit 1; }

if [[ ! -f "$JAR" ]]; then
  echo "login.sh: $JAR is missing; building it" >&2
  (cd "$ROOT" && mvn -q -B -o -DskipTests package)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pulse-login-bench.XXXXXX")
rm -f "$ROOT/bench/results/login-node.log"   # kept only when the node misbehaved, see cleanup
NODE_PID=""

# Always: SIGTERM the node (it stops its embedded servers), wait for it, delete the temp dir.
# A node that does not stop in 20 s gets a thread dump (SIGQUIT, into its log, which is kept
# as bench/results/login-node.log), then SIGKILL; its watchdog then stops PostgreSQL and Redis,
# and we wait for those before deleting their data directory.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$NODE_PID" 2>/dev/null || break
      sleep 0.2
    done
    local servers=""
    if kill -0 "$NODE_PID" 2>/dev/null; then
      echo "login.sh: THE NODE DID NOT STOP within 20 s of SIGTERM; thread dump, then SIGKILL" >&2
      servers="$(head -n 1 "$WORK/data/postgres/postmaster.pid" 2>/dev/null || true) $(cat "$WORK/data/redis/redis.pid" 2>/dev/null || true)"
      kill -QUIT "$NODE_PID" 2>/dev/null || true
      sleep 2
      kill -KILL "$NODE_PID" 2>/dev/null || true
    fi
    local node_exit=0
    wait "$NODE_PID" 2>/dev/null || node_exit=$?
    if [[ $node_exit -ne 0 ]]; then
      mkdir -p "$ROOT/bench/results"
      cp "$WORK/node.log" "$ROOT/bench/results/login-node.log" 2>/dev/null || true
      echo "login.sh: the node exited with $node_exit after SIGTERM (expected 0); log kept in bench/results/login-node.log" >&2
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
  echo "login.sh: no free port found" >&2
  return 1
}
HTTP_PORT=$(free_port)
PG_PORT=$(free_port "$HTTP_PORT")
REDIS_PORT=$(free_port "$HTTP_PORT" "$PG_PORT")
URL="http://127.0.0.1:$HTTP_PORT"

# The node reads every key of conf/config.json from the environment (and from ./.env): drop any
# the caller has set (DATABASE_URL, CLUSTER, ...) and run it in the temp dir, so only ours count.
UNSET=()
if [[ -f "$ROOT/conf/config.json" ]]; then
  for key in $(sed -n 's/^[[:space:]]*"\([A-Z_][A-Z0-9_]*\)"[[:space:]]*:.*/\1/p' "$ROOT/conf/config.json"); do
    UNSET+=(-u "$key")
  done
fi

# Is something else busy here? (1-minute, 5-minute, 15-minute load average, before we add ours.)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

echo "login.sh: starting a node on $URL (PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, data in $WORK)" >&2
(
  cd "$WORK"
  exec env ${UNSET[@]+"${UNSET[@]}"} \
    DATA_DIR="$WORK/data" HTTP_HOST=127.0.0.1 HTTP_PORT="$HTTP_PORT" \
    EMBEDDED_PG_PORT="$PG_PORT" EMBEDDED_REDIS_PORT="$REDIS_PORT" \
    RATE_LIMIT_AUTH_PER_MINUTE=100000000 LOG_LEVEL=WARN LOG_FORMAT=text \
    "$JAVA" -jar "$JAR"
) >"$WORK/node.log" 2>&1 &
NODE_PID=$!

ready_by=$((SECONDS + 60))
until curl -s -o /dev/null -f --max-time 2 "$URL/health/ready"; do
  if ! kill -0 "$NODE_PID" 2>/dev/null; then
    echo "login.sh: the node exited before it was ready; its log:" >&2
    tail -n 40 "$WORK/node.log" >&2
    exit 1
  fi
  if (( SECONDS >= ready_by )); then
    echo "login.sh: the node is not ready after 60 s; its log:" >&2
    tail -n 40 "$WORK/node.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "login.sh: node ready" >&2

# Machine facts.
CORES=$(nproc)
JAVA_VERSION=$("$JAVA" -version 2>&1 | head -n 1)
CPU=$(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

BENCH=("$JAVA" -cp "$JAR" "$ROOT/bench/LoginBench.java")
IFS=, read -r -a LEVELS <<<"$CONCURRENCY"

timeout $((CEILING_WARMUP + CEILING_SECONDS + 60)) "${BENCH[@]}" ceiling --out "$WORK/ceiling.properties" \
  --threads "$CORES" --warmup "$CEILING_WARMUP" --seconds "$CEILING_SECONDS"

bench_status=0
timeout $((WARMUP + ${#LEVELS[@]} * RUN_SECONDS + 90)) "${BENCH[@]}" http --url "$URL" \
  --ceiling "$WORK/ceiling.properties" --users "$USERS" --warmup "$WARMUP" --seconds "$RUN_SECONDS" \
  --concurrency "$CONCURRENCY" >"$WORK/table.md" || bench_status=$?
if [[ $bench_status -ne 0 && $bench_status -ne 3 ]]; then
  echo "login.sh: the HTTP runs failed (exit $bench_status); the node's log:" >&2
  tail -n 40 "$WORK/node.log" >&2
  exit "$bench_status"
fi

# The node logs at WARN: anything it said beyond the expected development-secret warning is worth a look.
unexpected=$(grep -v 'JWT_SECRET is not set' "$WORK/node.log" || true)
if [[ -n "$unexpected" ]]; then
  echo "login.sh: the node logged $(wc -l <<<"$unexpected") unexpected line(s); the first ones:" >&2
  head -n 10 <<<"$unexpected" >&2
fi

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Login throughput"
  echo
  echo "$DATE, \`bench/login.sh\`: $USERS users, ${WARMUP} s warm-up, ${RUN_SECONDS} s per HTTP run;"
  echo "ceiling ${CEILING_SECONDS} s (after ${CEILING_WARMUP} s warm-up) on $CORES threads."
  echo
  cat "$WORK/table.md"
  echo
  echo "The ceiling row counts argon2id verifications/s, not logins. Ratio = logins/s ÷ ceiling."
  if [[ $bench_status -eq 3 ]]; then
    echo
    echo "**WARNING: some logins did not answer 200 (see the errors column); these numbers are suspect.**"
  fi
  echo
  echo "Machine: nproc $CORES${CPU:+, $CPU}; load average before the run $LOAD;"
  echo "\`$JAVA_VERSION\`. Client and node share the machine."
} >"$RESULTS"

echo >&2
cat "$RESULTS"
exit "$bench_status"
