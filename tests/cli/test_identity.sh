#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Identity bound to the tree: a rogue client that may write one znode writes
# records claiming another instance's id and another service's name. They
# never reach `zkdisc instances`, the agent's json, HAProxy and nginx files
# or its DNS answers, and each is named in the log with both names. Then
# fidelity: 0.1 stays 0.1 through register and drain, "enabled": null is
# drained, and an operator drains and removes foreign ids ("web 1",
# "ü-id", "q1@host").
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
Z=$ZKDISC

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

register web web-1 8001; pweb=$REG_PID
register payments p-1 9001 --address 127.0.0.2; ppay=$REG_PID
# The rogue: web-1's id at another address; a record moved into payments;
# one moved from payments into web.
rogue() { "$Z" create "/zkdisc/services/$1/$2" "$3" >/dev/null; }
rogue web zz-x '{"name":"web","id":"web-1","address":"10.6.6.6","port":8001}'
rogue web moved '{"name":"payments","id":"moved","address":"10.6.6.7","port":8001}'
rogue payments p-2 '{"name":"web","id":"p-2","address":"10.6.6.8","port":8001}'
rogue web seq '{"name":"web","id":"web-","address":"10.6.6.9","port":8001,"serviceType":"DYNAMIC_SEQUENTIAL"}'

# --- the CLI ------------------------------------------------------------------------------
expect_exit 0 inst "$Z" -o json instances web
check "instances web: only the real web-1" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [(i["id"], i["address"]) for i in d] == [("web-1", "127.0.0.1")], d' "$OUT/inst.out"
expect_exit 0 inst-v "$Z" -v -o json instances web
expect_in inst-v err 'skipping web/zz-x: record id "web-1" is not its znode'"'"'s name "zz-x"'
expect_in inst-v err 'skipping web/moved: record names service "payments" but lives under service "web"'
expect_in inst err "skipped 3 malformed records under web (-v names them)"
expect_exit 0 inst-pay "$Z" -o json instances payments
check "instances payments: only p-1" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [(i["id"], i["name"]) for i in d] == [("p-1", "payments")], d' "$OUT/inst-pay.out"
expect_exit 0 services "$Z" -o json services
check "services counts the spoofs as malformed" python3 -c '
import json, sys
m = {s["name"]: s for s in json.load(open(sys.argv[1]))}
assert (m["web"]["instances"], m["web"]["malformed"]) == (1, 3), m["web"]
assert (m["payments"]["instances"], m["payments"]["malformed"]) == (1, 1), m["payments"]' "$OUT/services.out"
expect_exit 0 pick "$Z" pick web
check "pick gives the real web-1" grep -qx "127.0.0.1:8001" "$OUT/pick.out"

# --- the agent: json, HAProxy, nginx, DNS --------------------------------------------------
DNS=$(free_port)
cat >"$OUT/agent.conf" <<CONF
watch = (
  { service = "web";
    outputs = ( { type = "json"; path = "$OUT/web.json"; },
                { type = "haproxy"; config = "$OUT/backend.cfg"; backend = "web"; slots = 4; },
                { type = "nginx"; path = "$OUT/upstream.conf"; upstream = "web"; } ); },
  { service = "payments"; }
);
dns = { listen = "127.0.0.1:$DNS"; domain = "zkdisc."; ttl = 5; };
CONF
expect_exit 0 check-conf "$AGENT_DRIVER" check -c "$OUT/agent.conf"
start_agent "$OUT/agent.conf"
check "json output written" wait_until 15 test -s "$OUT/web.json"
check "json lists web-1 only" ids_are "$OUT/web.json" "web-1"
check "haproxy file written" wait_until 15 test -s "$OUT/backend.cfg"
check "nginx file written" wait_until 15 test -s "$OUT/upstream.conf"
for f in web.json backend.cfg upstream.conf; do
    check "$f: no rogue address" sh -c "! grep -q '10\.6\.6\.' '$OUT/$f'"
    check "$f: the real web-1" grep -q "127.0.0.1" "$OUT/$f"
done
check "haproxy: one server with an address" [ "$(grep -c '127\.0\.0\.1:8001' "$OUT/backend.cfg")" -eq 1 ]

