#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent (the real agent) and a real HAProxy in master-worker mode:
# HAProxy's state is reconciled, not assumed. A drained instance receives
# no request (counted at its backend) across a HAProxy reload behind the
# agent's back (USR2 to the master), an agent restart after it, a SIGHUP
# that reopens the watch, and a state changed by hand on the stats socket
# (drift, put back by the periodic reconcile). A hostname instance (localhost) is
# served; a weight of 1000 is scaled into 1..256 with the others;
# bad.invalid is logged once, never written. A SIGSTOPped HAProxy for
# 10 s while instances change: /v1/agent and DNS answer within 50 ms p99.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
command -v haproxy >/dev/null || { echo "haproxy is not installed (tools/install-deps.sh)"; exit 1; }
H=$AGENT_HELPERS
AGENT=${ZKDISC_AGENT:-$(cd "$(dirname "$ZKDISC")/../zkdisc-agent" && pwd)/zkdisc-agent}

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'kill -CONT "${WORKER:-0}" 2>/dev/null; cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

declare -A PORT REG
for id in a b h w; do
    PORT[$id]=$(free_port)
    bg python3 "$H/idserver.py" "${PORT[$id]}" "$id" "$OUT/$id.count"
    wait_until 10 curl -sf "http://127.0.0.1:${PORT[$id]}/ready" >/dev/null
done
for id in a b; do register web $id "${PORT[$id]}"; REG[$id]=$REG_PID; done

FE=$(free_port)
API=127.0.0.1:$(free_port)
DNSP=$(free_port)
cat >"$OUT/reload.sh" <<SH
#!/bin/sh
echo reload >>"$OUT/reloads.log"
[ -f "$OUT/haproxy.pid" ] || exit 0
kill -USR2 "\$(cat "$OUT/haproxy.pid")"
SH
chmod +x "$OUT/reload.sh"
: >"$OUT/reloads.log"
mkdir -p "$OUT/state"
# conf INTERVAL: the agent's file; a new INTERVAL changes the watch, so a
# SIGHUP reopens its output (slots taken back from the file again).
conf() {
    cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; };
agent = { api = "$API"; state_dir = "$OUT/state"; };
dns = { listen = "127.0.0.1:$DNSP"; domain = "zkdisc"; };
watch = ( { service = "web";
  outputs = ( { type = "haproxy"; config = "$OUT/backend.cfg"; backend = "web";
                socket = "$OUT/haproxy.sock"; slots = 6; options = [ "balance roundrobin" ];
                reload = [ "$OUT/reload.sh" ]; min_reload_interval = "$1";
                check = [ "haproxy", "-c", "-q", "-f", "$OUT/main.cfg", "-f", "$OUT/backend.cfg" ]; } ); } );
CONF
}
conf 1s
# conf_without_watch: the same file with its watch block removed.
conf_without_watch() { conf "$1"; sed -i '/^watch = /,$d' "$OUT/agent.conf"; }
cat >"$OUT/main.cfg" <<CFG
global
    stats socket $OUT/haproxy.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:$FE
    default_backend web
CFG
start() { bg "$AGENT" -c "$OUT/agent.conf" 2>>"$OUT/agent.log"; AGENT_PID=$BG_PID; }
start
check "backend file has a b" wait_until 15 sh -c "[ \"\$(grep -cs '# [ab]\$' '$OUT/backend.cfg')\" = 2 ]"
bg haproxy -W -db -f "$OUT/main.cfg" -f "$OUT/backend.cfg" -p "$OUT/haproxy.pid"
HAP=$BG_PID
check "haproxy serves" wait_until 15 curl -sf "http://127.0.0.1:$FE/"
check "stats socket up" wait_until 10 test -S "$OUT/haproxy.sock"

