#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent consumers: the DNS responder, asked with dig over UDP and
# TCP: A, SRV with the targets' addresses in the additional section, zone
# names, instance names, NXDOMAIN, an empty NOERROR, REFUSED outside the
# domain, TC over UDP for 40 instances (with the 29 A records that fit)
# then all 40 over TCP, FORMERR on
# garbage with the server still serving, a burst of 150 queries each
# answered, all_services (a cache opened on
# the first query, closed when idle), a removed instance gone, and the
# answers after a reload with another TTL and one watch fewer, then after
# a second reload back to the first configuration.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

PORT=$(free_port)
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "web"; }, { service = "empty"; allow_empty = true; }, { service = "big"; } );
dns = { listen = "127.0.0.1:$PORT"; domain = "zkdisc."; ttl = 7; all_services = true; idle_close = "2s"; };
CONF
expect_exit 0 check-conf "$AGENT_DRIVER" check -c "$OUT/agent.conf"

register web a 8001 --zone eu-1; pa=$REG_PID
register web b 8002 --address 127.0.0.2 --zone us-1; pb=$REG_PID
register web c 8003 --address 127.0.0.3 --zone us-1
"$ZKDISC" drain web c
for i in $(seq 1 40); do
    "$ZKDISC" create -p "/zkdisc/services/big/i$i" \
        "{\"name\":\"big\",\"id\":\"i$i\",\"address\":\"10.0.0.$i\",\"port\":80,\"sslPort\":null,\"payload\":null,\"registrationTimeUTC\":0,\"serviceType\":\"STATIC\",\"uriSpec\":null}" >/dev/null
done
start_agent "$OUT/agent.conf"

D=(dig @127.0.0.1 -p "$PORT" +time=2 +tries=1)
a_set() { "${D[@]}" +short "$1" A | sort | tr '\n' ' '; }
a_is() { [ "$(a_set "$1")" = "$2" ]; }
check "A lists a and b, not drained c" wait_until 15 a_is web.service.zkdisc "127.0.0.1 127.0.0.2 "
run srv "${D[@]}" web.service.zkdisc SRV
expect_in srv out "status: NOERROR"
expect_in srv out "flags: qr aa"
expect_in srv out "web.service.zkdisc.	7	IN	SRV	1 100 8001 a.web.instance.zkdisc."
expect_in srv out "web.service.zkdisc.	7	IN	SRV	1 100 8002 b.web.instance.zkdisc."
expect_in srv out ";; ADDITIONAL SECTION:"
expect_in srv out "a.web.instance.zkdisc.	7	IN	A	127.0.0.1"
check "zone name: eu-1 has a" a_is eu-1.web.service.zkdisc "127.0.0.1 "
check "zone name: us-1 has b" a_is us-1.web.service.zkdisc "127.0.0.2 "
check "instance name" a_is b.web.instance.zkdisc "127.0.0.2 "
check "case does not matter" a_is WEB.Service.ZKDISC "127.0.0.1 127.0.0.2 "
run nx "${D[@]}" nosuch.service.zkdisc A
expect_in nx out "status: NXDOMAIN"
run nxzone "${D[@]}" mars.web.service.zkdisc A
expect_in nxzone out "status: NXDOMAIN"
# A service with no node loads without a delta: the set is loaded at the
# next refresh (at most a second); until then it is SERVFAIL, never cached.
check "empty service loaded" wait_until 10 sh -c "$(printf '%q ' "${D[@]}") empty.service.zkdisc A | grep -q 'status: NOERROR'"
run empty "${D[@]}" empty.service.zkdisc A
expect_in empty out "status: NOERROR"
expect_in empty out "ANSWER: 0"
run refused "${D[@]}" example.com A
expect_in refused out "status: REFUSED"
run refused2 "${D[@]}" notzkdisc A
expect_in refused2 out "status: REFUSED"

