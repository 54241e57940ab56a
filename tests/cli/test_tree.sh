#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reading commands: ls -R, tree, find, grep, du (and get on binary data)
# against a harness server: output, -o json, a node with 10,000 children,
# names with unusual but valid characters, a missing path (exit 4), an
# unreachable ZooKeeper (exit 3), an ACL denial (exit 6).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

for cmd in tree find grep du; do
    expect_exit 0 "help-$cmd" "$ZKDISC" "$cmd" --help
    expect_in "help-$cmd" out "usage: zkdisc $cmd"
done
for cmd in tree find du; do
    expect_exit 3 "unreachable-$cmd" "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 "$cmd" /
done
expect_exit 3 unreachable-ls-R "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 ls -R /
expect_exit 3 unreachable-grep "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 grep x /
expect_exit 2 tree-bad-depth "$ZKDISC" tree / --depth -1
expect_exit 2 grep-bad-regex "$ZKDISC" grep '(' /
expect_exit 2 find-bad-owner "$ZKDISC" find / --owner zz

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
Z=$ZKDISC
json_check() { # NAME PYTHON-EXPR(doc) DESCRIPTION
    CHECKS=$((CHECKS + 1))
    if python3 -c "import json,sys; doc=json.load(open(sys.argv[1])); assert $2, doc" "$OUT/$1.out" 2>"$OUT/$1.py"
    then pass "$3"; else fail "$3: $(head -c 400 "$OUT/$1.py")"; fi
}

"$Z" create /app/cfg '{"db":{"host":"h1"}}' -p >/dev/null
"$Z" create /app/notes 'first line
needle here
last' >/dev/null
printf 'bin\000\001\002needle\377' | "$Z" create /app/blob - >/dev/null
inst='{"name":"api","id":"i-1","address":"10.0.0.5","port":8080,"sslPort":null,"payload":null,"registrationTimeUTC":1,"serviceType":"DYNAMIC","uriSpec":null}'
"$Z" create /zkdisc/services/api/i-1 "$inst" -p >/dev/null

# --- ls -R ---------------------------------------------------------------------
expect_exit 0 ls-R "$Z" ls -R /app
CHECKS=$((CHECKS + 1))
if [ "$(cat "$OUT/ls-R.out")" = "$(printf '/app\n/app/blob\n/app/cfg\n/app/notes')" ]; then
    pass "ls -R lists the subtree in pre-order"; else fail "ls -R: $(cat "$OUT/ls-R.out")"; fi
expect_exit 0 ls-R-json "$Z" -o json ls -R /app
json_check ls-R-json 'doc == ["/app","/app/blob","/app/cfg","/app/notes"]' "ls -R -o json"
expect_exit 4 ls-R-missing "$Z" ls -R /nope

# --- tree ------------------------------------------------------------------------
expect_exit 0 tree "$Z" tree /
expect_in tree out "├── app"
expect_in tree out "i-1  10.0.0.5:8080"
expect_in tree out "└── zookeeper"
CHECKS=$((CHECKS + 1))
if awk '{ if (length($0) > 80) exit 1 }' "$OUT/tree.out"; then pass "tree fits 80 columns"
else fail "tree has lines over 80 columns"; fi
CHECKS=$((CHECKS + 1))
if grep -q $'\033' "$OUT/tree.out"; then fail "colour escapes when not on a terminal"; else pass "no colour off a terminal"; fi
expect_exit 0 tree-depth "$Z" tree / --depth 1
expect_in tree-depth out "app (+3)"
expect_exit 0 tree-json "$Z" -o json tree /zkdisc
json_check tree-json 'doc["children"][0]["children"][0]["children"][0]["instance"] == "10.0.0.5:8080"' "tree -o json nests and summarises instances"
expect_exit 4 tree-missing "$Z" tree /nope

