#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent, both halves in ONE real agent (not the consumers driver): a
# service with a passing check is registered and the same agent watches it
# (json output, DNS). Maintenance (part 1) drains it out of the json file
# and DNS (part 2); GET /v1/watch answers; /metrics carries the consumer
# metrics and passes promtool; SIGHUP with an unchanged file leaves the
# json file alone; check-config names a consumer-side error with file:line;
# restarted while ZooKeeper is down, the agent serves the json output from
# its state_dir snapshot, marked stale.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"
A=$AGENT

# json_ids FILE: the ids in a json output file, sorted, space-separated.
json_ids() {
    "$PY" - "$1" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted(i["id"] for i in d["instances"])))
PY
}
ids_are() { [ "$(json_ids "$1")" = "$2" ]; }
stale_is() {
    [ "$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["stale"]))' "$1" 2>/dev/null)" = "$2" ]
}

# --- check-config: a consumer-side error, with file:line, from the real agent ---
cat >"$OUT/bad.conf" <<'CONF'
services = ( { name = "web"; port = 1; } );
watch = ( { service = "web";
  outputs = ( { type = "smoke"; } ); } );
CONF
expect_exit 2 check-bad "$A" check-config -c "$OUT/bad.conf"
expect_in check-bad err "$OUT/bad.conf:3: watch.[0].outputs.[0].type: \"smoke\" is not json, command, haproxy or nginx"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT
start_httpd "$OUT/www" || { fail "httpd did not start"; finish; exit 1; }
touch "$OUT/www/healthy"
API_PORT=$(free_port)
DNS_PORT=$(free_port)
mkdir -p "$OUT/state"
cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "6s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; drain_delay = "0s"; };
services = (
  { name = "web"; id = "web-1"; address = "127.0.0.1"; port = $HTTP_PORT;
    checks = ( { type = "http"; url = "http://127.0.0.1:$HTTP_PORT/health"; interval = "200ms"; rise = 1; fall = 1; } ); }
);
watch = (
  { service = "web";
    outputs = ( { type = "json"; path = "$OUT/web.json"; stale_after = "1s"; } ); }
);
dns = { listen = "127.0.0.1:$DNS_PORT"; domain = "zkdisc."; ttl = 5; };
CONF
expect_exit 0 check-good "$A" check-config -c "$OUT/agent.conf"

# A second instance from outside, so that draining web-1 does not empty the
# set (an emptying update would be held back).
"$ZKDISC" register web --id web-2 --port 8002 --address 127.0.0.2 >"$OUT/reg.out" 2>"$OUT/reg.err" &
HELPER_PIDS+=($!)
start_agent "$OUT/agent.conf" "$OUT/agent.log"
check "json lists web-1 (agent) and web-2" wait_until 15 ids_are "$OUT/web.json" "web-1 web-2"
check "json fresh" stale_is "$OUT/web.json" false

D=(dig @127.0.0.1 -p "$DNS_PORT" +time=2 +tries=1)
a_set() { "${D[@]}" +short "$1" A | sort | tr '\n' ' '; }
a_is() { [ "$(a_set "$1")" = "$2" ]; }
check "DNS: A has both" wait_until 10 a_is web.service.zkdisc "127.0.0.1 127.0.0.2 "

run watch-api curl -sf "http://127.0.0.1:$API_PORT/v1/watch/web"
expect_in watch-api out '"web-1"'
check "GET /v1/watch/nosuch: 404" [ "$(api_code GET /v1/watch/nosuch)" = 404 ]

# --- maintenance (part 1) seen by the outputs (part 2) ---
expect_exit 0 maint-on "$A" maint web-1 on --reason integ -c "$OUT/agent.conf"
check "maint: web-1 drained in the tree" wait_until 10 is_drained web
check "maint: json drops web-1" wait_until 10 ids_are "$OUT/web.json" "web-2"
check "maint: DNS drops web-1" wait_until 10 a_is web.service.zkdisc "127.0.0.2 "
run watch-maint curl -sf "http://127.0.0.1:$API_PORT/v1/watch/web"
check "maint: /v1/watch no longer serves web-1 as up" sh -c "! grep -q '\"id\":\"web-1\"[^}]*\"enabled\":true' '$OUT/watch-maint.out'"
expect_exit 0 maint-off "$A" maint web-1 off -c "$OUT/agent.conf"
check "maint off: json lists web-1 again" wait_until 10 ids_are "$OUT/web.json" "web-1 web-2"
check "maint off: DNS has it again" wait_until 10 a_is web.service.zkdisc "127.0.0.1 127.0.0.2 "

