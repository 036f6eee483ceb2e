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

BENCH_NAME=login
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ROOT, JAR, JAVA, say, the node's start and cleanup
RESULTS="$ROOT/bench/results/login.md"

command -v curl >/dev/null || { say "curl is needed (readiness check)"; exit 1; }
ensure_jar

bench_workdir   # WORK, and the EXIT trap that stops the node and deletes WORK
pick_ports

LOAD=$(load_average)

start_node RATE_LIMIT_AUTH_PER_MINUTE=100000000 LOG_LEVEL=WARN LOG_FORMAT=text
wait_ready 60

machine_facts   # CORES, JAVA_VERSION, CPU_MODEL, DATE

BENCH=("$JAVA" -cp "$JAR" "$ROOT/bench/LoginBench.java")
IFS=, read -r -a LEVELS <<<"$CONCURRENCY"

timeout $((CEILING_WARMUP + CEILING_SECONDS + 60)) "${BENCH[@]}" ceiling --out "$WORK/ceiling.properties" \
  --threads "$CORES" --warmup "$CEILING_WARMUP" --seconds "$CEILING_SECONDS"

bench_status=0
timeout $((WARMUP + ${#LEVELS[@]} * RUN_SECONDS + 90)) "${BENCH[@]}" http --url "$URL" \
  --ceiling "$WORK/ceiling.properties" --users "$USERS" --warmup "$WARMUP" --seconds "$RUN_SECONDS" \
  --concurrency "$CONCURRENCY" >"$WORK/table.md" || bench_status=$?
if [[ $bench_status -ne 0 && $bench_status -ne 3 ]]; then
  say "the HTTP runs failed (exit $bench_status); the node's log:"
  tail -n 40 "$WORK/node.log" >&2
  exit "$bench_status"
fi

# The node logs at WARN: anything it said beyond the expected development-secret warning is worth a look.
unexpected=$(grep -v 'JWT_SECRET is not set' "$WORK/node.log" || true)
if [[ -n "$unexpected" ]]; then
  say "the node logged $(wc -l <<<"$unexpected") unexpected line(s); the first ones:"
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
  echo "Machine: nproc $CORES${CPU_MODEL:+, $CPU_MODEL}; load average before the run $LOAD;"
  echo "\`$JAVA_VERSION\`. Client and node share the machine."
} >"$RESULTS"

echo >&2
cat "$RESULTS"
exit "$bench_status"
