#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interop with real peers (issue 11): Apache Curator 5.4 (Debian's jars,
# compiled here with javac) registers the ways its users do and reads what
# zkdisc writes; kazoo writes ServerSet, Nerve and malformed members; Spring
# Cloud's real record (DESIGN.md section 4) is a fixture under --root /.
# Also the inputs that must never change data silently: connect strings,
# /zookeeper, oversized imports, libconfig keys.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
Z=$ZKDISC
src=$(cd "$here/../interop" && pwd)

# --- connect strings: refused at once, one message each ------------------------------
one_line() { [ "$(wc -l <"$OUT/$1.err")" -eq 1 ]; }
for bad in 127.0.0.1:99999 127.0.0.1:0 127.0.0.1 127.0.0.1:80x; do
    expect_exit 2 "zk-port-$bad" "$Z" --zk "$bad" ls /
    check "zk-port-$bad: one message" one_line "zk-port-$bad"
done
started=$(date +%s%N)
expect_exit 3 zk-unresolvable "$Z" --zk no-such-host.invalid:2181 ls /
took=$(( ($(date +%s%N) - started) / 1000000 ))
check "an unresolvable name is refused before the connect timeout (${took} ms)" [ "$took" -lt 4000 ]
check "zk-unresolvable: one message" one_line zk-unresolvable
expect_in zk-unresolvable err "no-such-host.invalid"

# --- Curator's classes, compiled against the Debian jars --------------------------------
jars=""
for j in curator-x-discovery curator-recipes curator-framework curator-client zookeeper zookeeper-jute \
         jackson-core jackson-databind jackson-annotations guava slf4j-api slf4j-nop \
         netty-handler netty-transport netty-common netty-buffer netty-resolver netty-codec \
         netty-transport-native-epoll netty-transport-native-unix-common; do
    [ -f "/usr/share/java/$j.jar" ] || { fail "missing /usr/share/java/$j.jar (tools/install-deps.sh)"; finish; exit 1; }
    jars="$jars:/usr/share/java/$j.jar"
done
CP="$OUT/classes$jars"
mkdir -p "$OUT/classes"
check "CuratorPeer.java compiles" javac -nowarn -d "$OUT/classes" -cp "$CP" "$src/CuratorPeer.java"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
BASE=/zkdisc/services
curator() { java -cp "$CP" CuratorPeer "$ZKDISC_ZK" "$@"; }
kazoo() { /usr/bin/python3 "$src/kazoo_peer.py" "$ZKDISC_ZK" "$@"; } # Debian's kazoo
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$OUT/$1.out"; }

# --- Curator registers; zkdisc lists, picks, drains, watches ---------------------------
"$Z" instances jmap --watch >"$OUT/watch.out" 2>"$OUT/watch.err" &
watcher=$!
mkfifo "$OUT/hold"
curator "$BASE" register <"$OUT/hold" >"$OUT/curator-reg.out" 2>"$OUT/curator-reg.err" &
creg=$!
exec 7>"$OUT/hold" # the Curator peer holds its instances until this closes
check "Curator registered its instances" wait_until 60 grep -qx ready "$OUT/curator-reg.out"

expect_exit 0 c-map "$Z" -o json instances jmap
# Curator's compatible serializer writes the Map's class into the payload.
check "Map payload read" json c-map \
    'assert d[0]["payload"] == {"@class": "java.util.LinkedHashMap", "weight": 30, "zone": "eu-1"}, d'
expect_exit 0 c-map-table "$Z" instances jmap
expect_in c-map-table out "eu-1"
expect_in c-map-table out " 30 "
check "watch saw Curator's instance" wait_until 15 grep -q "added j-map 10.1.0.1:8001" "$OUT/watch.out"
expect_exit 0 c-null "$Z" -o json instances jnull
check "null payload read" json c-null 'assert d[0]["payload"] is None and d[0]["id"] == "j-null", d'
expect_exit 0 c-null-pick "$Z" pick jnull
expect_in c-null-pick out "10.1.0.2:8002"

