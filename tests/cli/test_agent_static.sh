#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static discovery in zkdisc-agent: a service read from a file (served by
# the json output, nginx's upstream file, DNS and /v1/services, and followed
# when the file is replaced), and default_servers served while ZooKeeper has
# never answered and no snapshot exists, then replaced by ZooKeeper's set.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent/lib.sh"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap agent_cleanup EXIT INT TERM
API_PORT=$(free_port)
DNS_PORT=$(free_port)
mkdir -p "$OUT/out"
D=(dig @127.0.0.1 -p "$DNS_PORT" +time=2 +tries=1 +short)

# The file has the shape `zkdisc -o json instances` prints; name and id may
# be left out.
put_static() { printf '%s' "$1" >"$OUT/legacy.json.tmp" && mv "$OUT/legacy.json.tmp" "$OUT/legacy.json"; }
put_static '[{"id":"l1","address":"127.0.0.11","port":7001},
 {"address":"127.0.0.12","port":7002,"payload":{"weight":5,"zone":"z1"}}]'

cat >"$OUT/agent.conf" <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; };
agent = { api = "127.0.0.1:$API_PORT"; state_dir = "$OUT/state"; };
watch = (
  { service = "legacy"; file = "$OUT/legacy.json";
    outputs = ( { type = "json"; path = "$OUT/out/legacy.json"; },
                { type = "nginx"; path = "$OUT/out/legacy.upstream"; check = []; } ); },
  { service = "web";
    default_servers = ( { address = "127.0.0.21"; port = 8001; },
                        { id = "fallback-2"; address = "127.0.0.22"; port = 8002; weight = 7; } );
    outputs = ( { type = "json"; path = "$OUT/out/web.json"; } ); }
);
dns = { listen = "127.0.0.1:$DNS_PORT"; };
CONF

# --- check-config refuses bad static settings ---------------------------------
bad_conf() { # NAME WATCH-TEXT EXPECTED-WORDS
    printf 'zookeeper = { connect = "%s"; };\nwatch = ( %s );\n' "$ZKDISC_ZK" "$2" >"$OUT/bad.conf"
    expect_exit 2 "$1" "$AGENT" check-config -c "$OUT/bad.conf"
    expect_in "$1" err "$3"
}
bad_conf relative-file '{ service = "x"; file = "x.json"; }' "absolute path"
bad_conf missing-file '{ service = "x"; file = "/nonexistent/x.json"; }' "cannot read /nonexistent/x.json"
bad_conf file-and-defaults "{ service = \"x\"; file = \"$OUT/legacy.json\"; default_servers = ( { address = \"1.2.3.4\"; port = 1; } ); }" "needs no default servers"
bad_conf default-no-port '{ service = "x"; default_servers = ( { address = "1.2.3.4"; } ); }' "port"
bad_conf default-bad-id '{ service = "x"; default_servers = ( { id = "a b"; address = "1.2.3.4"; port = 1; } ); }' "default_servers"
expect_exit 0 check-config "$AGENT" check-config -c "$OUT/agent.conf"

# --- ZooKeeper down at the start, no snapshot: the default servers ------------
zkh_kill 0
start_agent "$OUT/agent.conf" "$OUT/agent.log"
json_has() { "$PY" - "$@" <<'PY'
import json, sys
path, source, *want = sys.argv[1:]
try:
    d = json.load(open(path))
except (OSError, ValueError):
    sys.exit(1) # not written yet: the caller waits
got = sorted("%s:%s" % (i["address"], i["port"]) for i in d["instances"])
sys.exit(0 if d.get("source") == source and got == sorted(want) else 1)
PY
}
check "defaults: web.json holds the default servers, marked" wait_until 10 \
    json_has "$OUT/out/web.json" default_servers 127.0.0.21:8001 127.0.0.22:8002
watch_source() { api GET "/v1/watch/$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["source"])'; }
has_source() { [ "$(watch_source "$1" 2>/dev/null)" = "$2" ]; }
dns_a() { "${D[@]}" "$1.service.zkdisc" A | sort | tr '\n' ' ' | sed 's/ $//'; }
dns_a_is() { [ "$(dns_a "$1")" = "$2" ]; }
check "defaults: /v1/watch/web source is default_servers" wait_until 5 has_source web default_servers
check "defaults: DNS answers with them" wait_until 5 dns_a_is web "127.0.0.21 127.0.0.22"
check "static: served while ZooKeeper is down too" wait_until 5 \
    json_has "$OUT/out/legacy.json" file 127.0.0.11:7001 127.0.0.12:7002

# --- ZooKeeper answers: its set replaces the defaults for good ------------------
zkh_restart 0
"$ZKDISC" register web --port 9001 --address 127.0.0.31 --id w1 >/dev/null 2>&1 &
HELPER_PIDS+=($!)
check "defaults replaced by ZooKeeper's set" wait_until 15 \
    json_has "$OUT/out/web.json" zookeeper 127.0.0.31:9001
check "the agent said so" grep -q "no longer serving default_servers" "$OUT/agent.log"
check "/v1/watch/web source is zookeeper" has_source web zookeeper
check "/v1/watch/legacy source is file" has_source legacy file
check "DNS follows ZooKeeper" wait_until 5 dns_a_is web 127.0.0.31

# --- the static file is followed -------------------------------------------------
check "static: nginx upstream written from the file, marked" \
    grep -q "source: file" "$OUT/out/legacy.upstream"
check "static: nginx has both servers" sh -c "grep -c '^ *server 127.0.0.1[12]:700[12]' '$OUT/out/legacy.upstream' | grep -qx 2"
srv_has() { "${D[@]}" legacy.service.zkdisc SRV | grep -q "$1"; }
check "static: SRV from the file" wait_until 5 srv_has " 7002 "
put_static '[{"id":"l1","address":"127.0.0.11","port":7101},{"id":"l3","address":"127.0.0.13","port":7003}]'
check "static: a replaced file is followed" wait_until 5 \
    json_has "$OUT/out/legacy.json" file 127.0.0.11:7101 127.0.0.13:7003
# The broken version must be seen before the next one replaces it: written
# back to back, the watcher may read only the second (CI saw exactly that).
printf '[{"id":"l1", "address": ' >"$OUT/legacy.json" # cut short, written in place
check "static: the broken version was logged" wait_until 5 \
    grep -q "serving its last good version" "$OUT/agent.log"
check "static: the last good version is kept meanwhile" \
    json_has "$OUT/out/legacy.json" file 127.0.0.11:7101 127.0.0.13:7003
put_static '[{"id":"l4","address":"127.0.0.14","port":7004}]'
check "static: the next good version is taken" wait_until 5 \
    json_has "$OUT/out/legacy.json" file 127.0.0.14:7004
check "static: nothing was ever written to ZooKeeper" has_count legacy 0
check "no sanitizer reports in the agent's log" no_sanitizer_reports "$OUT/agent.log"
finish
