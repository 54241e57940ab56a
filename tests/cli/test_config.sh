#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `zkdisc config`: publishing, reading, history, diff, rollback, retention,
# compare-and-set between two concurrent publishers, refused files, the
# libconfig round trip, locked apps, watch (with its snapshot) and delete,
# against a harness server.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
data=$here/../data/config

# check NAME COMMAND... : a check of our own (a python or shell condition)
check() {
    local name=$1; shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# py FILE EXPR... : runs python with the JSON in FILE as `d`; true when EXPR holds
py() {
    local file=$1; shift
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$file" "$@"
}

# wait_lines FILE N : waits (up to 20 s) until FILE has at least N lines
wait_lines() {
    local i
    for i in $(seq 200); do
        [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# --- without a server ----------------------------------------------------------
expect_exit 0 help "$ZKDISC" config --help
expect_in help out "Subcommands:"
for sub in put get history diff rollback watch list delete lock unlock; do
    expect_exit 0 "help-$sub" "$ZKDISC" config "$sub" --help
    expect_in "help-$sub" out "usage: zkdisc config $sub"
    check "help-$sub fits 80 columns" awk 'length($0) > 80 { exit 1 }' "$OUT/help-$sub.out"
done
expect_exit 2 no-sub "$ZKDISC" config
expect_exit 2 unknown-sub "$ZKDISC" config frobnicate
expect_in unknown-sub err 'unknown subcommand "frobnicate"'
expect_exit 2 put-missing-file "$ZKDISC" config put app
expect_exit 2 put-bad-format "$ZKDISC" config put app "$data/sample.json" --format yaml
expect_exit 2 put-bad-name "$ZKDISC" config put 'bad/name' "$data/sample.json"
expect_exit 2 put-unknown-extension "$ZKDISC" config put app "$data/../config/README"
expect_in put-unknown-extension err "--format"
expect_exit 2 diff-bad-version "$ZKDISC" config diff app one
expect_exit 2 lock-no-allow "$ZKDISC" config lock app
expect_exit 3 unreachable "$ZKDISC" --zk 127.0.0.1:1 --timeout 2000 config get app
expect_in unreachable err "127.0.0.1:1"
# A bad file is refused before any connection is tried.
expect_exit 1 bad-offline "$ZKDISC" --zk 127.0.0.1:1 --timeout 2000 config put app "$data/malformed.json"

# --- against a harness server --------------------------------------------------
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }

# Refused, with nothing published and exit 1.
head -c 600000 /dev/zero | tr '\0' 'x' | sed 's/^/{"blob":"/; s/$/"}/' >"$OUT/huge.json"
expect_exit 1 put-oversized "$ZKDISC" config put refused "$OUT/huge.json"
expect_in put-oversized err "over the limit of 512000 bytes"
expect_exit 1 put-malformed-json "$ZKDISC" config put refused "$data/malformed.json"
expect_in put-malformed-json err "malformed.json:1:"
expect_exit 1 put-malformed-libconfig "$ZKDISC" config put refused "$data/bad-syntax.cfg"
expect_in put-malformed-libconfig err "bad-syntax.cfg:4:"
expect_exit 1 put-wrapping-int "$ZKDISC" config put refused "$data/wraps.cfg"
expect_in put-wrapping-int err "wraps.cfg:3:"
expect_exit 1 put-not-object "$ZKDISC" config put refused "$data/not-object.json"
expect_in put-not-object err "must be a JSON object"
expect_exit 1 put-no-such-file "$ZKDISC" config put refused "$OUT/nope.json"
expect_exit 4 refused-nothing "$ZKDISC" config get refused
expect_exit 4 refused-no-node "$ZKDISC" stat /zkdisc/config/refused

# Versions 1..5: history lists them with metadata; every get equals what was put.
for i in 1 2 3 4 5; do
    printf '{"n": %d, "db": {"pool": {"size": %d}}, "ratio": 0.1, "big": 9007199254740993}\n' \
        "$i" "$((i * 10))" >"$OUT/v$i.json"
    expect_exit 0 "put-$i" "$ZKDISC" config put orders "$OUT/v$i.json" --message "change $i"
    check "put-$i prints version $i" grep -qx "published orders version $i" "$OUT/put-$i.out"
done
expect_exit 0 history "$ZKDISC" config history orders
check "history has 5 rows" test "$(grep -c 'change ' "$OUT/history.out")" -eq 5
check "history fits 80 columns" awk 'length($0) > 80 { exit 1 }' "$OUT/history.out"
expect_exit 0 history-json "$ZKDISC" -o json config history orders
check "history -o json: versions, messages, checksums, sizes" py "$OUT/history-json.out" \
    '[h["version"] for h in d] == [1,2,3,4,5] and all(h["message"] == "change %d" % h["version"] and h["checksum"].startswith("sha256:") and len(h["checksum"]) == 71 and h["size"] > 0 and h["timeMs"] > 0 and h["time"].endswith("Z") and h["author"] for h in d)'
for i in 1 3 5; do
    expect_exit 0 "get-$i" "$ZKDISC" config get orders --version "$i"
    check "get-$i equals what was put" python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$OUT/get-$i.out" "$OUT/v$i.json"
done
expect_exit 0 get-json "$ZKDISC" -o json config get orders
check "get -o json has the metadata" py "$OUT/get-json.out" \
    'd["version"] == 5 and d["message"] == "change 5" and d["document"]["big"] == 9007199254740993 and d["checksum"].startswith("sha256:")'
expect_exit 0 get-key "$ZKDISC" config get orders db.pool.size
check "get KEY prints the value" grep -qx 50 "$OUT/get-key.out"
expect_exit 0 get-real "$ZKDISC" config get orders ratio
check "reals print exactly" grep -qx 0.1 "$OUT/get-real.out"
expect_exit 4 get-missing-key "$ZKDISC" config get orders db.pool.max
expect_in get-missing-key err "db.pool.max"
expect_exit 4 get-missing-version "$ZKDISC" config get orders --version 9
expect_exit 4 get-missing-app "$ZKDISC" config get nothing-here

# Two concurrent publishers with --if-version on the same version: one wins.
"$ZKDISC" config put race "$OUT/v1.json" >/dev/null
"$ZKDISC" config put race "$OUT/v2.json" --if-version 1 >"$OUT/racer-a.out" 2>"$OUT/racer-a.err" &
pa=$!
"$ZKDISC" config put race "$OUT/v3.json" --if-version 1 >"$OUT/racer-b.out" 2>"$OUT/racer-b.err" &
pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
check "exactly one racer wins, the other exits 5 ($ra, $rb)" \
    test "$(printf '%s\n' "$ra" "$rb" | sort | tr '\n' ' ')" = "0 5 "
if [ "$ra" -eq 0 ]; then winner=v2; loser=v3; lerr=racer-b.err; else winner=v3; loser=v2; lerr=racer-a.err; fi
expect_in "${lerr%.err}" err "is at version 2, not 1"
expect_exit 0 race-v2 "$ZKDISC" config get race --version 2
check "version 2 is the winner's document" python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$OUT/race-v2.out" "$OUT/$winner.json"
expect_exit 0 race-retry "$ZKDISC" config put race "$OUT/$loser.json" --if-version 2
check "the loser publishes on top: version 3" grep -qx "published race version 3" "$OUT/race-retry.out"
expect_exit 0 race-v1 "$ZKDISC" config get race --version 1
check "version 1 is intact" python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$OUT/race-v1.out" "$OUT/v1.json"
expect_exit 5 if-version-stale "$ZKDISC" config put race "$OUT/v1.json" --if-version 2
expect_in if-version-stale err "is at version 3, not 2"
expect_exit 5 if-version-zero "$ZKDISC" config put race "$OUT/v1.json" --if-version 0

# Rollback: a new version with the old content.
expect_exit 0 rollback "$ZKDISC" config rollback orders 2
check "rollback prints version 6" grep -qx "published orders version 6" "$OUT/rollback.out"
expect_exit 0 rolled "$ZKDISC" -o json config get orders
check "version 6 has version 2's content and says so" py "$OUT/rolled.out" \
    'd["version"] == 6 and d["document"]["n"] == 2 and d["message"] == "rollback to version 2"'
expect_exit 0 v2-json "$ZKDISC" -o json config get orders --version 2
check "same checksum as version 2" python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["checksum"] != json.load(open(sys.argv[2]))["checksum"])' "$OUT/rolled.out" "$OUT/v2-json.out"
expect_exit 4 rollback-missing "$ZKDISC" config rollback orders 42

# Diff: added, removed, changed and nested keys.
"$ZKDISC" config put diffed "$data/diff-a.json" >/dev/null
"$ZKDISC" config put diffed "$data/diff-b.json" >/dev/null
expect_exit 0 diff "$ZKDISC" config diff diffed 1
expect_in diff out "--- diffed version 1"
expect_in diff out "+++ diffed version 2"
expect_in diff out '~ name: "a" -> "b"'
expect_in diff out "- cache.ttl: 30"
expect_in diff out "~ db.pool.size: 10 -> 20"
expect_in diff out '+ db.replica: "r1"'
expect_in diff out "+ db.tls: {\"enabled\":true}"
expect_in diff out "~ list: [1,2] -> [1,2,3]"
expect_in diff out '+ long: "xxxx'
check "diff: unchanged keys are not shown" bash -c "! grep -q 'db.host\|pool.idle' '$OUT/diff.out'"
check "diff fits 80 columns" awk 'length($0) > 80 { exit 1 }' "$OUT/diff.out"
expect_exit 0 diff-json "$ZKDISC" -o json config diff diffed 1 2
check "diff -o json" py "$OUT/diff-json.out" \
    'd["from"] == 1 and d["to"] == 2 and {"db.replica","db.tls","long"} == {a["key"] for a in d["added"]} and [r["key"] for r in d["removed"]] == ["cache.ttl"] and {"db.pool.size":(10,20),"list":([1,2],[1,2,3]),"name":("a","b")} == {c["key"]:(c["old"],c["new"]) for c in d["changed"]} and len([a for a in d["added"] if a["key"] == "long"][0]["value"]) > 80'
expect_exit 0 diff-same "$ZKDISC" config diff diffed 2 2
check "no differences, no change lines" test "$(grep -c '^[-+~] ' "$OUT/diff-same.out")" -eq 0

# Retention keeps the last K and prunes only the oldest.
for i in 1 2 3 4 5; do "$ZKDISC" config put kept "$OUT/v$i.json" --retain 3 >/dev/null; done
expect_exit 0 kept "$ZKDISC" -o json config history kept
check "retention: versions 3..5 remain" py "$OUT/kept.out" '[h["version"] for h in d] == [3,4,5]'
expect_exit 4 kept-pruned "$ZKDISC" config get kept --version 2

# libconfig round trip: every type, 64-bit ints exact.
expect_exit 0 cfg-put "$ZKDISC" config put every "$data/every-type.cfg"
expect_exit 0 cfg-get "$ZKDISC" config get every --format libconfig
cp "$OUT/cfg-get.out" "$OUT/roundtrip.cfg"
expect_exit 0 cfg-put-again "$ZKDISC" config put every-again "$OUT/roundtrip.cfg"
expect_exit 0 cfg-json-1 "$ZKDISC" config get every
expect_exit 0 cfg-json-2 "$ZKDISC" config get every-again
check "libconfig -> JSON -> libconfig -> JSON is exact" python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$OUT/cfg-json-1.out" "$OUT/cfg-json-2.out"
check "64-bit ints exact" py "$OUT/cfg-json-2.out" \
    'd["big"] == 9223372036854775807 and d["small"] == -9223372036854775808 and d["not_a_double"] == 9007199254740993 and d["wide"] == 3000000000 and d["ids"] == [1, 5000000000]'
expect_in cfg-get out "big = 9223372036854775807L;"
expect_in cfg-get out "port = 8080;"
expect_in cfg-get out "ratio = 0.1;"
expect_exit 0 cfg-big "$ZKDISC" config get every-again big
check "get big prints it exactly" grep -qx 9223372036854775807 "$OUT/cfg-big.out"
expect_exit 0 stdin-put bash -c "\"$ZKDISC\" config put from-stdin - <'$data/sample.json'"
expect_exit 0 stdin-put-cfg bash -c "\"$ZKDISC\" config put from-stdin - --format libconfig <'$data/every-type.cfg'"

# A locked app: the wrong or no credentials exit 6, the right ones work.
expect_exit 0 lock-put "$ZKDISC" --auth alice:secret config put locked "$OUT/v1.json"
expect_exit 0 lock "$ZKDISC" --auth alice:secret config lock locked --allow alice:secret --allow bob:pw
expect_in lock out "alice, bob"
check "lock does not echo passwords" bash -c "! grep -q 'secret\|pw' '$OUT/lock.out'"
expect_exit 6 locked-anon "$ZKDISC" config put locked "$OUT/v2.json"
expect_in locked-anon err "locked"
expect_exit 6 locked-wrong "$ZKDISC" -v --auth alice:wrong config put locked "$OUT/v2.json"
check "no credentials in messages" bash -c "! grep -q 'wrong\|secret' '$OUT/locked-wrong.err' '$OUT/locked-anon.err'"
ZKDISC_AUTH=mallory:x expect_exit 6 locked-env "$ZKDISC" config put locked "$OUT/v2.json"
expect_exit 6 locked-delete "$ZKDISC" config delete locked --yes
expect_exit 6 locked-unlock "$ZKDISC" config unlock locked
expect_exit 0 locked-history "$ZKDISC" -o json config history locked
check "nothing was written" py "$OUT/locked-history.out" '[h["version"] for h in d] == [1]'
expect_exit 0 locked-alice "$ZKDISC" -v --auth alice:secret config put locked "$OUT/v2.json"
check "credentials never logged" bash -c "! grep -q secret '$OUT/locked-alice.err'"
ZKDISC_AUTH=bob:pw expect_exit 0 locked-bob "$ZKDISC" config put locked "$OUT/v3.json"
check "bob published version 3" grep -qx "published locked version 3" "$OUT/locked-bob.out"
expect_exit 0 locked-author "$ZKDISC" -o json config get locked
check "the author is the --auth user" py "$OUT/locked-author.out" 'd["author"] == "bob"'
expect_exit 0 unlock "$ZKDISC" --auth alice:secret config unlock locked
expect_exit 0 unlocked-put "$ZKDISC" config put locked "$OUT/v4.json"

# List.
expect_exit 0 list "$ZKDISC" config list
expect_in list out "orders"
check "list fits 80 columns" awk 'length($0) > 80 { exit 1 }' "$OUT/list.out"
expect_exit 0 list-json "$ZKDISC" -o json config list
check "list -o json" py "$OUT/list-json.out" \
    '{a["app"]: a["version"] for a in d}.get("orders") == 6 and {a["app"]: a["version"] for a in d}.get("race") == 3'

# Watch: each new version in order.
"$ZKDISC" -o json config watch orders --count 3 >"$OUT/watch.out" 2>"$OUT/watch.err" &
wpid=$!
check "watch prints the current version" wait_lines "$OUT/watch.out" 1
"$ZKDISC" config put orders "$OUT/v1.json" >/dev/null
check "watch prints version 7" wait_lines "$OUT/watch.out" 2
"$ZKDISC" config put orders "$OUT/v2.json" >/dev/null
wait "$wpid"
check "watch exits 0 after --count" test $? -eq 0
check "watch saw 6, 7, 8 in order" python3 -c 'import json,sys
seen = [json.loads(l)["version"] for l in open(sys.argv[1])]
sys.exit(seen != [6, 7, 8])' "$OUT/watch.out"

# Watch with a snapshot: served stale while ZooKeeper is down, then caught up.
snap=$OUT/snap
"$ZKDISC" -o json config watch orders --count 1 --snapshot-dir "$snap" >"$OUT/snap1.out" 2>&1
check "the snapshot file is written" bash -c "ls '$snap' | grep -q '^config\.orders\.'"
zkh_stop 0
"$ZKDISC" -o json --timeout 20000 config watch orders --count 2 --snapshot-dir "$snap" \
    >"$OUT/snap2.out" 2>"$OUT/snap2.err" &
wpid=$!
check "served from the snapshot while down" wait_lines "$OUT/snap2.out" 1
check "flagged stale" py <(head -1 "$OUT/snap2.out") 'd["version"] == 8 and d["stale"] is True'
zkh_restart 0
"$ZKDISC" --timeout 20000 config put orders "$OUT/v3.json" >/dev/null
wait "$wpid"
check "watch with snapshot exits 0" test $? -eq 0
check "then caught up, not stale" py <(sed -n 2p "$OUT/snap2.out") 'd["version"] == 9 and d["stale"] is False and d["skipped"] == 0'

# Delete: every version goes, so a script must say --yes (exit 2 before
# anything is sent), and a person on a terminal is asked.
expect_exit 2 delete-no-yes "$ZKDISC" config delete race </dev/null
expect_in delete-no-yes err "without --yes"
expect_exit 0 delete-kept "$ZKDISC" config get race
script -qec "'$ZKDISC' config delete race" /dev/null <<<"n" >"$OUT/delete-tty.out" 2>&1
check "on a terminal it asks, and 'n' keeps the app" bash -c "grep -q 'Delete race and its 3 retained versions?' '$OUT/delete-tty.out' && '$ZKDISC' config get race >/dev/null"
expect_exit 5 delete-stale "$ZKDISC" config delete race --if-version 2 --yes
expect_exit 0 delete "$ZKDISC" config delete race --if-version 3 -y
expect_exit 4 delete-gone "$ZKDISC" config get race
expect_exit 4 delete-again "$ZKDISC" config delete race --yes
expect_exit 4 history-gone "$ZKDISC" config history race

zkh_down
finish
