#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent templates: every shipped template (share/zkdisc/templates)
# rendered from a real ZooKeeper tree and loaded by its real consumer:
# HAProxy checked by `haproxy -c` and serving through the generated
# frontend, nginx checked by nginx-check.sh and serving, Envoy EDS JSON
# checked against its structure, Prometheus file_sd targets seen in a real
# Prometheus's /api/v1/targets, an /etc/hosts fragment. Then the data model
# (config documents, drained, first/last/index, metadata), a check_cmd that
# fails keeps the old file, a failing on_change puts the previous file back
# and runs again, and a change that renders the same bytes writes nothing
# and runs no hook.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
for p in haproxy nginx prometheus; do
    command -v $p >/dev/null || { echo "$p is not installed (tools/install-deps.sh)"; exit 1; }
done
H=$AGENT_HELPERS
# Debian's interpreter: a pyenv shim on PATH can take seconds to start.
PY=$(command -v /usr/bin/python3 || command -v python3)
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TPL=$(cd "$here/../../share/zkdisc/templates" && pwd)

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
stop_daemon() { [ -s "$1" ] && kill "$(cat "$1")" 2>/dev/null; return 0; }
trap 'cleanup_bg; stop_daemon "$OUT/haproxy.pid"; zkh_down; rm -rf "$OUT"' EXIT

declare -A PORT
for id in a b c; do
    PORT[$id]=$(free_port)
    bg "$PY" "$H/idserver.py" "${PORT[$id]}" "$id"
    wait_until 10 curl -sf "http://127.0.0.1:${PORT[$id]}/" >/dev/null
done
register web a "${PORT[a]}" --meta role=primary --zone z1
register web b "${PORT[b]}" --weight 50
register api c "${PORT[c]}"
printf '{"limits": {"rps": 5}, "greeting": "hi"}' >"$OUT/edge.json"
"$ZKDISC" config put edge "$OUT/edge.json" >/dev/null

