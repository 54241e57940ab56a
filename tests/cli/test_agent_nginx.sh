#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent consumers: a real nginx fed by the nginx output (an upstream
# file and a reload). After each change (drain, undrain, removal, a new
# instance) requests reach only the usable instances; reloads are
# rate-limited; an empty set is a valid upstream (one placeholder, down).
# A host name (localhost) is resolved by the agent and served; bad.invalid
# is logged once and never written, so reloads keep working; a file that
# `nginx -t` refuses is never reloaded and the previous one is put back.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
command -v nginx >/dev/null || { echo "nginx is not installed (tools/install-deps.sh)"; exit 1; }
H=$AGENT_HELPERS

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

declare -A PORT REG
for id in a b c d h; do
    PORT[$id]=$(free_port)
    bg python3 "$H/idserver.py" "${PORT[$id]}" "$id"
    wait_until 10 curl -sf "http://127.0.0.1:${PORT[$id]}/" >/dev/null
done
for id in a b c; do register web $id "${PORT[$id]}"; REG[$id]=$REG_PID; done

FE=$(free_port)
mkdir -p "$OUT/nginx"
cat >"$OUT/reload.sh" <<SH
#!/bin/sh
echo reload >>"$OUT/reloads.log"
pid=\$(cat "$OUT/nginx.pid" 2>/dev/null)
[ -n "\$pid" ] || exit 0 # nginx not started yet
kill -HUP "\$pid"
SH
chmod +x "$OUT/reload.sh"
: >"$OUT/reloads.log"
# conf [OPTION-LINE]: the agent's file; an option line goes into the upstream.
conf() {
    cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "web";
  outputs = ( { type = "nginx"; path = "$OUT/upstream.conf"; upstream = "web";
                reload = [ "$OUT/reload.sh" ]; min_reload_interval = "500ms";
                check = [ "nginx", "-t", "-q", "-p", "$OUT/nginx", "-c", "$OUT/nginx.conf" ];
                ${1:+options = [ \"$1\" ];} } ); } );
CONF
}
conf
cat >"$OUT/nginx.conf" <<CFG
worker_processes 1;
pid $OUT/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx/body;
    proxy_temp_path $OUT/nginx/proxy;
    include $OUT/upstream.conf;
    server {
        listen 127.0.0.1:$FE;
        location / { proxy_pass http://web; proxy_next_upstream off; }
    }
}
CFG
start_agent "$OUT/agent.conf"
check "upstream file has a b c" wait_until 15 sh -c "[ \$(grep -c 'weight=100; # [abc]\$' '$OUT/upstream.conf') -eq 3 ]"
expect_exit 0 nginx-t nginx -t -p "$OUT/nginx" -c "$OUT/nginx.conf"
bg nginx -p "$OUT/nginx" -c "$OUT/nginx.conf" -g "daemon off;"
NGX=$BG_PID
check "nginx serves" wait_until 15 curl -sf "http://127.0.0.1:$FE/"

load() { python3 "$H/loadgen.py" "http://127.0.0.1:$FE/" "$1" >"$OUT/load.json"; }
got() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["failed"], " ".join(sorted(d["by_body"])))' "$OUT/load.json"; }
reaches() { load 30; [ "$(got)" = "0 $1" ]; }

check "requests reach a b c" wait_until 15 reaches "a b c"
"$ZKDISC" drain web b
check "drained b is down in the file" wait_until 10 grep -q 'weight=100 down; # b$' "$OUT/upstream.conf"
check "after drain: a c" wait_until 15 reaches "a c"
"$ZKDISC" undrain web b
check "after undrain: a b c" wait_until 15 reaches "a b c"
stop_pid "${REG[c]}"
check "after removal: a b" wait_until 15 reaches "a b"
register web d "${PORT[d]}"; REG[d]=$REG_PID
check "new instance: a b d" wait_until 15 reaches "a b d"
load 150
check "150 requests reach a b d, none failed ($(got))" [ "$(got)" = "0 a b d" ]
r=$(wc -l <"$OUT/reloads.log")
check "one reload per change at most ($r for 5 writes)" [ "$r" -le 6 ]

# Rate limit: a burst of changes within the interval costs at most two reloads.
r0=$(wc -l <"$OUT/reloads.log")
for i in 1 2 3; do "$ZKDISC" drain web a; "$ZKDISC" undrain web a; done
"$ZKDISC" drain web d
check "burst ends with d down" wait_until 15 reaches "a b"
r=$(( $(wc -l <"$OUT/reloads.log") - r0 ))
echo "burst of 7 changes: $r reloads"

# A host name: resolved by the agent (from /etc/hosts), written as an IP.
bg "$ZKDISC" register web --id h --port "${PORT[h]}" --address localhost >"$OUT/reg-h.out" 2>&1
check "hostname instance written as an IP" wait_until 15 grep -q "server 127.0.0.1:${PORT[h]} weight=100; # h\$" "$OUT/upstream.conf"
check "hostname instance served" wait_until 15 reaches "a b h"

# bad.invalid never reaches the file, so a reload after it still works.
f0=$(alert_count reload_failed)
"$ZKDISC" create -p /zkdisc/services/web/bad '{"name":"web","id":"bad","address":"bad.invalid","port":80}' >/dev/null
check "bad.invalid logged" wait_until 10 grep -q "instance bad skipped: address bad.invalid does not resolve" "$OUT/agent.log"
"$ZKDISC" undrain web d
check "a reload after bad.invalid: a b d h" wait_until 15 reaches "a b d h"
check "bad.invalid not written" sh -c "! grep -q bad.invalid '$OUT/upstream.conf'"
check "bad.invalid logged once" [ "$(grep -c 'instance bad skipped' "$OUT/agent.log")" -eq 1 ]
expect_exit 0 nginx-t-after-bad nginx -t -q -p "$OUT/nginx" -c "$OUT/nginx.conf"
check "no reload failed" [ "$(alert_count reload_failed)" -eq "$f0" ]

# A file nginx -t refuses (a bad option line): not reloaded, the previous file back.
cp "$OUT/upstream.conf" "$OUT/upstream.good"
r0=$(wc -l <"$OUT/reloads.log")
conf "no_such_directive on;"
kill -HUP "$AGENT_PID"
check "check failure alerted" wait_until 15 sh -c "grep -F '\"event\":\"reload_failed\"' '$ZKD_ALERT_LOG' | grep -qF 'nginx -t'"
check "previous file put back" wait_until 10 cmp -s "$OUT/upstream.conf" "$OUT/upstream.good"
check "no reload of the refused file" [ "$(wc -l <"$OUT/reloads.log")" -eq "$r0" ]
check "nginx still serves a b d h" reaches "a b d h"
conf
kill -HUP "$AGENT_PID"
"$ZKDISC" drain web h
check "good config again: h drained" wait_until 15 reaches "a b d"

stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
stop_pid "$NGX"
finish
