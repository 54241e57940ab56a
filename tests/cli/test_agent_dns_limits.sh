#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent DNS cannot be turned against anyone (real ZooKeeper, real
# dig): a 65,000-byte EDNS query for a 100-instance service gets at most
# 1,232 bytes over UDP, with TC and whole records, and everything over TCP
# (for 1,000 and 5,000 instances, as many whole records as fit in 65,535
# bytes);
# names are compressed (a 10-instance SRV answer is small); NXDOMAIN and
# NODATA carry the SOA, the apex answers SOA and NS; 10,000 random names
# under all_services leave real services answerable and state_dir without
# new files; a TCP client that pipelines 1,000 queries and never reads does
# not grow the agent's memory; TCP connections are capped; a non-loopback
# listen address needs dns.allow_remote.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
ABUSE=$here/../agent_consumers/dns_abuse.py

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

PORT=$(free_port)
# allow_remote: refused off loopback without it, accepted with it.
printf 'dns = { listen = "0.0.0.0:%s"; };\n' "$PORT" >"$OUT/remote.conf"
expect_exit 2 remote-refused "$AGENT_DRIVER" check -c "$OUT/remote.conf"
expect_in remote-refused err "0.0.0.0 is not a loopback address; set dns.allow_remote = true"
printf 'dns = { listen = "0.0.0.0:%s"; allow_remote = true; };\n' "$PORT" >"$OUT/remote-ok.conf"
expect_exit 0 remote-allowed "$AGENT_DRIVER" check -c "$OUT/remote-ok.conf"
AGENT_BIN=${ZKDISC%/zkdisc/zkdisc}/zkdisc-agent/zkdisc-agent
if [ -x "$AGENT_BIN" ]; then # the agent's own check-config says the same
    expect_exit 2 agent-remote-refused "$AGENT_BIN" check-config -c "$OUT/remote.conf"
    expect_in agent-remote-refused err "set dns.allow_remote = true to listen there"
    expect_exit 0 agent-remote-allowed "$AGENT_BIN" check-config -c "$OUT/remote-ok.conf"
fi

STATE=$OUT/state
mkdir -p "$STATE"
cat >"$OUT/agent.conf" <<CONF
agent = { state_dir = "$STATE"; };
watch = ( { service = "big"; }, { service = "ten"; } );
dns = { listen = "127.0.0.1:$PORT"; ttl = 5; negative_ttl = 30; all_services = true; };
CONF
expect_exit 0 check-conf "$AGENT_DRIVER" check -c "$OUT/agent.conf"
record() { # SERVICE ID ADDRESS
    printf '{"name":"%s","id":"%s","address":"%s","port":80,"sslPort":null,"payload":null,"registrationTimeUTC":0,"serviceType":"STATIC","uriSpec":null}' "$@"
}
for i in $(seq 1 100); do
    "$ZKDISC" create -p "/zkdisc/services/big/i$i" "$(record big "i$i" "10.0.$((i / 200)).$((i % 200 + 1))")" >/dev/null
done
for i in $(seq 1 10); do
    "$ZKDISC" create -p "/zkdisc/services/ten/t$i" "$(record ten "t$i" "10.1.0.$i")" >/dev/null
done
start_agent "$OUT/agent.conf"

D=(dig @127.0.0.1 -p "$PORT" +time=2 +tries=1)
count_a() { "${D[@]}" +tcp +short "$1" A | grep -c .; }
check "big loaded (100 over TCP)" wait_until 15 sh -c "[ \$($(printf '%q ' "${D[@]}") +tcp +short big.service.zkdisc A | grep -c .) -eq 100 ]"
check "ten loaded" wait_until 15 sh -c "[ \$($(printf '%q ' "${D[@]}") +short ten.service.zkdisc A | grep -c .) -eq 10 ]"

size_of() { awk '/MSG SIZE/ {print $NF}' "$OUT/$1.out"; }
section_count() { sed -n "s/.*$2: \([0-9]*\).*/\1/p" "$OUT/$1.out" | head -1; }
records() { grep -cE "^[^;].*[[:space:]]IN[[:space:]]+$2[[:space:]]" "$OUT/$1.out"; }