# 40 instances: too big for UDP's 512 bytes, all of them over TCP.
check "big loaded" wait_until 10 sh -c "[ \$(${D[*]} +tcp +short big.service.zkdisc A | wc -l) -eq 40 ]"
run big-udp "${D[@]}" +noedns +ignore big.service.zkdisc A
expect_in big-udp out "flags: qr aa tc"
expect_in big-udp out "ANSWER: 29" # as many whole records as fit in 512 bytes
run big-retry "${D[@]}" +noedns big.service.zkdisc A
expect_in big-retry out "Truncated, retrying in TCP mode"
expect_in big-retry out "ANSWER: 40"
run big-tcp "${D[@]}" +tcp big.service.zkdisc SRV
expect_in big-tcp out "ANSWER: 40"
expect_in big-tcp out "ADDITIONAL: 41" # 40 addresses and the OPT record
# shuffled: two answers in different orders (40! orders; 5 tries)
CHECKS=$((CHECKS + 1)); shuffled=0
first=$("${D[@]}" +tcp +short big.service.zkdisc A | tr '\n' ' ')
for i in 1 2 3 4 5; do [ "$("${D[@]}" +tcp +short big.service.zkdisc A | tr '\n' ' ')" != "$first" ] && shuffled=1; done
if [ $shuffled = 1 ]; then pass "answers are shuffled"; else fail "same order five times"; fi

# Malformed packets: FORMERR with the query's id, nothing for a runt; then a good query.
run garbage python3 "$here/../agent_consumers/dns_garbage.py" "$PORT"
expect_in garbage out "FORMERR same-id"
CHECKS=$((CHECKS + 1))
if [ "$(cat "$OUT/garbage.out")" = "FORMERR same-id
FORMERR same-id
none" ]; then pass "garbage answered as expected"; else fail "garbage: $(cat "$OUT/garbage.out")"; fi
check "still serving after garbage" a_is web.service.zkdisc "127.0.0.1 127.0.0.2 "

# A burst of 150 queries read in batches: each answered once, whole, under its own id.
run burst python3 "$here/../agent_consumers/dns_burst.py" "$PORT" web.service.zkdisc 2 2 150
expect_in burst out "burst ok 150"

# all_services: a service no watch names is answered from a cache opened on the first query.
register other x 9009 --address 127.0.0.9
check "unwatched service answered (all_services)" wait_until 10 a_is other.service.zkdisc "127.0.0.9 "
run nx2 "${D[@]}" nosuch2.service.zkdisc A
expect_in nx2 out "status: NXDOMAIN"
check "its cache closed when idle" wait_until 15 grep -q 'dns: closing the idle cache of other' "$OUT/agent.log"
check "answered again after the close" wait_until 10 a_is other.service.zkdisc "127.0.0.9 "

# A removed instance leaves the answers.
stop_pid "$pb"
check "b gone after deregistration" wait_until 10 a_is web.service.zkdisc "127.0.0.1 "
run srv-after "${D[@]}" web.service.zkdisc SRV # the SRV answer follows the same view
expect_in srv-after out "ANSWER: 1,"
expect_in srv-after out "SRV	1 100 8001 a.web.instance.zkdisc."

# A reload (SIGHUP) with another TTL and without the watch of big: the
# answers prepared for the old configuration are not served again; big is
# answered from a cache all_services opens for it.
cp "$OUT/agent.conf" "$OUT/agent.conf.orig"
sed -i -e 's/ttl = 7;/ttl = 11;/' -e 's/, { service = "big"; }//' "$OUT/agent.conf"
kill -HUP "$AGENT_PID"
srv_ttl() { "${D[@]}" web.service.zkdisc SRV | grep -q "^web.service.zkdisc.	$1	IN	SRV	1 100 8001 a.web.instance.zkdisc.$"; }
check "after a reload, SRV carries the new TTL" wait_until 10 srv_ttl 11
run a-reload "${D[@]}" web.service.zkdisc A
expect_in a-reload out "web.service.zkdisc.	11	IN	A	127.0.0.1"
expect_in a-reload out "ANSWER: 1,"
big_ttl() { [ "$("${D[@]}" +tcp big.service.zkdisc A | grep -c "^big.service.zkdisc.	$1	IN	A")" -eq 40 ]; }
check "big answered from its own cache (SERVFAIL until loaded)" wait_until 10 big_ttl 11
check "the reload was taken" grep -q "reloaded " "$OUT/agent.log"
# And back: the first configuration again, its TTL and the watch of big.
cp "$OUT/agent.conf.orig" "$OUT/agent.conf"
kill -HUP "$AGENT_PID"
check "after a second reload, SRV carries the first TTL again" wait_until 10 srv_ttl 7
check "big answered again, from its watch" wait_until 10 big_ttl 7
check "both reloads taken" sh -c "[ \$(grep -c 'reloaded ' '$OUT/agent.log') -eq 2 ]"

stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
finish
