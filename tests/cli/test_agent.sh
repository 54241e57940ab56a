#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent, part 1: check-config refuses every bad input with
# FILE:LINE and the key (exit 2, never a half-started agent); then one agent
# runs every check kind against real local processes, and each registration
# is watched from outside (`zkdisc instances`) appearing or disappearing
# within (rise or fall) x interval + 1 s; the API's errors (404, 413).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"
A=$AGENT
H=$AGENT_HELPERS

# --- check-config ---------------------------------------------------------------
expect_exit 0 example "$A" check-config -c "$here/../../examples/agent.conf"
expect_in example out "ok (2 services, 6 checks, 3 alert hooks, "

bad() { # bad NAME 'CONFIG TEXT' WANTED-TEXT...
    local name=$1 text=$2; shift 2
    printf '%s\n' "$text" >"$OUT/$name.conf"
    expect_exit 2 "bad-$name" "$A" check-config -c "$OUT/$name.conf"
    for want in "$@"; do expect_in "bad-$name" err "$want"; done
}
bad type 'services = ( { name = "a";
  checks = ( { type = "bogus"; } ); } );' \
    "$OUT/type.conf:2: services[0].checks[0].type: unknown check type \"bogus\""
bad interval 'services = ( { name = "a"; checks = (
  { type = "tcp"; target = "127.0.0.1:1"; interval = "0s"; } ); } );' \
    "$OUT/interval.conf:2: services[0].checks[0].interval: must be at least 10ms"
bad threshold 'services = ( { name = "a"; checks = (
  { type = "tcp"; target = "127.0.0.1:1";
    fall = -1; } ); } );' \
    "$OUT/threshold.conf:3: services[0].checks[0].fall: -1 is out of range"
bad dup-id 'services = ( { name = "a"; id = "x"; },
  { name = "b"; id = "x"; } );' \
    "$OUT/dup-id.conf:2: services[1].id: duplicate service id \"x\""
bad ttl 'services = ( { name = "a"; checks = ( { type = "ttl"; } ); } );' \
    "services[0].checks[0].ttl: missing"
bad remote 'agent = { api = "0.0.0.0:8586"; };' "agent.api: 0.0.0.0 is not a loopback address"
bad unknown-key 'agent = { colour = "blue"; };' "$OUT/unknown-key.conf:1: agent.colour: unknown key"
bad syntax 'services = ( { name = "a" ' "$OUT/syntax.conf:2: syntax error"
bad duration 'zookeeper = { session_timeout = "soon"; };' "zookeeper.session_timeout: must be a duration"
bad size 'services = ( { name = "a"; checks = ( { type = "memory"; pid = 1; max_rss = "lots"; } ); } );' \
    "checks[0].max_rss: must be a size"
bad hook 'alerts = ( { on = [ "check_critical" ]; } );' "alerts[0]: a hook needs exactly one of"
bad event 'alerts = ( { on = [ "teatime" ]; exec = [ "true" ]; } );' "alerts[0].on: unknown event \"teatime\""
# The daemon refuses the same files the same way, before touching anything.
expect_exit 2 daemon-bad "$A" -c "$OUT/dup-id.conf"
expect_in daemon-bad err "duplicate service id"
# conf.d/*.conf beside the file adds services.
mkdir -p "$OUT/d/conf.d"
echo 'agent = { api = "127.0.0.1:1"; };' >"$OUT/d/main.conf"
echo 'services = ( { name = "extra"; port = 1; } );' >"$OUT/d/conf.d/10-extra.conf"
echo 'services = ( { name = "extra2"; id = "x"; checks = ( { type = "nope"; } ); } );' >"$OUT/d/conf.d/20-bad.conf"
expect_exit 2 confd-bad "$A" check-config -c "$OUT/d/main.conf"
expect_in confd-bad err "$OUT/d/conf.d/20-bad.conf:1: services[0].checks[0].type"
rm "$OUT/d/conf.d/20-bad.conf"
expect_exit 0 confd "$A" check-config -c "$OUT/d/main.conf"
expect_in confd out "(1 services"

