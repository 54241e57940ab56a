#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench.sh BUILD_DIR [N]: measures zkdisc-agent's consumers (the figures in
# README "zkdisc-agent: consumers"): register -> HAProxy and removal -> DNS
# latency against kazoo's watch in the same run (bench_consumers.py), and
# DNS queries per second with dnsperf for a 100-instance service, the agent
# pinned to one core. Needs haproxy, dnsperf, python3-kazoo.
set -u
build=$(cd "${1:?usage: bench.sh BUILD_DIR [N]}" && pwd); n=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
export ZKDISC=$build/tools/zkdisc/zkdisc ZK_HARNESS=$build/tests/harness/zk-harness
. "$here/../cli/lib.sh"
. "$here/../harness/harness.sh"
. "$here/lib_agent.sh"
zkh_up 1 || exit 1
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT
DNS=$(free_port); FE=$(free_port)
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "lat"; allow_empty = true;
            outputs = ( { type = "haproxy"; config = "$OUT/be.cfg"; backend = "lat"; slots = 10;
                          socket = "$OUT/h.sock"; } ); },
          { service = "big"; } );
dns = { listen = "127.0.0.1:$DNS"; };
CONF
cat >"$OUT/main.cfg" <<CFG
global
    stats socket $OUT/h.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:$FE
    default_backend lat
CFG
for i in $(seq 1 100); do
    "$ZKDISC" create -p "/zkdisc/services/big/i$i" \
        "{\"name\":\"big\",\"id\":\"i$i\",\"address\":\"10.0.1.$i\",\"port\":80,\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":0,\"serviceType\":\"STATIC\",\"uriSpec\":null}" >/dev/null
done
bg taskset -c 0 "$AGENT_DRIVER" -c "$OUT/agent.conf" >"$OUT/agent.log" 2>&1; AGENT=$BG_PID
wait_until 15 test -s "$OUT/be.cfg" || { cat "$OUT/agent.log"; exit 1; }
bg haproxy -W -db -f "$OUT/main.cfg" -f "$OUT/be.cfg" >"$OUT/haproxy.log" 2>&1
wait_until 15 test -S "$OUT/h.sock" || exit 1
echo "latency ($n rounds):"
/usr/bin/python3 "$here/bench_consumers.py" "$ZKDISC_ZK" "$OUT/h.sock" "$DNS" "$n"
printf 'big.service.zkdisc A\n' >"$OUT/q.txt"
echo "dnsperf, A for 100 instances (EDNS 4096), agent on core 0, dnsperf on core 1, 10 s:"
cpu() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }  # utime + stime, clock ticks
c0=$(cpu)
taskset -c 1 dnsperf -s 127.0.0.1 -p "$DNS" -d "$OUT/q.txt" -l 10 -e -c 4 -q 200 2>&1 |
    grep -E 'Queries (sent|completed|lost)|Queries per second|Average Latency|Response codes' | tee "$OUT/perf.txt"
ticks=$(( $(cpu) - c0 )); hz=$(getconf CLK_TCK)
done_q=$(awk '/Queries completed/ {print $3}' "$OUT/perf.txt")
echo "agent CPU during dnsperf: $ticks ticks at $hz/s; queries answered per CPU-second of the agent: $(( done_q * hz / (ticks > 0 ? ticks : 1) ))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
