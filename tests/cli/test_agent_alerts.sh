#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent alerts and reloads you can trust: three critical/recovered
# cycles deliver three pairs of webhooks (also to a hook that listens to
# check_critical only), maintenance on/off/on delivers both ons, a hook over
# max_per_minute counts and logs its drops, a TTL check that expires at
# start and then passes raises no check_recovered, a critical check changed
# by a SIGHUP still has its recovery raised; a bad maintenance.json
# entry is ignored; SIGHUP removing and restoring the dns block (run under
# ASan: no report), an empty file refused, no blank line after an ERROR;
# JSON log lines with the event's fields; `--api` before the subcommand;
# consumer config errors with their key path in check-config.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"
A=$AGENT
H=$AGENT_HELPERS

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
start_httpd "$OUT/www2" || { fail "httpd did not start"; finish; exit 1; }
PAIR_PORT=$HTTP_PORT
start_httpd "$OUT/www" || { fail "httpd did not start"; finish; exit 1; }
touch "$OUT/www/healthy"
API_PORT=$(free_port)
DNS_PORT=$(free_port)
LOG=$OUT/agent.log
# write_conf LOG_FORMAT WITH_DNS(0|1) [WEB_INTERVAL]
write_conf() {
    local dns=""
    [ "$2" = 1 ] && dns="dns = { listen = \"127.0.0.1:$DNS_PORT\"; domain = \"zkdisc\"; ttl = 1; };"
    cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "6s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; drain_delay = "1s"; log_format = "$1"; };
services = (
  { name = "web"; id = "web-1"; address = "127.0.0.1"; port = $HTTP_PORT;
    checks = ( { type = "http"; url = "http://127.0.0.1:$HTTP_PORT/health"; interval = "${3:-1s}"; rise = 1; fall = 1; } ); },
  { name = "hb"; id = "hb-1"; port = 1; checks = ( { type = "ttl"; name = "beat"; ttl = "2s"; } ); }
);
alerts = (
  { name = "pager"; on = [ "check_critical", "service_deregistered" ];
    webhook = "http://127.0.0.1:$HTTP_PORT/hook"; },
  { name = "pair"; on = [ "check_critical", "check_recovered" ];
    webhook = "http://127.0.0.1:$PAIR_PORT/hook"; },
  { name = "maint"; on = [ "maintenance" ]; webhook = "http://127.0.0.1:$PAIR_PORT/hook"; },
  { name = "script"; on = "*"; exec = [ "$H/hook.sh", "$OUT/exec.log" ]; },
  { name = "tight"; on = [ "check_critical" ]; max_per_minute = 1;
    exec = [ "$H/hook.sh", "$OUT/tight.log" ]; }
);
watch = ( { service = "web"; } );
$dns
CONF
}
write_conf json 1
run conf "$A" check-config -c "$OUT/agent.conf"
expect_in conf out "(2 services, 2 checks, 5 alert hooks, 1 watches, 0 outputs, 0 config_files, dns on 127.0.0.1:$DNS_PORT)"

# A hand-edited maintenance.json: the bad entry must not drain web-1.
mkdir -p "$OUT/state"
echo '{"web-1": 5}' >"$OUT/state/maintenance.json"
start_agent "$OUT/agent.conf" "$LOG"
within "web registered" 8 has_count web 1
check "maintenance.json {\"web-1\": 5}: not in maintenance" is_up web
check "  and the bad entry logged" grep -q 'maintenance.json: entry \\"web-1\\" ignored' "$LOG"

