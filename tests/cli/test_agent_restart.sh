#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent restarts and reloads without flap, under a watcher
# (`zkdisc instances web --watch`) that must see no removed: a SIGHUP that
# changes a check's threshold keeps the check's state; 20 restarts
# (SIGTERM with agent.leave_on_terminate = false, and SIGKILL, each followed
# by a start within the session timeout) resume the same session and the
# saved check states. Then: a service dropped from the file while the agent
# was down is removed at the next start, and so is the old node of a service
# renamed while it was down, though the agent was killed as soon as the node
# showed (session.json lists a node before its create); session.json is 0600 in a 0700
# directory; with leave_on_terminate at its default SIGTERM still drains and
# deregisters, and forgets the session. A check critical before a restart
# has its recovery raised after it (and its critical not raised again).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
sleep 100000 & SLEEPER=$!
HELPER_PIDS+=($SLEEPER)
API_PORT=$(free_port)
STATE=$OUT/state
write_conf() { # write_conf MAX_RSS LEAVE [EXTRA-SERVICE-TEXT]
    cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "8s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$STATE"; drain_delay = "500ms"; $2 };
services = (
  ${3:-}
  { name = "other"; id = "other-1"; port = 2;
    checks = ( { type = "memory"; pid = $SLEEPER; max_rss = "200M"; interval = "200ms"; rise = 3; fall = 3; } ); }
);
${4:-}
CONF
}
WEB='{ name = "web"; id = "web-1"; address = "127.0.0.1"; port = 1;
    checks = ( { type = "memory"; name = "rss"; pid = '$SLEEPER'; max_rss = "MAXRSS"; interval = "200ms"; rise = 3; fall = 3; } ); },'
web() { printf '%s' "${WEB/MAXRSS/$1}"; }
agent_up() { [ "$(api_code GET /v1/agent)" = 200 ]; }
removed() { grep -c "removed web-1" "$OUT/watch.out"; }
log_count() { grep -c "$1" "$OUT/agent.log"; }

write_conf 200M "leave_on_terminate = false;" "$(web 200M)"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
within "web registered" 5 has_count web 1
"$ZKDISC" instances web --watch >"$OUT/watch.out" 2>&1 &
HELPER_PIDS+=($!)
check "watcher sees web" wait_until 10 grep -q "added web-1" "$OUT/watch.out"

# --- SIGHUP: a threshold change keeps the check's state -----------------------
write_conf 200M "leave_on_terminate = false;" "$(web 300M)"
kill -HUP "$AGENT_PID"
check "reload: web changed" wait_until 5 grep -q "reloaded: 1 services unchanged, 1 changed" "$OUT/agent.log"
check "reload: the check kept passing" check_is web-1 rss passing
n=$(runs web-1 rss)
check "reload: 10 more probes under the new threshold" wait_until 10 runs_at_least web-1 rss $((n + 10))
check "reload: web still registered" has_count web 1
check "reload: 0 removed under the watcher" [ "$(removed)" -eq 0 ]

# --- 20 restarts within the session timeout -----------------------------------
czxid() { "$ZKDISC" stat /zkdisc/services/web/web-1 | grep '^czxid'; }
before=$(czxid)
session=$(api GET /v1/agent | grep -o '"session":"[^"]*"')
t0=$(date +%s)
ok=0
for i in $(seq 1 20); do
    if [ $((i % 2)) -eq 1 ]; then kill -TERM "$AGENT_PID"; else kill -KILL "$AGENT_PID"; fi
    wait "$AGENT_PID" 2>/dev/null
    resumed=$(log_count "resumed the previous run's session")
    start_agent "$OUT/agent.conf" "$OUT/agent.log"
    if wait_until 8 sh -c "[ \$(grep -c \"resumed the previous run's session\" '$OUT/agent.log') -gt $resumed ]" &&
        wait_until 5 agent_up; then
        ok=$((ok + 1))
    else
        fail "restart $i: no resumed session"
    fi
    has_count web 1 || fail "restart $i: web not registered"