expect_exit 0 c-ssl-pick "$Z" pick jssl
check "sslPort only: pick gives https://address:sslPort" grep -qx "https://10.1.0.3:8443" "$OUT/c-ssl-pick.out"
expect_exit 0 c-ssl-table "$Z" instances jssl
expect_in c-ssl-table out "https://10.1.0.3:8443"

expect_exit 0 c-seq "$Z" -o json instances seqsvc
check "DYNAMIC_SEQUENTIAL: json carries id and znode" json c-seq \
    'assert d[0]["id"] == "q1" and d[0]["znode"].startswith("q1") and len(d[0]["znode"]) == 12, d'
znode=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["znode"])' "$OUT/c-seq.out")
expect_exit 0 c-seq-table "$Z" instances seqsvc
expect_in c-seq-table out "ZNODE"
expect_in c-seq-table out "$znode"
expect_exit 0 c-seq-drain "$Z" drain seqsvc q1
expect_exit 0 c-seq-query curator "$BASE" query seqsvc
check "Curator sees zkdisc's drain of its instance" grep -q "^query q1 10.1.0.4 8004 null false" "$OUT/c-seq-query.out"
expect_exit 0 c-seq-undrain "$Z" undrain seqsvc "$znode"

expect_exit 0 c-dis "$Z" instances jdis
expect_in c-dis out "drained"
expect_exit 4 c-dis-pick "$Z" pick jdis
expect_exit 0 services "$Z" services
for s in jmap jnull jssl seqsvc jdis; do expect_in services out "$s"; done

# --- zkdisc registers; Curator queries, caches and round-robins ------------------------
"$Z" register zweb --port 9001 --address 10.2.0.1 --id z-1 --weight 70 --zone eu-2 \
    --meta team=core >"$OUT/z1.out" 2>"$OUT/z1.err" &
z1=$!
"$Z" register zweb --port 9002 --address 10.2.0.2 --id z-2 --ssl-port 9443 >"$OUT/z2.out" 2>"$OUT/z2.err" &
z2=$!
check "zkdisc registered two instances" wait_until 15 sh -c "grep -qx z-1 '$OUT/z1.out' && grep -qx z-2 '$OUT/z2.out'"
expect_exit 0 read-zweb curator "$BASE" query zweb + cache zweb + provider zweb 4
expect_in read-zweb out 'query z-1 10.2.0.1 9001 null true {"weight":70,"zone":"eu-2","metadata":{"team":"core"}}'
expect_in read-zweb out 'query z-2 10.2.0.2 9002 9443 true null'
expect_in read-zweb out 'cache z-1 10.2.0.1 9001 null true {"weight":70'
expect_in read-zweb out 'cache z-2 10.2.0.2 9002 9443 true null'
check "Curator's round-robin provider gives both" \
    sh -c "grep -qx 'provider z-1' '$OUT/read-zweb.out' && grep -qx 'provider z-2' '$OUT/read-zweb.out'"
expect_exit 0 drain-z2 "$Z" drain zweb z-2
expect_exit 0 read-drained curator "$BASE" provider zweb 4 + query zweb
check "Curator's provider skips zkdisc's drained instance" \
    sh -c "[ \"\$(grep ^provider '$OUT/read-drained.out' | sort -u)\" = 'provider z-1' ]"
expect_in read-drained out 'query z-2 10.2.0.2 9002 9443 false null'
expect_exit 0 pick-ssl "$Z" pick zweb --ssl --strategy round-robin
kill -TERM "$z1" "$z2"; wait "$z1" "$z2"

# Typed payload readers: a plain record is a ClassCastException to them;
# --payload-class writes the "@class" they need.
"$Z" register ztyped --port 9003 --address 10.2.0.3 --id t-1 --weight 5 >"$OUT/t1.out" 2>&1 &
t1=$!
"$Z" register zclass --port 9004 --address 10.2.0.4 --id t-2 --zone eu-3 --weight 5 \
    --payload-class 'CuratorPeer$Details' >"$OUT/t2.out" 2>&1 &