HFE=$(free_port) NFE=$(free_port) PP=$(free_port)
mkdir -p "$OUT/tpl" "$OUT/sd" "$OUT/nginx"
cat >"$OUT/tpl/model.mustache" <<'T'
host={{node.hostname}}
rps={{config.edge.limits.rps}} greeting={{config.edge.greeting}} version={{config_info.edge.version}} {{#config_info.edge.checksum}}checksum{{/config_info.edge.checksum}}
{{#services.web.all}}{{index}}:{{id}}:{{znode}}:{{address}}:{{#port}}port{{/port}}:{{weight}}:{{zone}}:{{enabled}}:{{#first}}F{{/first}}{{#last}}L{{/last}}:{{metadata.role}};{{/services.web.all}}
drained={{#services.web.drained}}{{id}} {{/services.web.drained}}count={{services.web.count}}
list=[{{#service_list}}"{{name}}"{{^last}},{{/last}}{{/service_list}}]
T
echo '{{#services.api.instances}}{{id}}
{{/services.api.instances}}' >"$OUT/tpl/api.mustache"
echo '{{#services.web.instances}}{{id}} {{/services.web.instances}}' >"$OUT/tpl/webonly.mustache"
cat >"$OUT/hap-reload.sh" <<SH
#!/bin/sh
echo reload >>"$OUT/hap-reloads.log"
old=\$(cat "$OUT/haproxy.pid" 2>/dev/null)
exec haproxy -f "$OUT/haproxy.cfg" -p "$OUT/haproxy.pid" -D \${old:+-sf \$old} >>"$OUT/haproxy.log" 2>&1
SH
cat >"$OUT/ngx-reload.sh" <<SH
#!/bin/sh
pid=\$(cat "$OUT/nginx.pid" 2>/dev/null)
[ -n "\$pid" ] || exit 0 # nginx not started yet
kill -HUP "\$pid"
SH
chmod +x "$OUT/hap-reload.sh" "$OUT/ngx-reload.sh"
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "web"; }, { service = "api"; } );
templates = (
  { source = "$TPL/haproxy.cfg.mustache"; destination = "$OUT/haproxy.cfg"; min_interval = "100ms";
    check_cmd = [ "haproxy", "-c", "-q", "-f", "{{path}}" ]; on_change = [ "$OUT/hap-reload.sh" ];
    vars = { timeout_connect = "2s"; services = { web = { port = $HFE; options = [ "option redispatch" ]; }; }; }; },
  { source = "$TPL/nginx.conf.mustache"; destination = "$OUT/upstreams.conf"; min_interval = "100ms";
    check_cmd = [ "$TPL/nginx-check.sh", "%s" ]; on_change = [ "$OUT/ngx-reload.sh" ];
    vars = { services = { web = { port = $NFE; }; }; }; },
  { source = "$TPL/envoy-eds.json.mustache"; destination = "$OUT/eds.json"; escape = "json";
    check_cmd = [ "$PY", "-m", "json.tool", "%s" ]; min_interval = "100ms"; },
  { source = "$TPL/prometheus-file-sd.json.mustache"; destination = "$OUT/sd/targets.json"; escape = "json";
    min_interval = "100ms"; },
  { source = "$TPL/hosts.mustache"; destination = "$OUT/hosts"; min_interval = "100ms"; mode = "0600"; },
  { source = "$OUT/tpl/model.mustache"; destination = "$OUT/model.txt"; config = [ "edge" ]; min_interval = "100ms"; },
  { source = "$OUT/tpl/api.mustache"; destination = "$OUT/guarded.txt"; min_interval = "100ms";
    check_cmd = [ "sh", "-c", "! grep -q reject %s" ]; },
  { source = "$OUT/tpl/api.mustache"; destination = "$OUT/hooked.txt"; min_interval = "100ms";
    on_change = [ "sh", "-c", "echo run >>$OUT/hooked.log; ! grep -q explode $OUT/hooked.txt" ]; },
  { source = "$OUT/tpl/webonly.mustache"; destination = "$OUT/webonly.txt"; min_interval = "100ms";
    on_change = [ "sh", "-c", "echo run >>$OUT/webonly.log" ]; }
);
CONF
cat >"$OUT/nginx.conf" <<CFG
worker_processes 1;
pid $OUT/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx/body;
    proxy_temp_path $OUT/nginx/proxy;
    include $OUT/upstreams.conf;
}
CFG
cat >"$OUT/prometheus.yml" <<YML
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: zkdisc
    file_sd_configs: [ { files: [ "$OUT/sd/targets.json" ], refresh_interval: 1s } ]
YML

expect_exit 0 conf-check "$AGENT_DRIVER" check -c "$OUT/agent.conf"
start_agent "$OUT/agent.conf"

# HAProxy: the whole configuration, checked, loaded, serving.
check "haproxy.cfg has servers a and b" wait_until 15 grep -qs "server b 127.0.0.1:${PORT[b]} weight 50" "$OUT/haproxy.cfg"
expect_exit 0 haproxy-c haproxy -c -f "$OUT/haproxy.cfg"
check "haproxy started by on_change" wait_until 10 test -s "$OUT/haproxy.pid"
load() { "$PY" "$H/loadgen.py" "http://127.0.0.1:$1/" 12 >"$OUT/load.json"; }
got() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["failed"], " ".join(sorted(d["by_body"])))' "$OUT/load.json"; }
reaches() { load "$1"; [ "$(got)" = "0 $2" ]; }
check "haproxy frontend reaches a b" wait_until 15 reaches "$HFE" "a b"

# nginx: the fragment checked, included, serving.
check "upstreams.conf written" wait_until 10 grep -qs "server 127.0.0.1:${PORT[a]} weight=100;" "$OUT/upstreams.conf"
expect_exit 0 nginx-t nginx -t -q -p "$OUT/nginx" -c "$OUT/nginx.conf"
bg nginx -p "$OUT/nginx" -c "$OUT/nginx.conf" -g "daemon off;"
check "nginx server reaches a b" wait_until 15 reaches "$NFE" "a b"

# Envoy EDS: valid JSON of the ClusterLoadAssignment shape.
eds_ok() {
    "$PY" - "$OUT/eds.json" "${PORT[a]}" "${PORT[b]}" "${PORT[c]}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want = {"web": sorted([int(sys.argv[2]), int(sys.argv[3])]), "api": [int(sys.argv[4])]}
assert set(d) == {"version_info", "resources"}, d.keys()
got = {}
for r in d["resources"]:
    assert r["@type"] == "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
    assert isinstance(r["cluster_name"], str)
    ports = []
    for group in r["endpoints"]:
        for e in group["lb_endpoints"]:
            sa = e["endpoint"]["address"]["socket_address"]
            assert isinstance(sa["address"], str) and isinstance(sa["port_value"], int)
            assert 0 < sa["port_value"] < 65536 and isinstance(e["load_balancing_weight"], int)
            assert e["health_status"] == "HEALTHY"
            assert isinstance(e["metadata"]["filter_metadata"]["zkdisc"]["id"], str)
            ports.append(sa["port_value"])
    got[r["cluster_name"]] = sorted(ports)
assert got == want, (got, want)
PY
}
check "envoy eds.json has the right structure and endpoints" wait_until 10 eds_ok

# Prometheus: loads the file_sd targets.
bg prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prom" \
    --web.listen-address="127.0.0.1:$PP" --log.level=warn >"$OUT/prometheus.log" 2>&1
targets_seen() {
    curl -sf "http://127.0.0.1:$PP/api/v1/targets" 2>/dev/null | "$PY" 2>/dev/null -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
seen = sorted((x["labels"]["zkdisc_service"], x["labels"]["instance"]) for x in t)
want = sorted([("web", "127.0.0.1:" + sys.argv[1]), ("web", "127.0.0.1:" + sys.argv[2]), ("api", "127.0.0.1:" + sys.argv[3])])
sys.exit(0 if seen == want else 1)' "${PORT[a]}" "${PORT[b]}" "${PORT[c]}"
}
check "prometheus sees the three targets" wait_until 30 targets_seen

# /etc/hosts fragment, written with its mode.
check "hosts has a.web and c.api" wait_until 10 sh -c "grep -qx '127.0.0.1 a.web.zkdisc' '$OUT/hosts' && grep -qx '127.0.0.1 c.api.zkdisc' '$OUT/hosts'"
check "hosts mode 0600" test "$(stat -c %a "$OUT/hosts")" = 600

# The data model.
model_has() { grep -qxF -- "$1" "$OUT/model.txt"; }
check "model: config document and version" wait_until 10 model_has "rps=5 greeting=hi version=1 checksum"
check "model: node hostname" model_has "host=$(hostname)"
check "model: instances with first/last/index, metadata, zone, weight" \
    model_has "0:a:a:127.0.0.1:port:100:z1:true:F:primary;1:b:b:127.0.0.1:port:50::true:L:;"
check "model: service_list in order" model_has 'list=["api","web"]'
"$ZKDISC" drain web b >/dev/null
check "model: drained b" wait_until 10 model_has "drained=b count=1"
check "haproxy.cfg marks b disabled" wait_until 10 grep -q "server b .* disabled" "$OUT/haproxy.cfg"
check "haproxy frontend reaches only a" wait_until 15 reaches "$HFE" "a"
check "nginx server reaches only a" wait_until 15 reaches "$NFE" "a"
printf '{"limits": {"rps": 7}, "greeting": "hi"}' >"$OUT/edge.json"
"$ZKDISC" config put edge "$OUT/edge.json" >/dev/null
check "model: a new config version" wait_until 10 model_has "rps=7 greeting=hi version=2 checksum"

# Same bytes: api changes, webonly.txt renders the same: no write, no hook.
lines() { wc -l <"$1"; }
lines_at_least() { [ "$(lines "$1")" -ge "$2" ]; }
check "webonly.txt without drained b" wait_output 10 "a " cat "$OUT/webonly.txt"
check "webonly hook ran for it" wait_output 10 2 lines "$OUT/webonly.log"
inode=$(stat -c %i "$OUT/webonly.txt")
hooked_before=$(wc -l <"$OUT/hooked.log")
register api reject "${PORT[c]}"
check "hooked.txt has reject" wait_until 10 grep -qx reject "$OUT/hooked.txt"

# check_cmd fails: the old file stays, config_apply_failed.
check "check_cmd failure alerted" wait_until 10 has_alert config_apply_failed "$OUT/guarded.txt"
check "guarded.txt kept without reject" test "$(cat "$OUT/guarded.txt")" = c
check "no check file left" sh -c "! ls '$OUT' | grep -q 'guarded.txt.check-'"
check "webonly.txt untouched (same inode)" test "$(stat -c %i "$OUT/webonly.txt")" = "$inode"
check "webonly hook not run again" test "$(wc -l <"$OUT/webonly.log")" = 2

# on_change fails: the previous file is back and on_change runs again.
check "hooked hook ran for reject" wait_until 10 lines_at_least "$OUT/hooked.log" $((hooked_before + 1))
hooked_before=$(wc -l <"$OUT/hooked.log")
register api explode "${PORT[c]}"
check "on_change failure alerted" wait_until 10 has_alert config_apply_failed "$OUT/hooked.txt"
check "hook ran twice more (failed, then on the restored file)" wait_output 10 $((hooked_before + 2)) lines "$OUT/hooked.log"
check "hooked.txt is the previous file" test "$(cat "$OUT/hooked.txt")" = "$(printf 'c\nreject')"
check "hosts has explode (other templates unaffected)" wait_until 10 grep -q explode.api "$OUT/hosts"

stop_pid "$AGENT_PID" # a leak report comes at exit
check "no sanitizer report" sh -c "! grep -qE 'Sanitizer|runtime error:' '$OUT/agent.log'"
finish
