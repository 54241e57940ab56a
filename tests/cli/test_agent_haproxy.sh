#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent consumers: a real HAProxy (master-worker mode) fed by the
# haproxy output. Three local HTTP backends answer with their id: requests
# through the frontend reach exactly the usable instances; a drained one
# gets no new request; a fourth instance beyond the slots makes one reload;
# a rolling restart of all three (each drained, stopped, started and
# registered again) under a steady request loop fails no request and
# reloads HAProxy at most once; a socket that is gone falls back to a
# reload and is alerted; unsafe records are skipped.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
command -v haproxy >/dev/null || { echo "haproxy is not installed (tools/install-deps.sh)"; exit 1; }
H=$AGENT_HELPERS

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

declare -A PORT SRV REG
for id in a b c d; do PORT[$id]=$(free_port); done
backend_up() { bg python3 "$H/idserver.py" "${PORT[$1]}" "$1"; SRV[$1]=$BG_PID; wait_until 10 curl -sf "http://127.0.0.1:${PORT[$1]}/" >/dev/null; }
for id in a b c; do backend_up $id; register web $id "${PORT[$id]}"; REG[$id]=$REG_PID; done

FE=$(free_port)
cat >"$OUT/reload.sh" <<SH
#!/bin/sh
# Reloads HAProxy in master-worker mode: SIGUSR2 to the master.
echo reload >>"$OUT/reloads.log"
[ -f "$OUT/haproxy.pid" ] || exit 0
kill -USR2 "\$(cat "$OUT/haproxy.pid")"
SH
chmod +x "$OUT/reload.sh"
: >"$OUT/reloads.log"
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "web";
  outputs = ( { type = "haproxy"; config = "$OUT/backend.cfg"; backend = "web";
                socket = "$OUT/haproxy.sock"; slots = 3; options = [ "balance roundrobin" ];
                reload = [ "$OUT/reload.sh" ]; min_reload_interval = "1s";
                check = [ "haproxy", "-c", "-q", "-f", "$OUT/main.cfg", "-f", "$OUT/backend.cfg" ]; } ); } );
CONF
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
API=127.0.0.1:$(free_port)
start_agent "$OUT/agent.conf" --api "$API"
check "backend file has a b c" wait_until 15 sh -c "[ \$(grep -c '# [abc]\$' '$OUT/backend.cfg') -eq 3 ]"
check "haproxy accepts the file" haproxy -c -q -f "$OUT/main.cfg" -f "$OUT/backend.cfg"
bg haproxy -W -db -f "$OUT/main.cfg" -f "$OUT/backend.cfg" -p "$OUT/haproxy.pid"
HAP=$BG_PID
check "haproxy serves" wait_until 15 curl -sf "http://127.0.0.1:$FE/"
check "stats socket up" wait_until 10 test -S "$OUT/haproxy.sock"
reloads() { wc -l <"$OUT/reloads.log"; }

# load N [FILE]: N requests through HAProxy; the summary in $OUT/FILE.json.
load() { python3 "$H/loadgen.py" "http://127.0.0.1:$FE/" "$1" >"$OUT/${2:-load}.json"; }
got() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["failed"], " ".join(sorted(d["by_body"])))' "$OUT/${1:-load}.json"; }
reaches() { load "${2:-30}"; [ "$(got)" = "0 $1" ]; }

load 300
check "300 requests reach a b c, none failed ($(got))" [ "$(got)" = "0 a b c" ]

# Drained through zkdisc: no new request reaches it.
"$ZKDISC" drain web b
check "drained b gets nothing" wait_until 15 reaches "a c"
load 300
check "300 requests after the drain reach a c ($(got))" [ "$(got)" = "0 a c" ]
check "state drain in haproxy" sh -c "python3 '$H/hasock.py' '$OUT/haproxy.sock' show stat | grep -q '^web,zkd[0-9]*,.*,DRAIN,'"
"$ZKDISC" undrain web b
check "undrained b back" wait_until 15 reaches "a b c"

# Changes in quick succession share the Runtime API connection (kept for
# a second): each change is a round of its own (3 commands pushed), but
# six changes in about a second open at most 3 connections, not 6.
metric() { curl -sf "http://$API/metrics" | sed -n "s/^zkdisc_agent_haproxy_runtime_$1_total{service=\"web\",output=\"haproxy\",index=\"0\"} //p"; }
conns0=$(metric connections) cmds0=$(metric commands)
for i in 1 2 3; do "$ZKDISC" drain web b; "$ZKDISC" undrain web b; done
rounds_pushed() { [ "$(metric commands)" -ge $((cmds0 + 4 * 3)) ]; }
check "the changes were pushed ($(( $(metric commands) - cmds0 )) commands)" wait_until 10 rounds_pushed
check "over at most 3 connections ($(( $(metric connections) - conns0 )))" \
    [ $(( $(metric connections) - conns0 )) -le 3 ]