# --- an ephemeral node, held by a zkCli.sh session fed through a FIFO ----------
ZKCLI=/usr/share/zookeeper/bin/zkCli.sh
if [ -x "$ZKCLI" ]; then
    mkfifo "$OUT/zkcli.in"
    "$ZKCLI" -server "$ZKDISC_ZK" < "$OUT/zkcli.in" > "$OUT/zkcli.log" 2>&1 &
    zkcli_pid=$!
    exec 7> "$OUT/zkcli.in"
    echo "create -e /zkdisc/services/api/i-2 {\"name\":\"api\",\"id\":\"i-2\",\"address\":\"10.0.0.6\",\"port\":9090}" >&7
    for _ in $(seq 300); do "$Z" stat /zkdisc/services/api/i-2 >/dev/null 2>&1 && break; sleep 0.1; done
    expect_exit 0 eph-tree "$Z" tree /zkdisc
    expect_in eph-tree out "i-2  10.0.0.6:9090 [e]"
    expect_in eph-tree out "1 ephemeral"
    expect_exit 0 eph-find "$Z" find / --ephemeral
    CHECKS=$((CHECKS + 1))
    if [ "$(cat "$OUT/eph-find.out")" = "/zkdisc/services/api/i-2" ]; then pass "find --ephemeral finds it"
    else fail "find --ephemeral: $(cat "$OUT/eph-find.out")"; fi
    owner=$("$Z" -o json stat /zkdisc/services/api/i-2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["ephemeralOwner"])')
    expect_exit 0 eph-owner "$Z" find / --owner "$owner"
    expect_in eph-owner out "/zkdisc/services/api/i-2"
    expect_exit 0 eph-other-owner "$Z" find / --owner 0x12345
    CHECKS=$((CHECKS + 1))
    if [ ! -s "$OUT/eph-other-owner.out" ]; then pass "find --owner of another session: none"; else fail "$(cat "$OUT/eph-other-owner.out")"; fi
    expect_exit 0 eph-export "$Z" export /zkdisc
    expect_in eph-export err "1 ephemeral left out"
    expect_exit 0 eph-export-incl "$Z" export /zkdisc --ephemeral
    expect_in eph-export-incl out '"ephemeral":true'
    exec 7>&-
    kill "$zkcli_pid" 2>/dev/null; wait "$zkcli_pid" 2>/dev/null
fi

# --- find ----------------------------------------------------------------------------
expect_exit 0 find-name "$Z" find / --name 'c*'
expect_in find-name out "/app/cfg"
CHECKS=$((CHECKS + 1))
if grep -q notes "$OUT/find-name.out"; then fail "find --name matched notes"; else pass "find --name filters"; fi
expect_exit 0 find-persistent "$Z" find /app --persistent
expect_in find-persistent out "/app/notes"
expect_exit 0 find-owner "$Z" find / --owner 0x0
expect_exit 0 find-json "$Z" -o json find /app --name notes
json_check find-json 'doc[0]["path"] == "/app/notes" and "stat" in doc[0]' "find -o json"
expect_exit 4 find-missing "$Z" find /nope

# --- grep ------------------------------------------------------------------------------
expect_exit 0 grep "$Z" grep needle /app
expect_in grep out "/app/notes:2: needle here"
expect_in grep out "/app/blob: binary data matches"
expect_exit 0 grep-l "$Z" grep -l -i HOST /
expect_in grep-l out "/app/cfg"
expect_exit 1 grep-nomatch "$Z" grep 'no such text' /app
expect_exit 0 grep-json "$Z" -o json grep -F 'needle here' /app
json_check grep-json 'doc[0]["path"] == "/app/notes" and doc[0]["matches"][0]["line"] == 2' "grep -o json"
expect_exit 4 grep-missing "$Z" grep x /nope

# --- du ----------------------------------------------------------------------------------
expect_exit 0 du "$Z" du /app
expect_in du out "PATH"
expect_exit 0 du-json "$Z" -o json du /app --depth 0
json_check du-json 'doc[0]["nodes"] == 4 and doc[0]["bytes"] > 40' "du -o json counts nodes and bytes"
expect_exit 4 du-missing "$Z" du /nope

