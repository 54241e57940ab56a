#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent child processes: every child's true status reaches the one
# caller that started it. While exec checks run, 200 command outputs whose
# command exits 3 on its first run all fail at once: each is reported as a
# failure, then retried after a backoff, and succeeds; a command that always
# fails is given up after 5 retries. A failing nginx reload (the real
# nginx, not running) is logged as a failure, never as "reloaded", counted
# and alerted reload_failed. A failing config_files on_change puts the
# previous file back, runs on_change again on it and alerts
# config_apply_failed; an unchanged SIGHUP does not try that version again.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"
H=$AGENT_HELPERS
N=200
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
API_PORT=$(free_port)
mkdir -p "$OUT/state" "$OUT/ng/logs"

# --- the children ------------------------------------------------------------------
cat >"$OUT/always.sh" <<SH
#!/bin/sh
cat >/dev/null
echo "always fails" >&2
exit 3
SH
cat >"$OUT/on_change.sh" <<SH
#!/bin/sh
cat "$OUT/shop.json" >>"$OUT/changes.log"
if [ -f "$OUT/fail" ] && grep -q '"v": 2' "$OUT/shop.json"; then echo "on_change refuses v2" >&2; exit 4; fi
if [ -f "$OUT/slow" ] && grep -q '"v": 4' "$OUT/shop.json"; then touch "$OUT/slow-started"; sleep 60; fi
SH
chmod +x "$OUT/always.sh" "$OUT/on_change.sh"
mkdir "$OUT/first"
: >"$OUT/changes.log"
# nginx parses this for `-s reload`, then finds no master to signal: exit 1.
cat >"$OUT/ng/nginx.conf" <<CFG
pid $OUT/ng/nginx.pid;
error_log $OUT/ng/logs/error.log;
events { worker_connections 64; }
http { include $OUT/upstream.conf; server { listen 127.0.0.1:$(free_port); location / { proxy_pass http://api; } } }
CFG

outputs=""
# Output i exits 3 on its first run (it makes $OUT/first/i), 0 after.
for i in $(seq $N); do
    outputs+="{ type = \"command\"; command = [ \"/bin/sh\", \"-c\", \"cat >/dev/null; mkdir $OUT/first/$i 2>/dev/null && exit 3; exit 0\" ]; min_interval = \"10ms\"; timeout = \"120s\"; },
      "
done
cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "6s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; };
services = (
  { name = "up"; id = "up-1"; address = "127.0.0.1"; port = 1;
    checks = ( { type = "exec"; name = "true"; command = [ "/bin/true" ];
                 interval = "200ms"; timeout = "10s"; rise = 1; fall = 1; } ); },
  { name = "down"; id = "down-1"; address = "127.0.0.1"; port = 2;
    checks = ( { type = "exec"; name = "exit3"; command = [ "$H/exitcode.sh", "$OUT/no-such-file" ];
                 interval = "200ms"; timeout = "10s"; rise = 1; fall = 1; } ); }
);
watch = (
  { service = "web";
    outputs = ( $outputs{ type = "command"; command = [ "$OUT/always.sh" ]; min_interval = "10ms"; timeout = "120s"; } ); },
  { service = "api";
    outputs = ( { type = "nginx"; path = "$OUT/upstream.conf"; upstream = "api";
                  reload = [ "$NGINX", "-p", "$OUT/ng", "-c", "$OUT/ng/nginx.conf", "-s", "reload" ];
                  min_reload_interval = "100ms"; timeout = "60s"; check = []; } ); }
);
config_files = ( { app = "shop"; path = "$OUT/shop.json"; on_change = [ "$OUT/on_change.sh" ]; } );
alerts = ( { name = "file"; on = [ "reload_failed", "config_apply_failed" ];
             exec = [ "$H/hook.sh", "$OUT/alerts.log" ]; } );
CONF
expect_exit 0 conf "$AGENT" check-config -c "$OUT/agent.conf"

"$ZKDISC" register web --id w1 --port 9001 --address 127.0.0.1 >"$OUT/reg-w1.out" 2>&1 &
HELPER_PIDS+=($!)
"$ZKDISC" register api --id a1 --port 9101 --address 127.0.0.1 >"$OUT/reg-a1.out" 2>&1 &
HELPER_PIDS+=($!)
check "web and api registered" wait_until 15 sh -c "grep -q . '$OUT/reg-w1.out' && grep -q . '$OUT/reg-a1.out'"
echo '{"v": 1}' >"$OUT/v1.json"
"$ZKDISC" config put shop "$OUT/v1.json" >/dev/null
"$ZKDISC" instances down --watch >"$OUT/watch-down.out" 2>&1 &
HELPER_PIDS+=($!)
"$ZKDISC" instances up --watch >"$OUT/watch-up.out" 2>&1 &
HELPER_PIDS+=($!)

start_agent "$OUT/agent.conf" "$OUT/agent.log"
t0=$(date +%s)
metric() { # metric NAME FILTER: the sum of NAME's samples whose labels match FILTER
    api GET /metrics | awk -v n="$1" -v f="$2" 'index($0, n "{") == 1 && $0 ~ f { s += $NF } END { print s + 0 }'
}
failed_outputs() { # how many of the N exit-3 outputs reported at least one failure
    api GET /metrics | awk -v n=$N '/^zkdisc_agent_output_write_failures_total\{service="web"/ {
        split($0, a, "index=\""); split(a[2], b, "\""); if (b[1] + 0 < n && $NF >= 1) c++ } END { print c + 0 }'
}
check "up registered (exec check passing)" wait_until 30 has_count up 1

# --- 200 children exiting 3 at once, while the exec checks run ----------------------------
all_failed() { [ "$(failed_outputs)" -eq $N ]; }
check "each of the $N outputs reported its failure" wait_until 40 all_failed
check "the exit-3 check runs beside them (3 runs or more)" wait_until 20 runs_at_least down exit3 3
failed_3() { grep -c "command output \"/bin/sh -c .*; exit 0\" failed: exited with status 3" "$OUT/agent.log"; }
retried() { grep -c "command output \"/bin/sh -c .*; exit 0\" succeeded after 1 failures" "$OUT/agent.log"; }
all_retried() { [ "$(retried)" -eq $N ]; }
check "each was retried without a new change, and succeeded" wait_until 40 all_retried
check "  $N failures with status 3 logged ($(failed_3))" [ "$(failed_3)" -eq $N ]
the200='service=.web.,output=.command.,index=.([0-9]|[0-9][0-9]|1[0-9][0-9]).}'
check "  2 runs each ($(metric zkdisc_agent_output_writes_total "$the200") in all)" \
    [ "$(metric zkdisc_agent_output_writes_total "$the200")" -eq $((2 * N)) ]
check "  1 failure each ($(metric zkdisc_agent_output_write_failures_total "$the200") in all)" \
    [ "$(metric zkdisc_agent_output_write_failures_total "$the200")" -eq $N ]

# --- a failing nginx reload --------------------------------------------------------------------
check "nginx reload failure logged" wait_until 60 grep -q "watch api: nginx reload \".*\" failed: exited with status 1" "$OUT/agent.log"
check "reload_failed alerted (exec hook)" wait_until 10 grep -q "reload_failed api" "$OUT/alerts.log"
for id in a2 a3; do # each change reloads, and each reload fails
    "$ZKDISC" register api --id $id --port 9102 --address 127.0.0.1 >"$OUT/reg-$id.out" 2>&1 &
    HELPER_PIDS+=($!)
    check "upstream lists $id" wait_until 15 grep -q "# $id" "$OUT/upstream.conf"
done
reloads_all_failed() {
    local f r
    f=$(metric zkdisc_agent_output_reload_failures_total service=.api)
    r=$(metric zkdisc_agent_output_reloads_total service=.api)
    [ "$f" -ge 3 ] && [ "$f" -eq "$r" ]
}
check "3 reloads or more, every one counted as failed" wait_until 10 reloads_all_failed
check "  with nginx's own words" grep -q 'nginx.pid' "$OUT/alerts.log.json"
check "never logged as reloaded" sh -c "! grep -q 'nginx reloaded' '$OUT/agent.log'"

# --- a failing on_change ------------------------------------------------------------------------
check "v1 written, on_change ran" wait_until 15 grep -q '"v": 1' "$OUT/changes.log"
cp "$OUT/shop.json" "$OUT/v1.written"
touch "$OUT/fail"
echo '{"v": 2}' >"$OUT/v2.json"
"$ZKDISC" config put shop "$OUT/v2.json" >/dev/null
check "config_apply_failed alerted (exec hook)" wait_until 15 grep -q "config_apply_failed shop" "$OUT/alerts.log"
check "the v1 file is back" cmp -s "$OUT/shop.json" "$OUT/v1.written"
check "on_change ran on v2, then again on the restored v1" wait_until 10 sh -c \
    "[ \"\$(tr -d ' \n' <'$OUT/changes.log')\" = '{\"v\":1}{\"v\":2}{\"v\":1}' ]"
check "  logged" grep -q "config_files shop: on_change ran on the restored file" "$OUT/agent.log"
kill -HUP "$AGENT_PID"
check "unchanged SIGHUP reloaded" wait_until 10 grep -q "reloaded: " "$OUT/agent.log"
sleep 3 # the agent ticks each second: a retry of v2 would show within three; there is no event for its absence
check "v2 not tried again after the SIGHUP" [ "$(grep -c '"v": 2' "$OUT/changes.log")" -eq 1 ]
check "  nor alerted again" [ "$(grep -c 'config_files shop: version 2 not applied' "$OUT/agent.log")" -eq 1 ]
rm "$OUT/fail"
echo '{"v": 3}' >"$OUT/v3.json"
"$ZKDISC" config put shop "$OUT/v3.json" >/dev/null
check "v3 applied" wait_until 15 grep -q '"v": 3' "$OUT/shop.json"
# A SIGHUP while on_change runs kills it with the old entry: the new entry
# runs it again, though the file is already written.
touch "$OUT/slow"
echo '{"v": 4}' >"$OUT/v4.json"
"$ZKDISC" config put shop "$OUT/v4.json" >/dev/null
check "v4's on_change started (slow)" wait_until 15 test -e "$OUT/slow-started"
rm "$OUT/slow"
kill -HUP "$AGENT_PID"
check "on_change killed by a SIGHUP: run again on v4" wait_until 10 \
    sh -c "[ \$(grep -c '\"v\": 4' '$OUT/changes.log') -eq 2 ]"

# --- a command that always fails: 5 retries (1, 2, 4, 8, 16 s apart), then given up -----------
always='command output "'$OUT'/always.sh"'
check "always.sh given up after 5 retries" wait_until 60 grep -q "$always failed 6 times; giving up" "$OUT/agent.log"
check "  6 runs, 6 failures logged with its output" \
    [ "$(grep -c "$always failed: exited with status 3: always fails" "$OUT/agent.log")" -eq 6 ]
check "  6 failures counted" [ "$(metric zkdisc_agent_output_write_failures_total 'service=.web.,output=.command.,index=.200.}')" -eq 6 ]
check "the exit-3 exec check never passed (down never registered)" sh -c "! grep -q added '$OUT/watch-down.out'"
check "the passing exec check never failed (up never removed)" sh -c "! grep -q removed '$OUT/watch-up.out'"
bound=90; [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ] && bound=240 # instrumented: every process is slower
check "agent part took under $bound s ($(( $(date +%s) - t0 )) s)" [ $(( $(date +%s) - t0 )) -lt $bound ]

kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
check "agent exited 0" [ $? -eq 0 ]
AGENT_PID=
check "no sanitizer report" no_sanitizer_reports "$OUT/agent.log"
finish
