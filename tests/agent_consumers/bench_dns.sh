#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_dns.sh BUILD_DIR [ROUNDS] [SECONDS]: DNS answers per second of
# zkdisc-agent's responder (the consumers driver) for a 10-instance service
# against dnsmasq serving the same records (A, and SRV with the targets'
# addresses), in the same run: ROUNDS interleaved pairs per type, SECONDS
# per measurement. Nothing is pinned: dnsperf runs two threads and takes
# whatever CPU the server leaves, so the server that spends less per answer
# gets more answers through. (Pinned, the server to core 0 and dnsperf to
# core 1, dnsperf's one core topped out near 105,000 queries/s: the agent
# answered all of them with its core 40% idle, dnsmasq with its core nearly
# full, and A came out at 1.00x whichever server was faster.)
# Prints both answers' sizes, each pair, then per type the median ratio
# (agent / dnsmasq, above 1 is faster) and the spread of answers/s and of
# answers per CPU-second of the server (utime + stime from /proc: the
# steadier figure on a loaded machine). Needs dnsperf,
# dnsmasq (dnsmasq-base) and dig.
set -u
build=$(cd "${1:?usage: bench_dns.sh BUILD_DIR [ROUNDS] [SECONDS]}" && pwd)
rounds=${2:-5}; secs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
export ZKDISC=$build/tools/zkdisc/zkdisc ZK_HARNESS=$build/tests/harness/zk-harness
. "$here/../cli/lib.sh"
. "$here/../harness/harness.sh"
. "$here/lib_agent.sh"
DNSMASQ=${DNSMASQ:-$(command -v dnsmasq || echo /usr/sbin/dnsmasq)}
[ -x "$DNSMASQ" ] || { echo "bench_dns: dnsmasq not found (apt-get install dnsmasq-base)" >&2; exit 1; }
zkh_up 1 || exit 1
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT
AG=$(free_port); DM=$(free_port)
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "ten"; } );
dns = { listen = "127.0.0.1:$AG"; };
CONF
: >"$OUT/hosts"; : >"$OUT/dnsmasq.conf"
for i in $(seq 1 10); do
    "$ZKDISC" create -p "/zkdisc/services/ten/t$i" \
        "{\"name\":\"ten\",\"id\":\"t$i\",\"address\":\"10.1.0.$i\",\"port\":80,\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":0,\"serviceType\":\"STATIC\",\"uriSpec\":null}" >/dev/null
    printf '10.1.0.%s ten.service.zkdisc\n10.1.0.%s t%s.ten.instance.zkdisc\n' "$i" "$i" "$i" >>"$OUT/hosts"
    printf 'srv-host=ten.service.zkdisc,t%s.ten.instance.zkdisc,80,1,100\n' "$i" >>"$OUT/dnsmasq.conf"
done
cat >>"$OUT/dnsmasq.conf" <<CONF
port=$DM
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
addn-hosts=$OUT/hosts
local=/zkdisc/
local-ttl=5
user=$(id -un)
CONF
bg "$AGENT_DRIVER" -c "$OUT/agent.conf" >"$OUT/agent.log" 2>&1; AGENT=$BG_PID
bg "$DNSMASQ" --keep-in-foreground --conf-file="$OUT/dnsmasq.conf" --pid-file= >"$OUT/dnsmasq.log" 2>&1
DNSMASQ_PID=$BG_PID
wait_until 15 sh -c "[ \$(dig @127.0.0.1 -p $AG +short ten.service.zkdisc A | grep -c .) -eq 10 ]" ||
    { echo "agent not answering"; cat "$OUT/agent.log"; exit 1; }
wait_until 15 sh -c "[ \$(dig @127.0.0.1 -p $DM +short ten.service.zkdisc SRV | grep -c .) -eq 10 ]" ||
    { echo "dnsmasq not answering"; cat "$OUT/dnsmasq.log"; exit 1; }
for t in SRV A; do
    for p in "$AG agent" "$DM dnsmasq"; do
        set -- $p
        dig @127.0.0.1 -p "$1" ten.service.zkdisc "$t" >"$OUT/dig.$2.$t"
        echo "$t from $2: $(awk '/MSG SIZE/ {print $NF}' "$OUT/dig.$2.$t") bytes," \
            "$(sed -n 's/.*ANSWER: \([0-9]*\), AUTHORITY: [0-9]*, ADDITIONAL: \([0-9]*\).*/\1 answers, \2 additional/p' "$OUT/dig.$2.$t")"
    done
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
# measure PORT PID TYPE: "answers/s answers-per-CPU-second" of the server.
measure() {
    printf 'ten.service.zkdisc %s\n' "$3" >"$OUT/q.txt"
    local c0; c0=$(cpu "$2")
    dnsperf -s 127.0.0.1 -p "$1" -d "$OUT/q.txt" -l "$secs" -e -T 2 -c 8 -q 400 >"$OUT/perf.txt" 2>&1
    local ticks=$(( $(cpu "$2") - c0 ))
    awk -v t="$ticks" -v hz="$hz" '/Queries completed/ {done = $3} /Queries per second/ {q = $4}
        END {printf "%.0f %.0f\n", q, (t > 0 ? done * hz / t : 0)}' "$OUT/perf.txt"
}
for t in SRV A; do
    : >"$OUT/ratios.$t"
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) = 1 ]; then a=$(measure "$AG" "$AGENT" "$t"); m=$(measure "$DM" "$DNSMASQ_PID" "$t")
        else m=$(measure "$DM" "$DNSMASQ_PID" "$t"); a=$(measure "$AG" "$AGENT" "$t"); fi
        set -- $a $m
        echo "$t pair $r: agent $1/s ($2 per CPU-second), dnsmasq $3/s ($4 per CPU-second)"
        awk -v a="$1" -v m="$3" -v ac="$2" -v mc="$4" 'BEGIN {printf "%.2f %.2f\n", (m > 0 ? a / m : 0), (mc > 0 ? ac / mc : 0)}' >>"$OUT/ratios.$t"
    done
    for col in 1 2; do
        what=$([ $col = 1 ] && echo "answers/s" || echo "answers per CPU-second")
        awk -v c=$col '{print $c}' "$OUT/ratios.$t" | sort -n | awk -v t="$t" -v w="$what" '{v[NR] = $1} END {
            printf "%s %s: median ratio agent/dnsmasq %.2fx (spread %.2f-%.2f over %d pairs)\n", t, w,
                (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR], NR }'
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