# --- one agent, every kind ------------------------------------------------------
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
start_httpd "$OUT/www" || { fail "httpd did not start"; finish; exit 1; }
touch "$OUT/www/healthy"
"$PY" "$H/listen.py" "$OUT/tcp.port" & HELPER_PIDS+=($!); LISTENER=$!
"$PY" "$H/hog.py" "$OUT/hog.grow" 120 & HELPER_PIDS+=($!); HOG=$!
wait_until 10 test -f "$OUT/tcp.port"
TCP_PORT=$(cat "$OUT/tcp.port")
echo 0 >"$OUT/code"
free=$("$PY" -c 'import os,sys; v=os.statvfs(sys.argv[1]); print(v.f_bavail*v.f_frsize)' "$OUT")
API_PORT=$(free_port)
check_ms() { echo "interval = \"1s\"; rise = 2; fall = 2;"; }
cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "6s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; log_format = "json"; };
services = (
  { name = "web"; id = "web-1"; address = "127.0.0.1"; port = $HTTP_PORT; zone = "z1"; weight = 7;
    metadata = { team = "core"; };
    checks = ( { type = "http"; url = "http://127.0.0.1:$HTTP_PORT/health"; body_contains = "ok"; $(check_ms) } ); },
  { name = "slow"; port = 1; checks = ( { type = "http"; url = "http://127.0.0.1:$HTTP_PORT/slow"; timeout = "500ms"; $(check_ms) } ); },
  { name = "nodns"; port = 1; checks = ( { type = "http"; url = "http://no-such-host.invalid/"; $(check_ms) } ); },
  { name = "tcp"; port = $TCP_PORT; checks = ( { type = "tcp"; target = "127.0.0.1:$TCP_PORT"; $(check_ms) } ); },
  { name = "ex"; port = 1; checks = ( { type = "exec"; command = [ "$H/exitcode.sh", "$OUT/code" ]; $(check_ms) } ); },
  { name = "hang"; port = 1; checks = ( { type = "exec"; command = [ "sh", "-c", "sleep 61.25 & exec sleep 61.25" ]; timeout = "500ms"; $(check_ms) } ); },
  { name = "missing"; port = 1; checks = ( { type = "exec"; command = [ "/nonexistent/prog" ]; $(check_ms) } ); },
  { name = "mem"; port = 1; checks = ( { type = "memory"; pid = $HOG; max_rss = "80M"; $(check_ms) } ); },
  { name = "diskok"; port = 1; checks = ( { type = "disk"; path = "$OUT"; min_free = $((free / 2))L; $(check_ms) } ); },
  { name = "diskfull"; port = 1; checks = ( { type = "disk"; path = "$OUT"; min_free = $((free * 2))L; $(check_ms) } ); },
  { name = "hb"; port = 1; checks = ( { type = "ttl"; name = "beat"; ttl = "3s"; } ); }
);
CONF
expect_exit 0 agent-conf "$A" check-config -c "$OUT/agent.conf"
start_agent "$OUT/agent.conf" "$OUT/agent.log"

# Healthy services appear within rise x interval (+1 s) of the agent's start
# (plus the first session's connect, hence the longer first wait).
within "web registered" 6 has_count web 1
within "tcp registered" 3 has_count tcp 1
within "exec (exit 0) registered" 3 has_count ex 1
within "memory under max_rss registered" 3 has_count mem 1
within "disk above min_free registered" 3 has_count diskok 1
check "the record carries the config" "$PY" -c '
import json, subprocess, sys
[i] = json.loads(subprocess.check_output([sys.argv[1], "-o", "json", "instances", "web"]))
assert i["id"] == "web-1" and i["address"] == "127.0.0.1" and i["port"] == int(sys.argv[2]), i
assert i["payload"]["zone"] == "z1" and i["payload"]["weight"] == 7, i
assert i["payload"]["metadata"] == {"team": "core"}, i
' "$ZKDISC" "$HTTP_PORT"

# Failing kinds never register; their notes say why; the agent survives them.
check "slow http: critical, timed out" wait_until 5 check_is slow http critical
check "nodns: critical" check_is nodns http critical
check "hang: critical" check_is hang exec critical
check "diskfull: critical" check_is diskfull disk critical
api GET /v1/services >"$OUT/services.json"
check "notes say why" "$PY" -c '
import json, sys
notes = {s["name"]: s["checks"][0]["note"] for s in json.load(open(sys.argv[1]))}
assert "timed out after 500ms" in notes["slow"], notes["slow"]
assert "resolve" in notes["nodns"].lower(), notes["nodns"]
assert "timed out" in notes["hang"], notes["hang"]
assert "No such file or directory" in notes["missing"], notes["missing"]
assert "exitcode.sh: exiting 0" in notes["ex"], notes["ex"]
' "$OUT/services.json"
for s in slow nodns hang missing diskfull hb; do check "$s not registered" has_count "$s" 0; done
# Each run leaves a child and a grandchild; killing the group leaves none.
check "hang ran 3 times" wait_until 10 runs_at_least hang- exec 3
check "the hung exec's whole process group was killed" [ "$(pgrep -fc "sleep 61.25")" -le 2 ]