# --- /metrics ---
curl -s "http://127.0.0.1:$API_PORT/metrics" >"$OUT/metrics.txt"
for m in zkdisc_agent_watch_instances zkdisc_agent_output_writes_total zkdisc_agent_dns_queries_total \
         zkdisc_agent_check_duration_seconds_count; do
    check "metrics has $m" grep -q "^$m" "$OUT/metrics.txt"
done
check "promtool check metrics" sh -c "promtool check metrics <'$OUT/metrics.txt' >'$OUT/promtool.out' 2>&1"

# --- SIGHUP, file unchanged: the json file is not rewritten ---
before=$(stat -c '%i %Y %y' "$OUT/web.json")
kill -HUP "$AGENT_PID"
applied() { api GET /metrics | grep -q 'zkdisc_agent_reloads_total{result="applied"} 1'; }
check "SIGHUP applied" wait_until 10 applied
check "SIGHUP: web.json untouched (inode, mtime)" [ "$(stat -c '%i %Y %y' "$OUT/web.json")" = "$before" ]
check "SIGHUP: still both" ids_are "$OUT/web.json" "web-1 web-2"
check "SIGHUP: DNS answers (kept, on the new config)" a_is web.service.zkdisc "127.0.0.1 127.0.0.2 "
# A changed watch (one more output) is re-opened: the new file appears.
sed -i "s|stale_after = \"1s\"; }|stale_after = \"1s\"; }, { type = \"json\"; path = \"$OUT/web-b.json\"; }|" "$OUT/agent.conf"
kill -HUP "$AGENT_PID"
applied2() { api GET /metrics | grep -q 'zkdisc_agent_reloads_total{result="applied"} 2'; }
check "SIGHUP (changed watch) applied" wait_until 10 applied2
check "changed watch: the new output is written" wait_until 10 ids_are "$OUT/web-b.json" "web-1 web-2"
check "changed watch: DNS still answers" a_is web.service.zkdisc "127.0.0.1 127.0.0.2 "

# --- restarted in maintenance: the node is created drained (spec.enabled),
# so a watcher sees web-1 added and never an changed (no enabled flicker) ---
expect_exit 0 maint-again "$A" maint web-1 on -c "$OUT/agent.conf"
check "maint again: drained" wait_until 10 is_drained web
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; AGENT_PID=
"$ZKDISC" instances web --watch >"$OUT/watch.out" 2>&1 &
HELPER_PIDS+=($!)
check "watcher started" wait_until 10 grep -q "added web-2" "$OUT/watch.out"
check "web-1 gone while stopped" sh -c "! grep -q 'added web-1' '$OUT/watch.out'"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
check "restarted in maintenance: web-1 drained" wait_until 10 is_drained web
# A barrier: a later change to web-2 reaches the watcher after any to web-1.
"$ZKDISC" drain web web-2 >/dev/null
check "barrier seen" wait_until 10 grep -q "changed web-2" "$OUT/watch.out"
check "web-1 added once and never updated" sh -c \
    "[ \$(grep -c 'added web-1' '$OUT/watch.out') = 1 ] && ! grep -q 'changed web-1' '$OUT/watch.out'"
check "json never listed web-1 again" sh -c "! grep -q '\"web-1\"' '$OUT/web.json'"
"$ZKDISC" undrain web web-2 >/dev/null
check "web-2 back in the json" wait_until 10 ids_are "$OUT/web.json" "web-2"

# --- started while ZooKeeper is down: served from the snapshot, stale ---
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; AGENT_PID=
check "snapshot kept in state_dir" sh -c "ls '$OUT/state' | grep -v maintenance | grep -q ."
zkh_stop 0
rm -f "$OUT/web.json"
start_agent "$OUT/agent.conf" "$OUT/agent.log"
check "ZooKeeper down: json served from the snapshot" wait_until 15 test -s "$OUT/web.json"
# The snapshot is the cache's last view: web-2, and web-1 too when the
# agent stopped before its cache saw its own deregistration.
has_web2() { case " $(json_ids "$OUT/web.json") " in *" web-2 "*) ;; *) return 1 ;; esac; }
check "ZooKeeper down: it lists web-2" has_web2
check "ZooKeeper down: marked stale" wait_until 10 stale_is "$OUT/web.json" true
check "no sanitizer reports" no_sanitizer_reports "$OUT/agent.log"
finish