t2=$!
check "plain and typed records registered" \
    wait_until 15 sh -c "grep -qx t-1 '$OUT/t1.out' && grep -qx t-2 '$OUT/t2.out'"
expect_exit 0 typed curator "$BASE" typed ztyped + typed zclass
expect_in typed out "typed error ClassCastException"
expect_in typed out "typed t-2 weight=5 zone=eu-3"
kill -TERM "$t1" "$t2"; wait "$t1" "$t2"

exec 7>&- # the Curator peer leaves
wait "$creg"
check "Curator's instances are gone with its session" wait_until 15 sh -c "! '$Z' pick jmap >/dev/null 2>&1"
kill -TERM "$watcher"; wait "$watcher" 2>/dev/null
check "watch saw Curator's instance leave" grep -q "removed j-map" "$OUT/watch.out"

# --- kazoo writes ServerSet, Nerve and malformed members -------------------------------
expect_exit 0 kazoo-write kazoo "$BASE"
expect_exit 0 ss "$Z" -o json services
check "services counts live ServerSet members, and the malformed one" json ss \
    'm = {s["name"]: s for s in d}; assert (m["ss"]["instances"], m["ss"]["malformed"]) == (1, 1), m["ss"]'
check "five kinds of malformed children counted" json ss \
    'm = {s["name"]: s for s in d}; assert (m["junk"]["instances"], m["junk"]["malformed"]) == (1, 5), m["junk"]'
expect_exit 0 ss-table "$Z" services
expect_in ss-table out "MALFORMED"
expect_exit 0 nerve "$Z" -o json instances nerve
check "Nerve's weight and labels stay in -o json" json nerve \
    'i = d[0]; assert i["payload"]["weight"] == 10 and i["payload"]["labels"] == {"zone": "us-east-1a", "az": "a"} and i["format"] == "nerve", i'
expect_exit 0 nerve-table "$Z" instances nerve
expect_in nerve-table out " 10 "
expect_exit 0 ss-pick "$Z" pick ss
expect_in ss-pick out "10.0.0.5:31337"

# Columns are never cut when piped.
expect_exit 0 long "$Z" instances longnames
expect_in long out "us-east-1a"
expect_in long out "us-east-1b"
expect_in long out "ip-10-20-30-40.eu-west-1.compute.internal:8080"

# Two znodes, one record id: flagged, and an operator must name the znode.
expect_exit 0 dup "$Z" instances dup
expect_in dup out "duplicate-id"
expect_in dup err "share a record id"
expect_exit 0 dup-json "$Z" -o json instances dup
check "duplicateId in json" json dup-json 'assert all(i.get("duplicateId") for i in d), d'
expect_exit 2 dup-drain "$Z" drain dup same
expect_in dup-drain err "2 znodes"
expect_exit 0 dup-drain-znode "$Z" drain dup same0000000000
expect_exit 0 dup-after "$Z" -o json instances dup
check "only the named znode was drained" json dup-after \
    'e = {i["znode"]: i.get("enabled", True) for i in d}; assert e == {"same0000000000": False, "same0000000001": True}, e'

# A record claiming another znode's id is malformed: counted, never listed.
expect_exit 0 spoof "$Z" -o json instances spoof
check "the spoofed record is skipped" json spoof 'assert [(i["id"], i["address"]) for i in d] == [("real", "10.0.3.1")], d'
expect_in spoof err "skipped 1 malformed record under spoof"

# "enabled": null: Curator reads it into a primitive boolean, false; so does zkdisc.
"$Z" create -p "$BASE/jnullen/n-1" '{"name":"jnullen","id":"n-1","address":"10.1.0.9","port":8009,"enabled":null}' >/dev/null
expect_exit 0 nullen-curator curator "$BASE" query jnullen
expect_in nullen-curator out "query n-1 10.1.0.9 8009 null false"
expect_exit 0 nullen "$Z" instances jnullen
expect_in nullen out "drained"