# Flips: fall x interval (+1 s) to go, rise x interval (+1 s) to come back.
rm "$OUT/www/healthy"
within "http 503: deregistered" 3 has_count web 0
touch "$OUT/www/healthy"
within "http 200 again: registered" 3 has_count web 1
kill "$LISTENER"; wait "$LISTENER" 2>/dev/null
within "tcp listener closed: deregistered" 3 has_count tcp 0
echo 1 >"$OUT/code"
check "exec exit 1: warning" wait_until 4 check_is ex exec warning
check "warning stays registered" has_count ex 1
echo 2 >"$OUT/code"
within "exec exit 2: deregistered" 3 has_count ex 0
echo 0 >"$OUT/code"
within "exec exit 0: registered" 3 has_count ex 1
touch "$OUT/hog.grow"
check "the hog grew past 80 MiB" wait_until 10 sh -c "[ \$(awk '/^VmRSS/ {print \$2}' /proc/$HOG/status) -gt 81920 ]"
within "memory past max_rss: deregistered" 3 has_count mem 0

# ttl: fed through the CLI and the API, then starved.
expect_exit 0 ttl-pass "$A" pass hb beat "all good" -c "$OUT/agent.conf"
within "ttl fed: registered" 1 has_count hb 1
expect_exit 0 ttl-warn "$A" warn hb beat --api "127.0.0.1:$API_PORT" --token-file "$OUT/state/api.token"
check "warn via API status" check_is hb beat warning
check "ttl warn keeps it" has_count hb 1
within "ttl starved: deregistered (ttl 3 s)" 4 has_count hb 0
expect_exit 1 ttl-unknown-check "$A" pass hb nope --api "127.0.0.1:$API_PORT" --token-file "$OUT/state/api.token"
expect_in ttl-unknown-check err "no ttl check \"nope\""
expect_exit 1 ttl-unknown-service "$A" pass nosuch beat --api "127.0.0.1:$API_PORT" --token-file "$OUT/state/api.token"
expect_exit 3 ttl-no-agent "$A" pass hb beat --api "127.0.0.1:1"

# The API's refusals.
check "unknown service: 404" [ "$(api_code PUT /v1/maint/nosuch '{"enable":true}')" = 404 ]
check "404 is JSON" sh -c "curl -s -X PUT -H '$(api_auth)' 'http://127.0.0.1:$API_PORT/v1/maint/nosuch' | grep -q '\"error\"'"
"$PY" -c 'print("x" * 70000)' >"$OUT/big"
check "body over 64 KiB: 413" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "$(api_auth)" --data-binary @"$OUT/big" "http://127.0.0.1:$API_PORT/v1/check/hb/beat/pass")" = 413 ]
check "unknown endpoint: 404" [ "$(api_code GET /v2/nothing)" = 404 ]
check "watch of an unwatched service: 404" [ "$(api_code GET /v1/watch/web)" = 404 ]
expect_exit 0 agent-info curl -sf "http://127.0.0.1:$API_PORT/v1/agent"
expect_in agent-info out '"state":"connected"'
expect_exit 0 status "$A" status --api "127.0.0.1:$API_PORT"
expect_in status out "web-1"
expect_exit 0 status-json "$A" status -o json --api "127.0.0.1:$API_PORT"
check "status -o json parses" "$PY" -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 11' "$OUT/status-json.out"
check "json log lines with RFC 3339 UTC times" "$PY" -c '
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert lines and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", l["time"]) for l in lines)
assert any("web-1" in l["msg"] and l["level"] == "WARN" for l in lines)
' "$OUT/agent.log"
check "agent still running" kill -0 "$AGENT_PID"
check "no sanitizer reports in the agent's log" no_sanitizer_reports "$OUT/agent.log"
finish