check "b served after them" wait_until 15 reaches "a b c"
check "no reload so far" [ "$(reloads)" -le 1 ] # the first write may reload a HAProxy that was not started yet

# A fourth instance: the three slots are taken, so one reload.
r0=$(reloads)
backend_up d; register web d "${PORT[d]}"; REG[d]=$REG_PID
check "d served after a reload" wait_until 20 reaches "a b c d" 40
check "exactly one reload for the new slots" [ "$(( $(reloads) - r0 ))" -eq 1 ]
check "file has 6 slots" [ "$(grep -c '^    server zkd' "$OUT/backend.cfg")" -eq 6 ]
stop_pid "${REG[d]}"
check "d out after deregistration" wait_until 15 reaches "a b c"

# Rolling restart under a steady request loop.
r0=$(reloads)
rm -f "$OUT/stop"
bg python3 "$H/loadgen.py" "http://127.0.0.1:$FE/" --until "$OUT/stop" --pause 5 >"$OUT/rolling.json"
LOADER=$BG_PID
for id in a b c; do
    "$ZKDISC" drain web $id
    wait_until 15 sh -c "python3 '$H/hasock.py' '$OUT/haproxy.sock' show stat | grep -q '^web,zkd[0-9]*,.*,DRAIN,'" ||
        fail "$id never drained in haproxy"
    stop_pid "${SRV[$id]}"
    stop_pid "${REG[$id]}"
    backend_up $id
    register web $id "${PORT[$id]}"; REG[$id]=$REG_PID
    wait_until 15 sh -c "! python3 '$H/hasock.py' '$OUT/haproxy.sock' show stat | grep -q '^web,zkd[0-9]*,.*,DRAIN,'" ||
        fail "$id never came back"
done
touch "$OUT/stop"
wait "$LOADER"
summary=$(cat "$OUT/rolling.json")
CHECKS=$((CHECKS + 1))
if echo "$summary" | grep -q '"failed": 0,'; then pass "rolling restart: no failed request: $summary"
else fail "rolling restart: $summary"; fi
check "rolling restart reloaded at most once ($(( $(reloads) - r0 )))" [ "$(( $(reloads) - r0 ))" -le 1 ]
check "all three serve after it" wait_until 15 reaches "a b c"

# An agent restart takes its slots back from the file: no reload, nothing moves.
r0=$(reloads)
cp "$OUT/backend.cfg" "$OUT/backend.before"
stop_pid "$AGENT_PID"
start_agent "$OUT/agent.conf" --api "$API"
check "restarted agent serves its api" wait_until 15 curl -sf "http://$API/v1/watch/web" -o /dev/null
"$ZKDISC" drain web a
check "drain after an agent restart" wait_until 15 reaches "b c"
"$ZKDISC" undrain web a
check "undrain after an agent restart" wait_until 15 reaches "a b c"
check "same file after the agent restart" cmp -s "$OUT/backend.cfg" "$OUT/backend.before"
check "no reload for the agent restart" [ "$(reloads)" -eq "$r0" ]

# Unsafe records are skipped for this output and counted.
"$ZKDISC" create -p /zkdisc/services/web/evil '{"name":"web","id":"evil","address":"1.2.3.4 #","port":80,"payload":{"weight":1000}}' >/dev/null
check "unsafe record counted" wait_until 10 sh -c "curl -sf http://$API/metrics | grep -q 'zkdisc_agent_output_skipped_records_total{service=\"web\",output=\"haproxy\",index=\"0\"} [1-9]'"
check "unsafe record not written" sh -c "! grep -q evil '$OUT/backend.cfg'"
"$ZKDISC" rm /zkdisc/services/web/evil >/dev/null

# The socket is gone: the change falls back to a reload, alerted. The
# connection a round keeps works without the path, so first a round on a
# new one (the tick's, within RT_KEEP_MS and a tick) has to fail.
r0=$(reloads) a0=$(alert_count haproxy_runtime_failed web)
rt_fails() { grep -c "haproxy runtime api $OUT/haproxy.sock: No such file" "$OUT/agent.log"; }
f0=$(rt_fails)
mv "$OUT/haproxy.sock" "$OUT/haproxy.sock.away"
rt_failed() { [ "$(rt_fails)" -gt "$f0" ]; }
check "a round on a new connection finds the socket gone" wait_until 5 rt_failed
"$ZKDISC" drain web c
alerted() { [ "$(alert_count haproxy_runtime_failed web)" -gt "$a0" ]; }
check "runtime failure alerted" wait_until 10 alerted
check "fell back to a reload" wait_until 10 sh -c "[ \$(wc -l <'$OUT/reloads.log') -gt $r0 ]"
check "c drained after the reload" wait_until 20 reaches "a b"

stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
stop_pid "$HAP"
finish