D=(dig @127.0.0.1 -p "$DNS" +time=2 +tries=1)
answers() { "${D[@]}" +short "$1" "$2" | sort | tr '\n' ' '; }
answers_are() { [ "$(answers "$1" "$2")" = "$3" ]; }
check "dns: web A is web-1's" wait_until 15 answers_are web.service.zkdisc A "127.0.0.1 "
check "dns: web-1's instance name is its own" answers_are web-1.web.instance.zkdisc A "127.0.0.1 "
check "dns: web SRV has web-1 only" answers_are web.service.zkdisc SRV "1 100 8001 web-1.web.instance.zkdisc. "
check "dns: payments A is p-1's" answers_are payments.service.zkdisc A "127.0.0.2 "
run dns-moved "${D[@]}" moved.web.instance.zkdisc A
expect_in dns-moved out "status: NXDOMAIN"
run dns-moved2 "${D[@]}" moved.payments.instance.zkdisc A
expect_in dns-moved2 out "status: NXDOMAIN"
check "agent log names zz-x and web-1" grep -q 'zz-x: record id "web-1"' "$OUT/agent.log"
check "... once" [ "$(grep -c 'zz-x: record id' "$OUT/agent.log")" -eq 1 ]

# --- fidelity ----------------------------------------------------------------------------
bg "$Z" register fid2 --port 7100 --id x --address 127.0.0.1 --payload '{"dbl":0.1}'
check "fid2 registered" wait_until 15 "$Z" stat /zkdisc/services/fid2/x
expect_exit 0 fid2-get "$Z" get --raw /zkdisc/services/fid2/x
expect_exit 0 fid2-show "$Z" get /zkdisc/services/fid2/x
check "get shows 0.1, as stored" grep -qx '    "dbl": 0.1' "$OUT/fid2-show.out"
expect_in fid2-get out '"payload":{"dbl":0.1}'

# Foreign znode names, as Curator and hand-written records allow them.
"$Z" create "/zkdisc/services/web/web 1" \
    '{"name":"web","id":"web 1","address":"127.0.0.5","port":8005,"payload":{"dbl":0.1,"n":12345678901234567}}' >/dev/null
"$Z" create "/zkdisc/services/web/ü-id" '{"name":"web","id":"ü-id","address":"127.0.0.6","port":8006}' >/dev/null
"$Z" create "/zkdisc/services/web/q1@host" '{"name":"web","id":"q1@host","address":"127.0.0.7","port":8007}' >/dev/null
"$Z" create "/zkdisc/services/web/nul" '{"name":"web","id":"nul","address":"127.0.0.8","port":8008,"enabled":null}' >/dev/null
check "json lists the foreign ids, not the null-enabled one" \
    wait_until 15 ids_are "$OUT/web.json" "q1@host web 1 web-1 ü-id"
expect_exit 0 nul-table "$Z" instances web
check "enabled: null is drained" grep -Eq '^nul .*drained$' "$OUT/nul-table.out"

expect_exit 0 drain-space "$Z" drain web "web 1"
expect_exit 0 drain-space-get "$Z" get --raw "/zkdisc/services/web/web 1"
expect_in drain-space-get out '"payload":{"dbl":0.1,"n":12345678901234567}'
expect_in drain-space-get out '"enabled":false'
check "the drained foreign id left the json output" wait_until 10 ids_are "$OUT/web.json" "q1@host web-1 ü-id"
expect_exit 0 undrain-space "$Z" undrain web "web 1"
expect_exit 0 undrain-space-get "$Z" get --raw "/zkdisc/services/web/web 1"
expect_in undrain-space-get out '"payload":{"dbl":0.1,"n":12345678901234567}'
check "undrained: back in the json output" wait_until 10 ids_are "$OUT/web.json" "q1@host web 1 web-1 ü-id"
expect_exit 0 drain-utf8 "$Z" drain web "ü-id"
expect_exit 0 dereg-at "$Z" deregister web "q1@host"
expect_exit 4 dereg-at-again "$Z" deregister web "q1@host"
expect_in dereg-at-again err 'instance "q1@host" of service web is not registered'
expect_exit 2 dereg-escape "$Z" deregister web "../payments"
expect_exit 0 pay-intact "$Z" stat /zkdisc/services/payments/p-1
check "json after: web 1 and web-1" wait_until 10 ids_are "$OUT/web.json" "web 1 web-1"

stop_pid "$AGENT_PID"
stop_pid "$pweb"; stop_pid "$ppay"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
finish
