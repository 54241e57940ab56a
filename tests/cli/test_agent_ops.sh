#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent, part 1, operations: alerts (a webhook received once per
# transition and retried, an exec hook), maintenance kept across a restart,
# SIGHUP make-before-break (a watcher sees no delta for an unchanged
# service) and a broken file refused, /metrics through promtool and a real
# Prometheus scrape, a 20 s ZooKeeper outage with checks flipping during
# it, and SIGTERM: drained, then deregistered, exit 0; sd_notify's READY,
# RELOADING and STOPPING on a notify socket.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"
A=$AGENT
H=$AGENT_HELPERS

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
start_httpd "$OUT/www" || { fail "httpd did not start"; finish; exit 1; }
touch "$OUT/www/healthy"
API_PORT=$(free_port)
TCP_PORT=$(free_port) # nothing listens here until the outage
write_conf() { # write_conf [EXTRA-SERVICE-TEXT]
    cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "6s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; drain_delay = "2s"; };
services = (
  { name = "web"; id = "web-1"; address = "127.0.0.1"; port = $HTTP_PORT;
    checks = ( { type = "http"; url = "http://127.0.0.1:$HTTP_PORT/health"; interval = "1s"; rise = 2; fall = 2; } ); },
  { name = "late"; id = "late-1"; address = "127.0.0.1"; port = $TCP_PORT;
    checks = ( { type = "tcp"; target = "127.0.0.1:$TCP_PORT"; interval = "1s"; rise = 2; fall = 2; } ); }
  ${1:-}
);
alerts = (
  { name = "hook"; on = [ "check_critical", "check_recovered", "service_deregistered" ];
    webhook = "http://127.0.0.1:$HTTP_PORT/hook"; retries = 5; },
  { name = "script"; on = "*"; exec = [ "$H/hook.sh", "$OUT/exec-hook.log" ]; },
  { name = "zk"; on = [ "zookeeper_unreachable", "session_expired" ]; after = "3s";
    exec = [ "$H/hook.sh", "$OUT/zk-hook.log" ]; }
);
CONF
}
write_conf
expect_exit 0 conf "$A" check-config -c "$OUT/agent.conf"
expect_in conf out "(2 services, 2 checks, 3 alert hooks, 0 watches, 0 outputs, 0 config_files, no dns)"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
within "web registered" 8 has_count web 1
check "late (nothing listening) not registered" has_count late 0
"$ZKDISC" instances web --watch >"$OUT/watch.out" 2>&1 &
HELPER_PIDS+=($!)
check "watcher sees web" wait_until 10 grep -q "added web-1" "$OUT/watch.out"

