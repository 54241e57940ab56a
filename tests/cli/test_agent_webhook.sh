#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent webhooks that reach people: a hook with `headers` (a literal
# value, one from "@/path" and one from { file = ... }, read at delivery)
# and a `body` template (Mustache over the event's fields, JSON-escaped) is
# received by a local HTTP server exactly as configured; a 500 is retried
# with backoff and every attempt is logged. The real agent's templates see
# node.services (its own registrations) and node.hostname.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
start_httpd "$OUT/www" || { fail "httpd did not start"; finish; exit 1; }
touch "$OUT/www/healthy"
API_PORT=$(free_port)
LOG=$OUT/agent.log
printf 'Bearer s3cret\n' >"$OUT/token"
printf 'team-a' >"$OUT/team"
chmod 600 "$OUT/token" "$OUT/team"
echo '{{#node.services}}{{id}} {{name}} {{port}} {{state}}
{{/node.services}}host={{node.hostname}}' >"$OUT/node.mustache"
cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; session_timeout = "6s"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; drain_delay = "1s"; };
services = (
  { name = "web"; id = "web-1"; address = "127.0.0.1"; port = $HTTP_PORT;
    checks = ( { type = "http"; name = "probe \"x\""; url = "http://127.0.0.1:$HTTP_PORT/health";
                 interval = "500ms"; rise = 1; fall = 1; } ); }
);
alerts = (
  { name = "slack"; on = [ "check_critical" ]; webhook = "http://127.0.0.1:$HTTP_PORT/hook"; retries = 2;
    headers = { Authorization = "@$OUT/token"; X-Team = { file = "$OUT/team"; }; X-Source = "zkdisc"; };
    body = "{\"text\": \"{{event}} {{subject}} on {{host}}\", \"check\": \"{{check}}\"}"; },
  { name = "pagerduty"; on = [ "check_critical", "check_recovered" ];
    webhook = "http://127.0.0.1:$HTTP_PORT/hook"; headers = { X-Hook = "pd"; };
    body = "{\"routing_key\": \"R0UT1NGKEY\", "
           "\"event_action\": \"{{#is.check_recovered}}resolve{{/is.check_recovered}}"
           "{{^is.check_recovered}}trigger{{/is.check_recovered}}\", "
           "\"dedup_key\": \"{{subject}}/{{check}}\", "
           "\"payload\": {\"summary\": \"{{event}} {{subject}} on {{host}}\", "
           "\"source\": \"{{host}}\", \"severity\": \"critical\"}}"; }
);
templates = ( { source = "$OUT/node.mustache"; destination = "$OUT/node.txt"; } );
CONF
run conf "$AGENT" check-config -c "$OUT/agent.conf"
check "check-config accepts headers, body and templates" [ "$RC" = 0 ]

# Bad hooks are refused with the key named.
sed 's/X-Source = "zkdisc"/X-Source = "a\\nb"/' "$OUT/agent.conf" >"$OUT/bad.conf"
expect_exit 2 bad-header-value "$AGENT" check-config -c "$OUT/bad.conf"
expect_in bad-header-value err "X-Source"
sed 's/{{check}}/{{#check}}/' "$OUT/agent.conf" >"$OUT/bad2.conf"
expect_exit 2 bad-body "$AGENT" check-config -c "$OUT/bad2.conf"
expect_in bad-body err "never closed"

start_agent "$OUT/agent.conf" "$LOG"
within "web registered" 8 has_count web 1
check "template: node.services and hostname" wait_until 10 grep -qx "web-1 web $HTTP_PORT registered" "$OUT/node.txt"
check "template: node.hostname" grep -qx "host=$(hostname)" "$OUT/node.txt"

# The endpoint fails at first: the agent retries with backoff.
touch "$OUT/www/hook-fail"
rm "$OUT/www/healthy"
check "first attempt logged with its status and the retry" \
    wait_until 10 grep -q 'alert hook slack: check_critical delivery to http://127.0.0.1:[0-9]*/hook, attempt 1 of 3: HTTP 500; retry in 1 s' "$LOG"
rm "$OUT/www/hook-fail"
# (attempt 2, or 3 when a loaded machine let attempt 2 come before the rm)
check "a later attempt delivered and logged" \
    wait_until 10 grep -q 'alert hook slack: check_critical delivery to .*, attempt [23] of 3: HTTP 200$' "$LOG"
received() {
    "$PY" - "$OUT/www/requests.jsonl" "$(hostname)" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [r for r in reqs if "X-Source" in r["headers"]]
assert len(reqs) in (2, 3), len(reqs)
want_body = '{"text": "check_critical web-1 on %s", "check": "probe \\"x\\""}' % sys.argv[2]
for r in reqs:
    h = {k.lower(): v for k, v in r["headers"].items()}
    assert r["path"] == "/hook"
    assert h["authorization"] == "Bearer s3cret", h
    assert h["x-team"] == "team-a", h
    assert h["x-source"] == "zkdisc", h
    assert h["content-type"] == "application/json", h
    assert r["body"] == want_body, (r["body"], want_body)
    json.loads(r["body"])
PY
}
check "the server received the headers and the body exactly as configured, at each attempt" received

# A token file rotated on disk is read at the next delivery.
printf 'Bearer rotated\n' >"$OUT/token"
touch "$OUT/www/healthy"
check "registered again" wait_until 10 has_count web 1
rm "$OUT/www/healthy"
check "third delivery uses the rotated token" \
    wait_until 10 sh -c "grep X-Source '$OUT/www/requests.jsonl' | tail -1 | grep -q 'Bearer rotated'"
pd() {
    "$PY" - "$OUT/www/requests.jsonl" "$1" <<'PY'
import json, sys
bodies = [json.loads(json.loads(l)["body"]) for l in open(sys.argv[1]) if '"X-Hook": "pd"' in l]
acts = [b["event_action"] for b in bodies]
assert sys.argv[2] in acts, acts
for b in bodies:
    assert b["routing_key"] == "R0UT1NGKEY" and b["dedup_key"] == 'web-1/probe "x"', b
    assert b["payload"]["severity"] == "critical" and b["payload"]["source"], b
PY
}
check "pagerduty example: trigger received as valid Events v2 JSON" pd trigger
check "pagerduty example: resolve on recovery" wait_until 10 pd resolve
kill -TERM "$AGENT_PID" && wait "$AGENT_PID" # a leak report comes at exit
AGENT_PID=
check "no sanitizer report" no_sanitizer_reports "$LOG"
finish