sock() { python3 "$H/hasock.py" "$OUT/haproxy.sock" "$@"; }
load() { python3 "$H/loadgen.py" "http://127.0.0.1:$FE/" "$1" >"$OUT/load.json"; }
got() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["failed"], " ".join(sorted(d["by_body"])))' "$OUT/load.json"; }
reaches() { load "${2:-20}"; [ "$(got)" = "0 $1" ]; }
count() { [ -f "$OUT/$1.count" ] && wc -l <"$OUT/$1.count" || echo 0; }
slot_of() { sed -n "s/^    server zkd\([0-9]*\) .* # $1\( (drained)\)\?\$/\1/p" "$OUT/backend.cfg"; }
# admin_of ID: the admin-state bits HAProxy has for ID's slot.
admin_of() { sock show servers state web | awk -v s="zkd$(slot_of "$1")" '$4 == s { print $7 }'; }
drain_bit() { [ $(( $(admin_of "$1") & 8 )) -eq 8 ]; }
pid_of_worker() { sock show info | sed -n 's/^Pid: //p'; }
api_up() { curl -sf "http://$API/v1/watch/web" -o /dev/null; }

check "requests reach a b" wait_until 15 reaches "a b"
"$ZKDISC" drain web b
check "drained b gets nothing" wait_until 15 reaches "a"
check "b is in drain in haproxy" wait_until 10 drain_bit b
: >"$OUT/b.count"

# 1. HAProxy reloaded behind the agent's back: the new worker loaded the
# file (weight 0); the agent sees the new Pid and puts b in drain again.
p0=$(pid_of_worker)
kill -USR2 "$(cat "$OUT/haproxy.pid")"
check "haproxy reloaded (new worker)" wait_until 15 sh -c "p=\$(python3 '$H/hasock.py' '$OUT/haproxy.sock' show info | sed -n 's/^Pid: //p'); [ -n \"\$p\" ] && [ \"\$p\" != '$p0' ]"
check "after the haproxy reload b is in drain again" wait_until 5 drain_bit b
check "the agent saw the new haproxy process" wait_until 5 grep -q "haproxy process changed" "$OUT/agent.log"
load 100
check "haproxy reload: 100 requests, none at drained b ($(count b) at b; $(got))" [ "$(count b)" -eq 0 ]

# 2. Agent restart (after that HAProxy reload, which left b at weight 0 but
# ready): the slots come back from the file with their full state.
stop_pid "$AGENT_PID"
start
check "restarted agent serves its api" wait_until 15 api_up
check "restarted agent took its slots back" wait_until 10 grep -q "slots taken back" "$OUT/agent.log"
load 100
check "agent restart: 100 requests, none at drained b ($(count b) at b; $(got))" [ "$(count b)" -eq 0 ]
check "agent restart: b still in drain" drain_bit b

# 3. SIGHUP with a changed watch: its output is reopened from the file.
conf 2s
kill -HUP "$AGENT_PID"
check "sighup reloaded" wait_until 10 grep -q "reloaded" "$OUT/agent.log"
check "sighup took the slots back" wait_until 10 sh -c "[ \$(grep -c 'slots taken back' '$OUT/agent.log') -ge 2 ]"
load 100
check "sighup: 100 requests, none at drained b ($(count b) at b; $(got))" [ "$(count b)" -eq 0 ]

# 3b. SIGHUP with the watch removed, then restored: its output, and the
# Runtime API connection it keeps, close and open again (under ASan in a
# sanitizer build); the slots come back from the file.
reloads_logged() { grep -c "reloaded: " "$OUT/agent.log"; }
n0=$(reloads_logged)
conf_without_watch 2s
kill -HUP "$AGENT_PID"
removed() { [ "$(reloads_logged)" -gt "$n0" ] && ! curl -sf "http://$API/v1/watch/web" -o /dev/null; }
check "sighup with the watch removed" wait_until 10 removed
conf 2s
kill -HUP "$AGENT_PID"
restored() { [ "$(reloads_logged)" -gt $((n0 + 1)) ]; }
check "sighup with the watch restored" wait_until 10 restored
check "restored: the slots taken back" wait_until 10 sh -c "[ \$(grep -c 'slots taken back' '$OUT/agent.log') -ge 3 ]"
load 100
check "restored: 100 requests, none at drained b ($(count b) at b; $(got))" [ "$(count b)" -eq 0 ]