done
check "20 restarts, each resumed the session (in $(( $(date +%s) - t0 )) s)" [ "$ok" -eq 20 ]
check "restarts: the same session throughout" [ "$(api GET /v1/agent | grep -o '"session":"[^"]*"')" = "$session" ]
check "restarts: check states restored" grep -q "web-1: check states restored" "$OUT/agent.log"
check "restarts: web still registered" has_count web 1
check "restarts: other still registered" has_count other 1
check "restarts: the same node (never re-created: $before)" [ -n "$before" -a "$(czxid)" = "$before" ]
check "restarts: 0 removed under the watcher" [ "$(removed)" -eq 0 ]
check "session.json is 0600" [ "$(stat -c %a "$STATE/session.json")" = 600 ]
check "state_dir is 0700" [ "$(stat -c %a "$STATE")" = 700 ]
check "checks.json is 0600" [ "$(stat -c %a "$STATE/checks.json")" = 600 ]

# --- a service dropped from the file while the agent was down -----------------
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
write_conf 300M "leave_on_terminate = false;"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
within "dropped while down: web removed at the start" 4 has_count web 0
check "dropped while down: other kept" has_count other 1
write_conf 300M "leave_on_terminate = false;" "$(web 300M)"
kill -HUP "$AGENT_PID"
within "added back: web registered" 4 has_count web 1

# --- a service renamed (same id) while the agent was down ----------------------
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
write_conf 300M "leave_on_terminate = false;" "$(web 300M | sed 's/name = "web"/name = "web2"/')"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
within "renamed while down: web2/web-1 registered" 4 has_count web2 1
within "renamed while down: the old web/web-1 removed" 4 has_count web 0
write_conf 300M "leave_on_terminate = false;" "$(web 300M)"
kill -HUP "$AGENT_PID"
within "renamed back: web registered" 4 has_count web 1
within "renamed back: web2 removed" 4 has_count web2 0

# --- a check critical before a restart: its recovery is raised after it -------
HB='{ name = "hb"; id = "hb-1"; port = 3; checks = ( { type = "ttl"; name = "beat"; ttl = "60s"; } ); },'
HOOK="alerts = ( { name = \"script\"; on = [ \"check_critical\", \"check_recovered\" ]; exec = [ \"$AGENT_HELPERS/hook.sh\", \"$OUT/exec.log\" ]; } );"
write_conf 300M "leave_on_terminate = false;" "$(web 300M) $HB" "$HOOK"
kill -HUP "$AGENT_PID"
hb_saved() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d.get("hb-1",{}).get("beat",{}).get("status")!=sys.argv[2])' "$STATE/checks.json" "$1" 2>/dev/null; }
check "hb added" wait_until 5 sh -c "curl -s 'http://127.0.0.1:$API_PORT/v1/services' | grep -q hb-1"
expect_exit 0 hb-pass "$AGENT" pass hb-1 beat up -c "$OUT/agent.conf"
check "hb passing" wait_until 5 check_is hb-1 beat passing
expect_exit 0 hb-fail "$AGENT" fail hb-1 beat down -c "$OUT/agent.conf"
check "hb: check_critical raised" wait_until 5 grep -q "check_critical hb-1" "$OUT/exec.log"
check "hb: its state saved critical" wait_until 5 hb_saved critical
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
start_agent "$OUT/agent.conf" "$OUT/agent.log"
check "hb: restored critical" wait_until 5 check_is hb-1 beat critical
expect_exit 0 hb-pass2 "$AGENT" pass hb-1 beat "up again" -c "$OUT/agent.conf"
check "hb: check_recovered raised after the restart" wait_until 5 grep -q "check_recovered hb-1" "$OUT/exec.log"
check "hb: the critical not raised again" [ "$(grep -c "check_critical hb-1" "$OUT/exec.log")" = 1 ]

# --- leave_on_terminate at its default: SIGTERM leaves ------------------------
write_conf 300M "" "$(web 300M)"
kill -HUP "$AGENT_PID"
check "reload with the default" wait_until 5 sh -c "[ \$(grep -c 'reloaded:' '$OUT/agent.log') -ge 3 ]"
: >"$OUT/watch.out"
kill -TERM "$AGENT_PID"
check "default SIGTERM: removed under the watcher" wait_until $((5 + SLACK)) grep -q "removed web-1" "$OUT/watch.out"
check "default SIGTERM: drained first (changed, then removed)" sh -c "awk '\$2 == \"changed\" || \$2 == \"removed\" { print \$2, \$3 }' '$OUT/watch.out' | head -2 | tr '\n' ' ' | grep -q '^changed web-1 removed web-1'"
wait "$AGENT_PID"; rc=$?
AGENT_PID=
check "default SIGTERM: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "default SIGTERM: other gone too" has_count other 0
check "default SIGTERM: the session forgotten" [ ! -e "$STATE/session.json" ]
check "no sanitizer reports in the agent's log" no_sanitizer_reports "$OUT/agent.log"
finish
