#!/usr/bin/env bash
# A 3-node Pulse cluster on this machine, in one command.
#
#   scripts/cluster.sh start    start the cluster (or the nodes of it that are not running); prints where each listens
#   scripts/cluster.sh status   each node: running or not, its ports, its readiness
#   scripts/cluster.sh stop     SIGTERM to every node (each drains, hands its tasks back, leaves), then to the servers
#
# Node 1 runs the HTTP edge and the services (identity, ledger, dispatch, jobs, catalog); nodes 2
# and 3 run dispatch and worker (and http, for their /health and /metrics). All three share one
# PostgreSQL and one Redis: DATABASE_URL and REDIS_URL when both are set, else embedded ones
# started once in a JVM of their own (verticles.SharedServers), so that losing any node loses no
# server. The bus between them is mutual TLS with a development CA (scripts/dev-ca.sh) unless
# CLUSTER_TLS_CA_FILE, CLUSTER_TLS_CERT_FILE and CLUSTER_TLS_KEY_FILE are set (the same files for all).
#
# Settings (environment):
#   CLUSTER_DIR      where logs, pids, data, certificates and the token secret go (./cluster)
#   HTTP_PORTS       the three nodes' HTTP ports ("8080 8081 8082")
#   CLUSTER_PORTS    their Hazelcast ports ("5701 5702 5703")
#   PULSE_JAR        the jar to run (target/pulse.jar); or PULSE_CLASSPATH, a class path
#   JAVA, JAVA_OPTS  the java command (java) and its options (-Xmx384m)
#   JWT_SECRET       the cluster's token secret (made once and kept in CLUSTER_DIR otherwise)
# Any other Pulse setting in the environment (ADMIN_USERNAME, TASK_LEASE_MS, LOG_FORMAT, ...)
# applies to all three nodes.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLUSTER_DIR:-./cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
read -r -a http_ports <<< "${HTTP_PORTS:-8080 8081 8082}"
read -r -a cluster_ports <<< "${CLUSTER_PORTS:-5701 5702 5703}"
java=${JAVA:-java}
java_opts=${JAVA_OPTS:--Xmx384m}
roles=("http,identity,ledger,dispatch,jobs,catalog" "http,dispatch,worker" "http,dispatch,worker")
# What the jar's manifest opens for Hazelcast, given on the command line for a plain class path.
opens="--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
--add-opens java.management/sun.management=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
--add-exports java.base/jdk.internal.ref=ALL-UNNAMED"