# 4. Drift: someone readies b by hand; the periodic reconcile drains it again.
sock set server "web/zkd$(slot_of b)" state ready >/dev/null
sock set server "web/zkd$(slot_of b)" weight 100 >/dev/null
check "drift put back within 5 s" wait_until 5 drain_bit b
: >"$OUT/b.count"
load 50
check "after the drift fix nothing at b ($(count b))" [ "$(count b)" -eq 0 ]

# 5. A host name (localhost, from /etc/hosts) reaches HAProxy as an IP.
bg "$ZKDISC" register web --id h --port "${PORT[h]}" --address localhost >"$OUT/reg-h.out" 2>&1
REG[h]=$BG_PID
check "hostname instance written with its address" wait_until 15 grep -q "127.0.0.1:${PORT[h]} weight 100 # h\$" "$OUT/backend.cfg"
check "hostname instance served" wait_until 15 reaches "a h" 30

# 6. Weight 1000: every weight scaled by 256/1000.
bg "$ZKDISC" register web --id w --port "${PORT[w]}" --address 127.0.0.1 --weight 1000 >"$OUT/reg-w.out" 2>&1
REG[w]=$BG_PID
check "weight 1000 written as 256" wait_until 15 grep -q "weight 256 # w\$" "$OUT/backend.cfg"
check "weight 100 scaled to 26 beside it" grep -q "weight 26 # a\$" "$OUT/backend.cfg"
check "the scaling is logged" grep -q "instance w weight 1000 scaled to 256" "$OUT/agent.log"
check "w served" wait_until 15 reaches "a h w" 60

# 7. An address that does not resolve: logged once with the reason, never written.
"$ZKDISC" create -p /zkdisc/services/web/bad '{"name":"web","id":"bad","address":"bad.invalid","port":80}' >/dev/null
check "bad.invalid logged" wait_until 10 grep -q "instance bad skipped: address bad.invalid does not resolve" "$OUT/agent.log"
"$ZKDISC" undrain web b
"$ZKDISC" drain web b
check "b drained again" wait_until 10 drain_bit b
check "bad.invalid logged once ($(grep -c 'instance bad skipped' "$OUT/agent.log"))" [ "$(grep -c 'instance bad skipped' "$OUT/agent.log")" -eq 1 ]
check "bad.invalid not written" sh -c "! grep -q bad.invalid '$OUT/backend.cfg'"

# 8. HAProxy's worker stopped for 10 s while instances change: the agent's
# loop never waits on it (/v1/agent and DNS within 50 ms p99).
WORKER=$(pid_of_worker)
kill -STOP "$WORKER"
bg python3 "$H/latency.py" "http://$API/v1/agent" "127.0.0.1:$DNSP" web.service.zkdisc 10 >"$OUT/latency.json"
PROBE=$BG_PID
for i in 1 2 3 4; do "$ZKDISC" drain web a; "$ZKDISC" undrain web a; done
wait "$PROBE"
kill -CONT "$WORKER"
echo "latency while haproxy was stopped: $(cat "$OUT/latency.json")"
lat() { sed -n "s/.*\"$1\": \([-0-9.]*\).*/\1/p" "$OUT/latency.json"; }
under50() { [ "$(lat "$1_failed")" = 0 ] && awk -v v="$(lat "$1_p99_ms")" 'BEGIN { exit !(v >= 0 && v < 50) }'; }
check "api p99 under 50 ms ($(lat api_p99_ms) ms, $(lat api_n) requests, $(lat api_failed) failed)" under50 api
check "dns p99 under 50 ms ($(lat dns_p99_ms) ms, $(lat dns_n) queries, $(lat dns_failed) failed)" under50 dns
check "runtime timeouts were seen" grep -q "no answer within 2 s" "$OUT/agent.log"
check "after SIGCONT: a b-drained h w" wait_until 20 reaches "a h w" 60

check "the agent is still running" kill -0 "$AGENT_PID"
stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -qE 'Sanitizer|runtime error:' '$OUT/agent.log'"
stop_pid "$HAP"
finish