# --- three critical/recovered cycles --------------------------------------------
# hooked DIR EVENT N: DIR's webhook received EVENT about web-1 N times.
hooked() { [ "$(grep -c "\"event\":\"$2\",\"subject\":\"web-1\"" "$OUT/$1/hooks.log" 2>/dev/null)" = "$3" ]; }
for i in 1 2 3; do
    rm "$OUT/www/healthy"
    check "cycle $i: pager gets check_critical #$i" wait_until 10 hooked www check_critical $i
    check "cycle $i: pager gets service_deregistered #$i" wait_until 10 hooked www service_deregistered $i
    check "cycle $i: pair gets check_critical #$i" wait_until 10 hooked www2 check_critical $i
    touch "$OUT/www/healthy"
    check "cycle $i: pair gets check_recovered #$i" wait_until 10 hooked www2 check_recovered $i
    check "cycle $i: registered again" wait_until 10 has_count web 1
done
check "pager: exactly 3 check_critical" hooked www check_critical 3
check "pager: nothing it did not ask for" [ "$(grep -c check_recovered "$OUT/www/hooks.log")" = 0 ]

# --- the rate limit: one a minute, the rest counted and logged ---------------------
metric() { api GET /metrics | sed -n "s/^zkdisc_agent_alerts_$1_total{hook=\"$2\"} //p"; }
check "tight: one check_critical delivered" wait_output 5 1 metric sent tight
check "tight: the other two counted as dropped" [ "$(metric dropped tight)" = 2 ]
check "tight: the drop logged" grep -q "alert hook tight: over max_per_minute 1, dropped check_critical web-1" "$LOG"
check "pager: nothing dropped" [ "$(metric dropped pager)" = 0 ]

# --- a TTL check that expired at start: its first pass is no recovery --------------
ttl_note() { api GET /v1/services | grep -q "no report within the ttl"; }
check "ttl: expired at start" wait_until 10 ttl_note
expect_exit 0 ttl-pass1 "$A" pass hb-1 beat "up" --api "127.0.0.1:$API_PORT" --token-file "$OUT/state/api.token"
check "ttl: passing" wait_until 5 check_is hb-1 beat passing
expect_exit 0 ttl-fail "$A" fail hb-1 beat "down" -c "$OUT/agent.conf"
check "ttl: check_critical raised" wait_until 5 grep -q "check_critical hb-1" "$OUT/exec.log"
expect_exit 0 ttl-pass "$A" pass hb-1 beat "up again" -c "$OUT/agent.conf"
check "ttl: check_recovered raised after it" wait_until 5 grep -q "check_recovered hb-1" "$OUT/exec.log"
check "ttl: one check_recovered, not two" [ "$(grep -c "check_recovered hb-1" "$OUT/exec.log")" = 1 ]
check "ttl: the critical came first" sh -c "grep -E 'check_(critical|recovered) hb-1' '$OUT/exec.log' | head -1 | grep -q check_critical"
expect_exit 0 status-api-first "$A" --api "127.0.0.1:$API_PORT" status
expect_in status-api-first out "hb-1"

# --- maintenance on, off, on: both ons delivered -------------------------------------
maint_events() { grep '"event":"maintenance"' "$OUT/www2/hooks.log" | grep -c "\"maintenance\":$1"; }
expect_exit 0 maint-on "$A" maint web-1 on --reason one -c "$OUT/agent.conf"
check "maintenance on: delivered" wait_output 5 1 maint_events true
expect_exit 0 maint-off "$A" maint web-1 off -c "$OUT/agent.conf"
check "maintenance off: delivered" wait_output 5 1 maint_events false
expect_exit 0 maint-on2 "$A" maint web-1 on --reason two -c "$OUT/agent.conf"
check "maintenance on again: delivered" wait_output 5 2 maint_events true
expect_exit 0 maint-off2 "$A" maint web-1 off -c "$OUT/agent.conf"
within "maintenance off: up" 3 is_up web

# --- JSON log lines carry the event's fields ----------------------------------------
check "json log: level, time, msg and the event's fields" "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("event") == "check_critical" and o.get("service") == "web" and o.get("check") == "http" \
            and o.get("level") == "INFO" and o.get("time", "").endswith("Z") and o.get("msg"):
        sys.exit(0)
sys.exit(1)' "$LOG"

# --- a critical check changed by a SIGHUP: its recovery is still raised -----------------
reloaded() { [ "$(grep -c "reloaded: " "$LOG")" -ge "$1" ]; }
rm "$OUT/www/healthy"
check "critical before the reload" wait_until 10 hooked www2 check_critical 4
write_conf json 1 900ms
kill -HUP "$AGENT_PID"
check "reload with another interval" wait_until 10 reloaded 1
touch "$OUT/www/healthy"
check "the changed check's recovery raised" wait_until 10 hooked www2 check_recovered 4
rm "$OUT/www/healthy"
check "and its next failure" wait_until 10 hooked www2 check_critical 5
touch "$OUT/www/healthy"
check "and recovery" wait_until 10 hooked www2 check_recovered 5
check "registered" wait_until 10 has_count web 1

# --- refused reloads: a broken file, then an empty one --------------------------------
write_conf text 1 900ms # the same service: nothing restarts
kill -HUP "$AGENT_PID"
check "a reload to the text log" wait_until 10 reloaded 2
check "web registered before the refused reloads" wait_until 10 has_count web 1
refused() { [ "$(api GET /metrics | sed -n 's/^zkdisc_agent_reloads_total{result="refused"} //p')" = "$1" ]; }
cp "$OUT/agent.conf" "$OUT/agent.conf.good"
echo 'services = ( { name = ' >"$OUT/agent.conf"
kill -HUP "$AGENT_PID"
check "broken file refused" wait_until 5 refused 1
check "no blank line after the ERROR line" sh -c "! grep -qx '' '$LOG'"
: >"$OUT/agent.conf"
kill -HUP "$AGENT_PID"
check "empty file refused (counted)" wait_until 5 refused 2
check "empty file refused (logged)" grep -q "ERROR reload refused.*no services, watches, dns or config_files" "$LOG"
check "empty file: web still registered" has_count web 1
cp "$OUT/agent.conf.good" "$OUT/agent.conf"

# --- SIGHUP: dns removed, restored (a freed server must not be kept) ---------------
D=(dig @127.0.0.1 -p "$DNS_PORT" +time=1 +tries=1 +short)
dns_answers() { [ "$("${D[@]}" web.service.zkdisc A 2>/dev/null)" = "127.0.0.1" ]; }
check "dns answers" wait_until 10 dns_answers
write_conf text 0 900ms
kill -HUP "$AGENT_PID"
check "reload without dns" wait_until 10 reloaded 3
check "dns gone" wait_until 5 sh -c "! $(printf '%q ' "${D[@]}") web.service.zkdisc A >/dev/null 2>&1"
write_conf text 1 900ms
kill -HUP "$AGENT_PID"
check "reload with dns again" wait_until 10 reloaded 4
check "dns answers again" wait_until 10 dns_answers
kill -HUP "$AGENT_PID"
check "an unchanged reload after that" wait_until 10 reloaded 5
check "agent alive after the reloads" kill -0 "$AGENT_PID"

kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?
AGENT_PID=
check "SIGTERM after the reloads: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "no sanitizer report" no_sanitizer_reports "$LOG"

# --- consumer config errors name the key path -----------------------------------------
cat >"$OUT/bad.conf" <<CONF
watch = ( { service = "web";
            outputs = ( { type = "json"; path = "$OUT/web.json"; },
                        { type = "json"; path = "web.json"; } ); } );
CONF
expect_exit 2 bad-path "$A" check-config -c "$OUT/bad.conf"
expect_in bad-path err "bad.conf:3: watch.[0].outputs.[1].path: must be an absolute path"
finish