# UDP: whatever EDNS size is asked, at most 1,232 bytes, TC, whole records.
for t in SRV A; do
    run "udp-$t" "${D[@]}" +bufsize=65000 +ignore big.service.zkdisc "$t"
    expect_in "udp-$t" out "flags: qr aa tc"
    expect_in "udp-$t" out "; EDNS: version: 0, flags:; udp: 1232"
    n=$(section_count "udp-$t" ANSWER)
    CHECKS=$((CHECKS + 1))
    if [ "$(size_of "udp-$t")" -le 1232 ] && [ "${n:-0}" -gt 20 ] && [ "$n" -lt 100 ] &&
        [ "$(records "udp-$t" "$t")" -eq "$n" ] && ! grep -qi "malformed\|warning: message" "$OUT/udp-$t.out"; then
        pass "$t over UDP: $(size_of "udp-$t") bytes, $n whole records"
    else
        fail "$t over UDP: $(size_of "udp-$t") bytes, ANSWER $n, $(records "udp-$t" "$t") records: $(head -c 600 "$OUT/udp-$t.out")"
    fi
done
run tcp-srv "${D[@]}" +tcp big.service.zkdisc SRV
expect_in tcp-srv out "ANSWER: 100,"
expect_in tcp-srv out "ADDITIONAL: 101" # 100 addresses and the OPT record
check "TCP: 100 SRV records" [ "$(records tcp-srv SRV)" -eq 100 ]

