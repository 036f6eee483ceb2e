#!/usr/bin/env bash
# Retail Pulse image jobs end to end against the raw rate of fetching the same images, in the
# same run, from the same loopback image server. See "Image jobs" in bench/README.md.
#
#   bench/images.sh
#
# Starts an image server (bench/images/ImagesBench.java: real noise JPEGs of 120-750 KB, served
# by Vert.x on 127.0.0.1) and a throw-away node (embedded PostgreSQL and Redis, data in a temp
# dir deleted afterwards, simulated processing off, TASK_NODE_CONCURRENCY=64). Then: wrk with 64
# connections GETs the images in turn for 15 s (the raw fetch rate); jobs of 2,000 images warm the
# node up until its JIT compiler used under 0.1 core during one (at most 300 s; after a fixed
# 1,000 images the JIT was still compiling through the measured run); then one job of
# 10,000 images is submitted in one POST /api/submit/ and timed from the first submit to the last
# job's end (images/s), sampling the node's RSS. Prints both, the ratio, and writes
# bench/results/images.md. About 4 minutes. Installs wrk and
# curl with apt-get when missing. Knobs (the results are then not comparable): IMAGES_JOBS,
# IMAGES_PER_JOB, IMAGES_WARMUP, IMAGES_WARMUP_MAX, IMAGES_CONCURRENCY, IMAGES_RAW_SECONDS.
set -euo pipefail

JOBS=${IMAGES_JOBS:-1}
PER_JOB=${IMAGES_PER_JOB:-10000}
WARMUP=${IMAGES_WARMUP:-2000}           # images per warm-up job
WARMUP_MAX=${IMAGES_WARMUP_MAX:-300}     # warm-up jobs stop after this many seconds even if the JIT has not settled
CONCURRENCY=${IMAGES_CONCURRENCY:-64}
RAW_SECONDS=${IMAGES_RAW_SECONDS:-15}
TARGET_RATIO=0.5

BENCH_NAME=images
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # ROOT, JAR, JAVA, say, the node's start and cleanup
RESULTS="$ROOT/bench/results/images.md"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
apt_install ${need[@]+"${need[@]}"}
ensure_jar

bench_workdir
private_jar
pick_ports
IMAGE_PORT=$(free_port "$HTTP_PORT" "$PG_PORT" "$REDIS_PORT")
IMAGES="http://127.0.0.1:$IMAGE_PORT"

# ---------------------------------------------------------------- the image server
"$JAVA" -cp "$JAR" "$ROOT/bench/images/ImagesBench.java" serve "$WORK/images" "$IMAGE_PORT" >"$WORK/images.log" 2>&1 &
CHILD_PIDS+=("$!")
for _ in $(seq 1 300); do
  grep -q '^serving' "$WORK/images.log" 2>/dev/null && break
  sleep 0.2
done
grep -q '^serving' "$WORK/images.log" || { say "the image server did not start:"; cat "$WORK/images.log" >&2; exit 1; }
FILES=$(grep ' bytes$' "$WORK/images.log")
NAMES=$(cut -d' ' -f1 <<<"$FILES" | tr '\n' ' ')
say "image server on $IMAGES: $(tr '\n' ';' <<<"$FILES")"

# ---------------------------------------------------------------- the node
start_node OUTBOUND_ALLOWLIST=127.0.0.1/32 TASK_NODE_CONCURRENCY="$CONCURRENCY" LOG_LEVEL=WARN LOG_FORMAT=text \
  RATE_LIMIT_RETAIL_PER_MINUTE=100000000
wait_ready 90
machine_facts
LOAD=$(load_average)

# ---------------------------------------------------------------- raw fetch rate (wrk)
say "raw: wrk, $CONCURRENCY connections, ${RAW_SECONDS} s"
# shellcheck disable=SC2086
run_child wrk -c "$CONCURRENCY" -t 2 -d "${RAW_SECONDS}s" --timeout 10s -s "$ROOT/bench/images/cycle.lua" "$IMAGES" -- $NAMES >"$WORK/wrk.txt"
RAW=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt")
RAW_MB=$(awk '/^Transfer\/sec:/ {print $2}' "$WORK/wrk.txt")
say "raw: $RAW fetches/s ($RAW_MB/s)"

# ---------------------------------------------------------------- Pulse
BENCH=("$JAVA" -cp "$JAR" "$ROOT/bench/images/ImagesBench.java" run "$URL" "$IMAGES")
say "Pulse: warm-up, jobs of $WARMUP images until the JIT has settled (not counted)"
warm_until_compiled "$NODE_PID" "$WARMUP_MAX" "${BENCH[@]}" 1 "$WARMUP" "$NODE_PID"
say "Pulse: $JOBS jobs of $PER_JOB images at once"
run_child "${BENCH[@]}" "$JOBS" "$PER_JOB" "$NODE_PID" >"$WORK/pulse.json"
PULSE=$(sed -n 's/.*"images_per_s":\([0-9]*\).*/\1/p' "$WORK/pulse.json")
SECONDS_TAKEN=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$WORK/pulse.json")
FAILED=$(sed -n 's/.*"jobs_failed":\([0-9]*\).*/\1/p' "$WORK/pulse.json")
RSS=$(sed -n 's/.*"peak_rss_mib":\([0-9]*\).*/\1/p' "$WORK/pulse.json")
RATIO=$(awk -v p="$PULSE" -v r="$RAW" 'BEGIN { printf "%.3f", p / r }')
MET=$(awk -v p="$PULSE" -v r="$RAW" -v t="$TARGET_RATIO" 'BEGIN { print (p / r >= t) ? "met" : "NOT MET" }')   # unrounded
say "Pulse: $PULSE images/s ($((JOBS * PER_JOB)) in $SECONDS_TAKEN s, $FAILED job(s) failed), peak RSS $RSS MiB; ratio $RATIO"

mkdir -p "$(dirname "$RESULTS")"
cat >"$RESULTS" <<MD
# Image jobs: Pulse end to end vs the raw fetch rate

$DATE, \`bench/images.sh\`: the same loopback image server (noise JPEGs: $(cut -d' ' -f1,2 <<<"$FILES" | sed 's/ / = /' | tr '\n' ',' | sed 's/,$//; s/,/, /g') bytes), $CONCURRENCY
fetches in flight on each side; simulated processing off. $CORES cores ($CPU_MODEL), $JAVA_VERSION, load average before: $LOAD.
Pulse's warm-up (jobs of $WARMUP images until its JIT compiler used under 0.1 core during one, at most ${WARMUP_MAX} s): $WARMED.

| side | what | rate |
|---|---|---:|
| raw | wrk, $CONCURRENCY connections, ${RAW_SECONDS} s, GET each image in turn ($RAW_MB/s) | **$RAW fetches/s** |
| Pulse | $JOBS jobs of $PER_JOB images submitted at once (POST /api/submit/), first submit → last job done; $FAILED job(s) failed | **$PULSE images/s** |
| **ratio Pulse / raw** | goal ≥ $TARGET_RATIO: **$MET** | **$RATIO** |

Peak RSS of the node (one JVM: HTTP, jobs, task platform and image workers) during the $((JOBS * PER_JOB))-image run: **$RSS MiB**.
MD
cat "$RESULTS"