# --- binary data ------------------------------------------------------------------------
expect_exit 0 get-bin "$Z" get /app/blob
expect_in get-bin out "62 69 6e 00 01 02"
expect_exit 0 get-bin-raw "$Z" get --raw /app/blob
CHECKS=$((CHECKS + 1))
if [ "$(od -An -tx1 "$OUT/get-bin-raw.out" | tr -d ' \n')" = "62696e0001026e6565646c65ff" ]; then
    pass "get --raw returns the bytes"; else fail "get --raw: $(od -An -tx1 "$OUT/get-bin-raw.out")"; fi

# --- unusual names ------------------------------------------------------------------------
for name in 'with space' 'ünï-名前' 'a:b@c=d&e' '...' '*glob?[x]' "quo'te"; do
    "$Z" create "/odd/$name" "v" -p >/dev/null || fail "create /odd/$name"
done
expect_exit 0 odd-ls-R "$Z" ls -R /odd
expect_in odd-ls-R out "/odd/with space"
expect_in odd-ls-R out "/odd/ünï-名前"
expect_in odd-ls-R out "/odd/*glob?[x]"
expect_exit 0 odd-find "$Z" find /odd --name '*名前'
expect_in odd-find out "/odd/ünï-名前"
expect_exit 0 odd-tree "$Z" tree /odd
expect_in odd-tree out "a:b@c=d&e"
expect_exit 0 odd-get "$Z" get "/odd/quo'te"

# --- ACL denial -----------------------------------------------------------------------------
"$Z" --auth alice:pw create /app/secret s --acl creator >/dev/null || fail "create with --acl creator"
expect_exit 6 grep-secret "$Z" grep x /app/secret
expect_exit 6 tree-secret "$Z" tree /app/secret
expect_exit 0 tree-around-secret "$Z" tree /app
expect_in tree-around-secret out "secret (not authorized)"

# --- 10,000 children ---------------------------------------------------------------------------
python3 - "$OUT/big.json" <<'PY'
import json, sys
nodes = [{"path": "/big", "data": "top", "encoding": "utf-8"}]
nodes += [{"path": "/big/c%05d" % i, "data": "v%d" % i, "encoding": "utf-8"} for i in range(10000)]
json.dump({"format": "zkdisc-export/1", "root": "/big", "nodes": nodes}, open(sys.argv[1], "w"))
PY
expect_exit 0 big-import "$Z" import "$OUT/big.json" --batch 1000
expect_in big-import out "10001 created"
expect_exit 0 big-ls "$Z" ls /big
CHECKS=$((CHECKS + 1))
if [ "$(wc -l < "$OUT/big-ls.out")" -eq 10000 ]; then pass "ls lists 10,000 children"; else fail "ls: $(wc -l < "$OUT/big-ls.out") lines"; fi
expect_exit 0 big-ls-R "$Z" ls -R /big
CHECKS=$((CHECKS + 1))
if [ "$(wc -l < "$OUT/big-ls-R.out")" -eq 10001 ]; then pass "ls -R lists 10,001 nodes"; else fail "ls -R: $(wc -l < "$OUT/big-ls-R.out") lines"; fi
expect_exit 0 big-du "$Z" -o json du /big --depth 0
json_check big-du 'doc[0]["nodes"] == 10001' "du counts 10,001 nodes"
expect_exit 0 big-find "$Z" find /big --name 'c0999*'
CHECKS=$((CHECKS + 1))
if [ "$(wc -l < "$OUT/big-find.out")" -eq 10 ]; then pass "find among 10,000 children"; else fail "find: $(cat "$OUT/big-find.out")"; fi
expect_exit 0 big-grep "$Z" grep -l '^v9999$' /big
expect_in big-grep out "/big/c09999"
expect_exit 0 big-tree "$Z" tree /big
expect_in big-tree out "└── c09999"
expect_in big-tree out "10001 nodes"

zkh_down
finish