# Over TCP too an answer is cut at whole records: 1,000 instances with long
# ids (an unwatched service, all_services) make an SRV answer of about
# 56 KB compressed, with addresses for the targets a compression pointer
# can reach (the first 16 KB of the message).
/usr/bin/python3 - "$ZKDISC_ZK" <<'PY'
import json, sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1])
zk.start()
zk.ensure_path("/zkdisc/services/huge")
ops = []
for i in range(1000):
    iid = "instance-with-a-rather-long-id-%04d" % i
    rec = {"name": "huge", "id": iid, "address": "10.2.%d.%d" % (i // 200, i % 200 + 1), "port": 80,
           "sslPort": None, "payload": None, "registrationTimeUTC": 0, "serviceType": "STATIC", "uriSpec": None}
    ops.append(zk.create_async("/zkdisc/services/huge/" + iid, json.dumps(rec).encode()))
for o in ops:
    o.get()
zk.stop()
PY
huge_ok() { "${D[@]}" +tcp huge.service.zkdisc SRV >"$OUT/huge.out" 2>&1 && grep -q "ANSWER: 1000," "$OUT/huge.out"; }
check "TCP: 1,000 SRV records of an unwatched service" wait_until 20 huge_ok
extra=$(section_count huge ADDITIONAL)
CHECKS=$((CHECKS + 1))
if [ "$(size_of huge)" -le 65535 ] && [ "${extra:-0}" -gt 100 ] && [ "$extra" -lt 1001 ] &&
    [ "$(records huge SRV)" -eq 1000 ] && [ "$(records huge A)" -eq $((extra - 1)) ]; then
    pass "TCP: $(size_of huge) bytes, 1000 SRV and $((extra - 1)) addresses, all whole"
else
    fail "TCP huge: $(size_of huge) bytes, ADDITIONAL $extra, $(records huge SRV) SRV, $(records huge A) A"
fi
# Each address is its own target's (names past 16 KB are written out again).
check "TCP huge: every address under its target's name" python3 - "$OUT/huge.out" <<'PY'
import re, sys
pairs = re.findall(r"^instance-with-a-rather-long-id-(\d+)\.huge\.instance\.zkdisc\.\s+\d+\s+IN\s+A\s+(\S+)$",
                   open(sys.argv[1]).read(), re.M)
ok = [a == "10.2.%d.%d" % (int(i) // 200, int(i) % 200 + 1) for i, a in pairs]
sys.exit(0 if len(ok) > 300 and all(ok) else 1)
PY

# An answer whose records alone pass 65,535 bytes: 5,000 instances (an
# unwatched service) over TCP carry as many whole SRV records, and as many
# whole A records, as fit; never an empty answer.
/usr/bin/python3 - "$ZKDISC_ZK" <<'PY'
import json, sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1])
zk.start()
zk.ensure_path("/zkdisc/services/vast")
ops = []
for i in range(5000):
    iid = "vast-instance-with-a-long-id-%04d" % i
    rec = {"name": "vast", "id": iid, "address": "10.3.%d.%d" % (i // 200, i % 200 + 1), "port": 80,
           "sslPort": None, "payload": None, "registrationTimeUTC": 0, "serviceType": "STATIC", "uriSpec": None}
    ops.append(zk.create_async("/zkdisc/services/vast/" + iid, json.dumps(rec).encode()))
for o in ops:
    o.get()
zk.stop()
PY
for t in SRV A; do
    vast_ok() { "${D[@]}" +tcp vast.service.zkdisc "$t" >"$OUT/vast-$t.out" 2>&1 &&
        [ "$(section_count "vast-$t" ANSWER)" -gt 1000 ]; }
    check "TCP: 5,000 instances, $t answered" wait_until 20 vast_ok
    n=$(section_count "vast-$t" ANSWER)
    CHECKS=$((CHECKS + 1))
    if [ "$(size_of "vast-$t")" -le 65535 ] && [ "${n:-0}" -lt 5000 ] && [ "$(records "vast-$t" "$t")" -eq "$n" ] &&
        ! grep -qi "malformed\|warning: message" "$OUT/vast-$t.out"; then
        pass "TCP vast $t: $(size_of "vast-$t") bytes, $n whole records"
    else
        fail "TCP vast $t: $(size_of "vast-$t") bytes, ANSWER $n, $(records "vast-$t" "$t") records: $(head -c 600 "$OUT/vast-$t.out")"
    fi
done

# Compressed names: 10 SRV records with their addresses (uncompressed: ~1,030 bytes).
run ten-srv "${D[@]}" ten.service.zkdisc SRV
expect_in ten-srv out "ANSWER: 10,"
expect_in ten-srv out "ADDITIONAL: 11"
check "ten: compressed target names read back" grep -qE "^ten\.service\.zkdisc\.[[:space:]]+5[[:space:]]+IN[[:space:]]+SRV[[:space:]]+1 [0-9]+ 80 t7\.ten\.instance\.zkdisc\.$" "$OUT/ten-srv.out"
check "ten: target addresses read back" grep -qE "^t7\.ten\.instance\.zkdisc\.[[:space:]]+5[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.1\.0\.7$" "$OUT/ten-srv.out"
check "10-instance SRV answer under 600 bytes ($(size_of ten-srv))" [ "$(size_of ten-srv)" -lt 600 ]

# Negative answers carry the SOA (its minimum is negative_ttl); the apex has SOA and NS.
soa_re='IN[[:space:]]+SOA[[:space:]]+ns\.zkdisc\. hostmaster\.zkdisc\. [0-9]+ 3600 600 86400 30$'
run nx "${D[@]}" nosuch.service.zkdisc A
expect_in nx out "status: NXDOMAIN"
expect_in nx out "AUTHORITY: 1,"
check "NXDOMAIN: SOA in authority" grep -qE "^zkdisc\.[[:space:]]+30[[:space:]]+$soa_re" "$OUT/nx.out"
run nodata "${D[@]}" big.service.zkdisc TXT
expect_in nodata out "status: NOERROR"
expect_in nodata out "ANSWER: 0, AUTHORITY: 1,"
check "NODATA: SOA in authority" grep -qE "$soa_re" "$OUT/nodata.out"
run apex-soa "${D[@]}" zkdisc SOA
expect_in apex-soa out "ANSWER: 1,"
check "apex SOA" grep -qE "^zkdisc\.[[:space:]]+30[[:space:]]+$soa_re" "$OUT/apex-soa.out"
run apex-ns "${D[@]}" zkdisc NS
expect_in apex-ns out "ANSWER: 1,"
check "apex NS" grep -qE "^zkdisc\.[[:space:]]+5[[:space:]]+IN[[:space:]]+NS[[:space:]]+ns\.zkdisc\.$" "$OUT/apex-ns.out"
check "apex NS: the server's address" grep -qE "^ns\.zkdisc\.[[:space:]]+5[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.1$" "$OUT/apex-ns.out"

# all_services under a flood of random names: the watched caches have
# written their snapshot files; nothing else may appear in state_dir.
snaps() { ls "$STATE" | grep -c '^service\.\(big\|ten\)\.'; }
check "watched snapshots written" wait_until 10 sh -c "[ \$(ls '$STATE' | grep -c '^service\.\(big\|ten\)\.') -eq 2 ]"
ls -a "$STATE" >"$OUT/state.before"
register real r1 9009 --address 127.0.0.9
a_is() { [ "$("${D[@]}" +short "$1" A | sort | tr '\n' ' ')" = "$2" ]; }
check "unwatched service answered" wait_until 10 a_is real.service.zkdisc "127.0.0.9 "
run flood python3 "$ABUSE" random "$PORT" 10000 zkdisc
answered=$(awk '/^sent/ {print $4}' "$OUT/flood.out"); nx=$(awk '/^NXDOMAIN/ {print $2}' "$OUT/flood.out")
check "10,000 random names: NXDOMAIN ($(tr '\n' ' ' <"$OUT/flood.out"))" \
    [ "${answered:-0}" -ge 9500 -a "${nx:-0}" -eq "${answered:-0}" ]
check "real service still answered after the flood" a_is real.service.zkdisc "127.0.0.9 "
check "watched service still answered after the flood" [ "$(count_a big.service.zkdisc)" -eq 100 ]
# A service first asked after the flood still gets a cache (no slot is
# taken by a name that does not exist).
"$ZKDISC" create -p /zkdisc/services/late/l1 "$(record late l1 127.0.0.10)" >/dev/null
check "service first asked after the flood answered" wait_until 10 a_is late.service.zkdisc "127.0.0.10 "
ls -a "$STATE" >"$OUT/state.after"
check "state_dir without new files ($(diff "$OUT/state.before" "$OUT/state.after" | tr '\n' ' '))" \
    cmp -s "$OUT/state.before" "$OUT/state.after"

# A TCP client that pipelines 1,000 queries and never reads.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status"; }
rss0=$(rss)
bg python3 "$ABUSE" pipeline "$PORT" 1000 big.service.zkdisc >"$OUT/pipe.out" 2>&1; PIPE=$BG_PID
check "pipelined queries sent" wait_until 10 grep -q sent "$OUT/pipe.out"
# Unbounded, the 1,000 answers (10 KB each before compression, 4 KB after)
# would hold 10 MB (4 MB compressed); bounded, 64 KiB (a sanitizer build
# adds up to 3 MB of its own).
grown() { [ $(( $(rss) - rss0 )) -gt 4096 ]; }
CHECKS=$((CHECKS + 1))
if wait_until 3 grown; then fail "RSS grew from $rss0 to $(rss) kB"; else pass "RSS bounded ($rss0 -> $(rss) kB)"; fi
check "UDP answered meanwhile" a_is ten.service.zkdisc "$(printf '10.1.0.%s\n' $(seq 1 10) | sort | tr '\n' ' ')"
stop_pid "$PIPE"

# At most 64 TCP connections: the ones beyond are closed at once.
run conns python3 "$ABUSE" conns "$PORT" 80
check "connections beyond the cap closed ($(cat "$OUT/conns.out"))" [ "$(cat "$OUT/conns.out")" -ge 16 ]
check "TCP answers again" wait_until 10 sh -c "$(printf '%q ' "${D[@]}") +tcp +short ten.service.zkdisc A | grep -q 10.1.0.1"

stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
finish