# --- Spring Cloud Zookeeper's default tree: --root / -----------------------------------
spring='{"name":"cloud-provider-payment","id":"585ddd0b-7d30-4225-afda-758f05b75c8f","address":"192.168.0.106","port":8004,"sslPort":null,"payload":{"@class":"org.springframework.cloud.zookeeper.discovery.ZookeeperInstance","id":"application-1","name":"cloud-provider-payment","metadata":{}},"registrationTimeUTC":1698197224917,"serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false},{"value":"address","variable":true},{"value":":","variable":false},{"value":"port","variable":true}]}}'
"$Z" create -p /services/cloud-provider-payment/585ddd0b-7d30-4225-afda-758f05b75c8f "$spring" >/dev/null
expect_exit 0 spring "$Z" --root / instances cloud-provider-payment
expect_in spring out "192.168.0.106:8004"
expect_exit 0 spring-services "$Z" --root / services
expect_in spring-services out "cloud-provider-payment"
expect_exit 0 spring-json "$Z" --root / -o json instances cloud-provider-payment
check "Spring's record round-trips byte for byte" python3 -c '
import json, sys
[i] = json.load(open(sys.argv[1])); del i["znode"]
assert i.pop("registrationTime") == "2023-10-25T01:27:04.917Z", i  # registrationTimeUTC as text
assert json.dumps(i, separators=(",", ":")) == sys.argv[2], i' "$OUT/spring-json.out" "$spring"
"$Z" --root / register spring-peer --port 8100 --address 10.3.0.1 --id s-1 >"$OUT/s1.out" 2>&1 &
s1=$!
check "register under --root / writes /services/SERVICE/ID" wait_until 15 "$Z" stat /services/spring-peer/s-1
expect_exit 0 spring-curator curator /services query spring-peer
expect_in spring-curator out "query s-1 10.3.0.1 8100"
kill -TERM "$s1"; wait "$s1"

# --- inputs that never change data silently --------------------------------------------
expect_exit 2 create-zookeeper "$Z" create /zookeeper/x data
expect_in create-zookeeper err "/zookeeper belongs to ZooKeeper"
expect_exit 4 create-zookeeper-nothing "$Z" stat /zookeeper/x

python3 - "$OUT/big.json" <<'PY'
import json, sys
nodes = [{"path": "/imp"}] + [{"path": "/imp/n%03d" % i, "data": "x"} for i in range(150)]
nodes.append({"path": "/imp/huge", "data": "y" * (1024 * 1024 + 10)})
json.dump({"format": "zkdisc-export/1", "root": "/imp", "nodes": nodes}, open(sys.argv[1], "w"))
PY
expect_exit 1 import-huge "$Z" import "$OUT/big.json" --batch 32
expect_in import-huge err "/imp/huge"
expect_in import-huge err "nothing was imported"
expect_exit 4 import-wrote-nothing "$Z" stat /imp

printf '{"true": 1, "db": {"FALSE": 2}}' >"$OUT/kw.json"
expect_exit 0 kw-put "$Z" config put kw "$OUT/kw.json"
expect_exit 1 kw-get "$Z" config get kw --format libconfig
expect_in kw-get err "true"

# @include: honoured for a file named on the command line (next to it),
# refused in text from stdin.
mkdir -p "$OUT/inc"
printf 'a = 1;\n@include "part.cfg"\n' >"$OUT/inc/main.cfg"
printf 'b = 2;\n' >"$OUT/inc/part.cfg"
expect_exit 0 include-file "$Z" config put inc "$OUT/inc/main.cfg"
expect_exit 0 include-get "$Z" config get inc --format json
check "the included setting was published" json include-get 'assert d == {"a": 1, "b": 2}, d'
run include-stdin "$Z" config put inc2 - --format libconfig <"$OUT/inc/main.cfg"
CHECKS=$((CHECKS + 1))
if [ "$RC" -eq 1 ]; then pass "include-stdin refused"; else fail "include-stdin: exit $RC"; fi
expect_in include-stdin err "<stdin>:2: @include is not allowed"

zkh_down
finish