if [ ${#http_ports[@]} -ne 3 ] || [ ${#cluster_ports[@]} -ne 3 ]; then
  echo "cluster.sh: HTTP_PORTS and CLUSTER_PORTS name three ports each" >&2
  exit 2
fi

# The java command line for a main class ($1) with options ($2): from the jar, or from a class path.
run_class() {
  if [ -n "${PULSE_CLASSPATH:-}" ]; then
    echo "$java $2 $opens -cp $PULSE_CLASSPATH $1"
  else
    local jar=${PULSE_JAR:-$here/target/pulse.jar}
    [ -f "$jar" ] || { echo "cluster.sh: no $jar (mvn -q -DskipTests package, or set PULSE_JAR)" >&2; exit 2; }
    echo "$java $2 $opens -cp $jar $1"
  fi
}

now_ms() { date +%s%3N; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# GET /health/ready on a local port: prints the status code (000 when nothing answers).
ready_status() {
  local status=000
  if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
    printf 'GET /health/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    status=$(head -1 <&3 | awk '{print $2}') || true
    exec 3<&- 3>&-
  fi
  echo "${status:-000}"
}

start_servers() {
  if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
    return
  fi
  if ! alive "$dir/servers.pid"; then
    rm -f "$dir/servers.env"
    # shellcheck disable=SC2046
    (cd "$dir" && exec $(run_class verticles.SharedServers "-Xmx96m ${JAVA_OPTS:-}") "$dir/data" "$dir/servers.env" \
      "${EMBEDDED_PG_PORT:-0}" "${EMBEDDED_REDIS_PORT:-0}" > "$dir/servers.log" 2>&1 < /dev/null) &
    echo $! > "$dir/servers.pid"
  fi
  local waited=0
  until [ -f "$dir/servers.env" ]; do
    if ! alive "$dir/servers.pid"; then
      echo "cluster.sh: the shared servers did not start:" >&2
      tail -20 "$dir/servers.log" >&2
      exit 1
    fi
    sleep 0.2
    waited=$((waited + 1))
    [ $waited -lt 600 ] || { echo "cluster.sh: the shared servers took over 2 minutes" >&2; exit 1; }
  done
  # shellcheck disable=SC1091
  set -a && . "$dir/servers.env" && set +a
}

tls_settings() {
  if [ -n "${CLUSTER_TLS_CA_FILE:-}" ]; then
    return
  fi
  "$here/scripts/dev-ca.sh" "$dir/tls" node-1 node-2 node-3 > /dev/null
}

start() {
  local began
  began=$(now_ms)
  start_servers
  tls_settings
  if [ -z "${JWT_SECRET:-}" ]; then
    if [ ! -f "$dir/jwt-secret" ]; then
      (umask 077 && head -c 48 /dev/urandom | base64 -w0 > "$dir/jwt-secret")
    fi
    JWT_SECRET=$(cat "$dir/jwt-secret")
  fi
  local members="127.0.0.1:${cluster_ports[0]},127.0.0.1:${cluster_ports[1]},127.0.0.1:${cluster_ports[2]}"
  local started=()
  for i in 0 1 2; do
    local n=$((i + 1)) pidfile="$dir/node-$((i + 1)).pid"
    if alive "$pidfile"; then
      continue
    fi
    mkdir -p "$dir/node-$n"
    local cert=() 
    if [ -z "${CLUSTER_TLS_CA_FILE:-}" ]; then
      cert=(CLUSTER_TLS_CA_FILE="$dir/tls/ca.pem" CLUSTER_TLS_CERT_FILE="$dir/tls/node-$n.pem" CLUSTER_TLS_KEY_FILE="$dir/tls/node-$n-key.pem")
    fi
    # shellcheck disable=SC2046
    (cd "$dir/node-$n" && exec env "${cert[@]}" JWT_SECRET="$JWT_SECRET" DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL" \
      ROLES="${roles[$i]}" HTTP_HOST=127.0.0.1 HTTP_PORT="${http_ports[$i]}" \
      CLUSTER=true CLUSTER_HOST=127.0.0.1 CLUSTER_PORT="${cluster_ports[$i]}" CLUSTER_MEMBERS="$members" \
      DATA_DIR="$dir/node-$n/data" $(run_class verticles.Main "$java_opts") > "$dir/node-$n.log" 2>&1 < /dev/null) &
    echo $! > "$pidfile"
    started+=("$n")
  done
  for n in "${started[@]}"; do
    local port=${http_ports[$((n - 1))]}
    until [ "$(ready_status "$port")" = 200 ]; do
      if ! alive "$dir/node-$n.pid"; then
        echo "cluster.sh: node $n stopped while starting; the end of $dir/node-$n.log:" >&2
        tail -20 "$dir/node-$n.log" >&2
        exit 1
      fi
      if [ $(($(now_ms) - began)) -gt 180000 ]; then
        echo "cluster.sh: node $n not ready after 3 minutes; see $dir/node-$n.log" >&2
        exit 1
      fi
      sleep 0.3
    done
  done
  echo "cluster ready in $(($(now_ms) - began)) ms (${#started[@]} node(s) started)"
  status
}

status() {
  if [ -f "$dir/servers.pid" ]; then
    if alive "$dir/servers.pid"; then
      echo "servers  pid $(cat "$dir/servers.pid")  $(tr '\n' ' ' < "$dir/servers.env" 2>/dev/null)"
    else
      echo "servers  not running"
    fi
  fi
  for i in 0 1 2; do
    local n=$((i + 1)) state
    if alive "$dir/node-$n.pid"; then
      state="pid $(cat "$dir/node-$n.pid")  ready $(ready_status "${http_ports[$i]}")"
    else
      state="not running"
    fi
    echo "node-$n   http://127.0.0.1:${http_ports[$i]}  hazelcast 127.0.0.1:${cluster_ports[$i]}  roles ${roles[$i]}  $state  log $dir/node-$n.log"
  done
}

# SIGTERM, then up to 30 s for the process to go, then SIGKILL.
stop_pid() {
  local pidfile=$1
  if alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop() {
  for n in 3 2 1; do
    stop_pid "$dir/node-$n.pid" &
  done
  wait
  stop_pid "$dir/servers.pid"
  rm -f "$dir/servers.env"
  echo "cluster stopped"
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: scripts/cluster.sh start|stop|status" >&2; exit 2 ;;
esac