# --- alerts: once per transition, retried -------------------------------------
hooked() { [ "$(grep -c "\"event\":\"$1\",\"subject\":\"web-1\"" "$OUT/www/hooks.log" 2>/dev/null)" = "$2" ]; }
rm "$OUT/www/healthy"
within "web down: deregistered" 3 has_count web 0
check "webhook: check_critical once" wait_until 5 hooked check_critical 1
check "webhook: service_deregistered once" wait_until 5 hooked service_deregistered 1
check "still failing: no second check_critical" wait_until 10 runs_at_least web-1 http 6
check "  (still one)" hooked check_critical 1
touch "$OUT/www/hook-fail" # the next delivery fails and is retried
touch "$OUT/www/healthy"
within "web up: registered" 3 has_count web 1
check "webhook: the failed attempt was made" wait_until 5 grep -q '"event":"check_recovered"' "$OUT/www/hooks.attempts"
rm "$OUT/www/hook-fail"
check "webhook: check_recovered delivered by a retry, once" wait_until 40 hooked check_recovered 1
check "  (after 2 or more attempts)" [ "$(grep -c '"event":"check_recovered"' "$OUT/www/hooks.attempts")" -ge 2 ]
rm "$OUT/www/healthy"
within "web down again" 3 has_count web 0
check "webhook: a second transition, a second check_critical" wait_until 5 hooked check_critical 2
touch "$OUT/www/healthy"
within "web up again" 3 has_count web 1
check "exec hook: got the events with ZKDISC_* variables" wait_until 5 grep -q "check_critical web-1" "$OUT/exec-hook.log"
check "exec hook: event JSON on stdin" grep -q '"event":"check_recovered","subject":"web-1"' "$OUT/exec-hook.log.json"

# --- maintenance, kept across a restart ---------------------------------------
expect_exit 0 maint-on "$A" maint web-1 on --reason "deploy 42" -c "$OUT/agent.conf"
within "maintenance: drained (enabled false)" 2 is_drained web
check "watcher: changed on the drain" wait_until 5 grep -q "changed web-1" "$OUT/watch.out"
check "API shows the reason" sh -c "curl -s http://127.0.0.1:$API_PORT/v1/services | grep -q '\"reason\":\"deploy 42\"'"
check "kept in state_dir" grep -q "deploy 42" "$OUT/state/maintenance.json"
check "exec hook: maintenance event" wait_until 5 grep -q "maintenance web-1" "$OUT/exec-hook.log"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?
check "SIGTERM: exit 0 (got $rc)" [ "$rc" -eq 0 ]
within "stopped agent: deregistered" 1 has_count web 0
# This start has a notify socket, as under systemd (Type=notify).
"$PY" "$H/notify.py" "$OUT/notify.sock" "$OUT/notify.log" & HELPER_PIDS+=($!)
wait_until 10 test -S "$OUT/notify.sock"
NOTIFY_SOCKET=$OUT/notify.sock start_agent "$OUT/agent.conf" "$OUT/agent.log"
check "sd_notify: READY=1" wait_until 10 grep -qx "READY=1" "$OUT/notify.log"
within "restarted: registered again" 8 has_count web 1
within "restarted: still in maintenance" 2 is_drained web
expect_exit 0 maint-off "$A" maint web-1 off --api "127.0.0.1:$API_PORT" --token-file "$OUT/state/api.token"
within "maintenance off: up" 2 is_up web
check "state_dir forgot it" sh -c "! grep -q web-1 '$OUT/state/maintenance.json'"
expect_exit 1 maint-unknown "$A" maint nosuch on --api "127.0.0.1:$API_PORT" --token-file "$OUT/state/api.token"
expect_exit 2 maint-usage "$A" maint web-1 sideways --api "127.0.0.1:$API_PORT"

# --- SIGHUP: unchanged services untouched; a broken file refused ---------------
: >"$OUT/watch.out"
"$ZKDISC" instances web --watch >"$OUT/watch2.out" 2>&1 &
HELPER_PIDS+=($!)
check "second watcher sees web" wait_until 10 grep -q "added web-1" "$OUT/watch2.out"
before=$("$ZKDISC" -o json instances web | grep -o '"registrationTimeUTC":[0-9]*')
write_conf ', { name = "extra"; id = "extra-1"; port = 1; checks = ( { type = "tcp"; target = "127.0.0.1:'"$HTTP_PORT"'"; interval = "1s"; rise = 1; } ); }'
kill -HUP "$AGENT_PID"
within "reload added a service" 3 has_count extra 1
check "sd_notify: RELOADING=1 then READY=1" sh -c "grep -x -e READY=1 -e RELOADING=1 '$OUT/notify.log' | tr '\n' ' ' | grep -q 'READY=1 RELOADING=1 READY=1'"
check "web untouched: no delta seen by the watcher" [ "$(wc -l <"$OUT/watch2.out")" -eq 1 ]
check "web untouched: same registration" [ "$("$ZKDISC" -o json instances web | grep -o '"registrationTimeUTC":[0-9]*')" = "$before" ]
check "reload logged" grep -q "reloaded: 2 services unchanged, 0 changed, 1 added, 0 removed" "$OUT/agent.log"
cp "$OUT/agent.conf" "$OUT/agent.conf.good"
echo 'services = ( { name = ' >"$OUT/agent.conf"
kill -HUP "$AGENT_PID"
check "broken file: refused, logged with FILE:LINE" wait_until 5 grep -q "reload refused.*agent.conf:2: syntax error" "$OUT/agent.log"
check "broken file: services kept" has_count web 1
check "broken file: extra kept" has_count extra 1
check "broken file: counted" sh -c "curl -s http://127.0.0.1:$API_PORT/metrics | grep -q 'zkdisc_agent_reloads_total{result=\"refused\"} 1'"
cp "$OUT/agent.conf.good" "$OUT/agent.conf"

# --- /metrics: promtool, and a real Prometheus scrape --------------------------
curl -s "http://127.0.0.1:$API_PORT/metrics" >"$OUT/metrics.txt"
expect_exit 0 promtool promtool check metrics <"$OUT/metrics.txt"
for m in zkdisc_agent_check_status zkdisc_agent_check_duration_seconds_bucket zkdisc_agent_service_registered \
    zkdisc_agent_session_events_total zkdisc_agent_alerts_sent_total zkdisc_agent_alerts_failed_total \
    zkdisc_agent_publish_seconds_bucket zkdisc_agent_zookeeper_connected; do
    check "metrics has $m" grep -q "^$m" "$OUT/metrics.txt"
done
check "alerts sent counted (the exec hook, since the restart)" grep -q 'zkdisc_agent_alerts_sent_total{hook="script"} [1-9]' "$OUT/metrics.txt"
PROM_PORT=$(free_port)
cat >"$OUT/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: zkdisc-agent
    static_configs: [ { targets: [ "127.0.0.1:$API_PORT" ] } ]
YML
prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prom" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$OUT/prom.log" 2>&1 &
HELPER_PIDS+=($!)
prom_up() {
    curl -s "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up%7Bjob%3D%22zkdisc-agent%22%7D" |
        grep -q '"value":\[[0-9.]*,"1"\]'
}
check "Prometheus scrapes the agent: up == 1" wait_until 90 prom_up
check "Prometheus sees the check state" sh -c "curl -s 'http://127.0.0.1:$PROM_PORT/api/v1/query?query=zkdisc_agent_service_registered' | grep -q web-1"

# --- a 20 s ZooKeeper outage, checks flipping during it ------------------------
zkh_stop 0
outage=$(date +%s)
rm "$OUT/www/healthy"                                              # web goes critical
"$PY" "$H/listen.py" "$OUT/late.port" "$TCP_PORT" & HELPER_PIDS+=($!) # late goes healthy
check "outage: web critical while ZooKeeper is down" wait_until 5 check_is web-1 http critical
check "outage: late passing while ZooKeeper is down" wait_until 5 check_is late-1 tcp passing
check "outage: the agent notices" wait_until 10 sh -c "curl -s http://127.0.0.1:$API_PORT/v1/agent | grep -qv '\"state\":\"connected\"'"
check "outage: the suspension logged as a warning" wait_until 10 grep -q " WARN zookeeper: suspended" "$OUT/agent.log"
sleep $(( 20 - ($(date +%s) - outage) )) # the outage lasts 20 s (the scenario, not a wait)
check "zookeeper_unreachable raised after 3 s, once" sh -c "grep -c zookeeper_unreachable '$OUT/zk-hook.log' | grep -qx 1"
zkh_restart 0
within "after the outage: web absent (its latest state)" 20 has_count web 0
within "after the outage: late registered (its latest state)" 20 has_count late 1
check "agent reconnected" wait_until 20 sh -c "curl -s http://127.0.0.1:$API_PORT/v1/agent | grep -q '\"state\":\"connected\"'"
# (No session_expired here: ZooKeeper keeps sessions across its own restart,
# so the client reconnects into the same session once the server is back.)
touch "$OUT/www/healthy"
within "web back after the outage" 3 has_count web 1

# --- SIGTERM: drained for drain_delay, then deregistered, exit 0 ---------------
"$ZKDISC" instances web --watch >"$OUT/watch3.out" 2>&1 &
HELPER_PIDS+=($!)
check "third watcher sees web" wait_until 10 grep -q "added web-1" "$OUT/watch3.out"
kill -TERM "$AGENT_PID"
within "SIGTERM: drained first" 1 is_drained web
check "SIGTERM: then removed" wait_until 6 grep -q "removed web-1" "$OUT/watch3.out"
check "watcher saw changed before removed" sh -c "awk '\$2 == \"changed\" || \$2 == \"removed\" { print \$2, \$3 }' '$OUT/watch3.out' | head -2 | tr '\n' ' ' | grep -q '^changed web-1 removed web-1'"
wait "$AGENT_PID"; rc=$?
AGENT_PID=
check "SIGTERM: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "sd_notify: STOPPING=1" grep -qx "STOPPING=1" "$OUT/notify.log"
for s in web late extra; do check "$s gone" has_count "$s" 0; done
check "no sanitizer reports in the agent's log" no_sanitizer_reports "$OUT/agent.log"
finish
