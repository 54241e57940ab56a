#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent under 500 checks: CPU and RSS, and how long a check's state
# change takes to reach ZooKeeper.
#
#   tests/bench/agent_500.sh [BUILD_DIR] [SECONDS]   (default: build, 30)
#
# Starts a standalone ZooKeeper (the test harness, 127.0.0.1 only), nginx
# (answering /health; a Python server cannot keep up with 250 requests a
# second on a loaded machine) and a TCP listener, and an agent with 250
# services of two
# checks each (http and tcp, 1 s interval) against them: 500 checks, 250
# registrations. Once all are registered it reads the agent's CPU time
# (/proc/PID/stat) over SECONDS and its RSS. Then it flips a ttl check
# (rise = fall = 1) 50 times and reads, from the agent's
# zkdisc_agent_publish_seconds histogram (the flips' share only), how long
# each change took from the check's result to ZooKeeper holding it.
# Prints Markdown. Not a CTest test.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
secs=${2:-30}
export ZKDISC=${ZKDISC:-$build/tools/zkdisc/zkdisc}
export ZK_HARNESS=${ZK_HARNESS:-$build/tests/harness/zk-harness}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/zkdisc-agent-bench.XXXXXX")
CHECKS=0 FAILURES=0
. "$src/tests/cli/lib.sh" 2>/dev/null || true
. "$src/tests/harness/harness.sh"
. "$src/tests/agent/lib.sh"
[ -x "$AGENT" ] || { echo "agent_500: $AGENT not built" >&2; exit 2; }
zkh_up 1 || exit 1
trap agent_cleanup EXIT INT TERM
[ -n "${BENCH_KEEP:-}" ] && trap 'cp "$OUT/agent.log" /tmp/agent_500.log; agent_cleanup' EXIT
HTTP_PORT=$(free_port)
mkdir -p "$OUT/nginx/logs"
cat >"$OUT/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
error_log $OUT/nginx/logs/error.log;
pid $OUT/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx; proxy_temp_path $OUT/nginx; fastcgi_temp_path $OUT/nginx;
    uwsgi_temp_path $OUT/nginx; scgi_temp_path $OUT/nginx;
    server { listen 127.0.0.1:$HTTP_PORT; location /health { return 200 "ok\n"; } }
}
NGINX
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" & HELPER_PIDS+=($!)
wait_until 15 curl -sf "http://127.0.0.1:$HTTP_PORT/health" >/dev/null || { echo "agent_500: nginx did not start" >&2; exit 1; }
"$PY" "$AGENT_HELPERS/listen.py" "$OUT/tcp.port" & HELPER_PIDS+=($!)
wait_until 15 test -f "$OUT/tcp.port" || exit 1
TCP_PORT=$(cat "$OUT/tcp.port")
API_PORT=$(free_port)
{
    echo "zookeeper = { connect = \"$ZKDISC_ZK\"; };"
    echo "agent = { api = \"127.0.0.1:$API_PORT\"; };"
    echo "services = ("
    for i in $(seq 1 250); do
        echo "  { name = \"b$i\"; id = \"b$i-1\"; address = \"127.0.0.1\"; port = $HTTP_PORT; checks = ("
        echo "    { type = \"http\"; url = \"http://127.0.0.1:$HTTP_PORT/health\"; interval = \"1s\"; },"
        echo "    { type = \"tcp\"; target = \"127.0.0.1:$TCP_PORT\"; interval = \"1s\"; } ); },"
    done
    echo "  { name = \"flip\"; id = \"flip-1\"; port = 1; checks = ( { type = \"ttl\"; ttl = \"1h\"; } ); }"
    echo ");"
} >"$OUT/agent.conf"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
registered() { [ "$(curl -s "http://127.0.0.1:$API_PORT/metrics" | grep -c '^zkdisc_agent_service_registered{.*} 1')" -ge 250 ]; }
wait_until 120 registered || { echo "agent_500: the 250 services did not register" >&2; exit 1; }
check_out_250() { [ "$(count b250)" = 1 ] && [ "$(count b1)" = 1 ]; }
wait_until 30 check_out_250 || { echo "agent_500: not seen from outside" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); w0=$(date +%s%N)
sleep "$secs" # the measuring window
t1=$(ticks); w1=$(date +%s%N)
cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v w="$((w1 - w0))" 'BEGIN { printf "%.2f", 100 * t / hz / (w / 1e9) }')
rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$AGENT_PID/status")
hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$AGENT_PID/status")
probes=$(curl -s "http://127.0.0.1:$API_PORT/metrics" | awk '/^zkdisc_agent_check_duration_seconds_count/ {n += $2} END {print n}')

hist() { curl -s "http://127.0.0.1:$API_PORT/metrics" | grep '^zkdisc_agent_publish_seconds_bucket'; }
hist >"$OUT/h0"
for i in $(seq 1 25); do
    api PUT /v1/check/flip-1/ttl/pass >/dev/null
    wait_until 10 has_count flip 1 || echo "agent_500: flip $i not registered" >&2
    api PUT /v1/check/flip-1/ttl/fail >/dev/null
    wait_until 10 has_count flip 0 || echo "agent_500: flip $i not removed" >&2
done
hist >"$OUT/h1"
lat=$(paste -d' ' "$OUT/h0" "$OUT/h1" | "$PY" -c '
import re, sys
rows = []
for line in sys.stdin:
    a, b = line.split()[:2], line.split()[2:]
    le = re.search(r"le=\"([^\"]+)\"", a[0]).group(1)
    rows.append((float("inf") if le == "+Inf" else float(le), int(b[1]) - int(a[1])))
total = rows[-1][1]
def q(p):
    for le, n in rows:
        if n >= p * total:
            return "<= %g ms" % (le * 1000)
print("%d changes: p50 %s, p99 %s" % (total, q(0.5), q(0.99)))
')
echo "| measure | value |"
echo "| --- | --- |"
echo "| checks (250 http + 250 tcp, 1 s interval) | $probes probes run |"
echo "| agent CPU over ${secs} s | ${cpu}% of one core |"
echo "| agent RSS | ${rss} MB (peak ${hwm} MB) |"
echo "| check result -> ZooKeeper (ttl flips) | $lat |"
echo "| machine load (1 min) | $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores |"
