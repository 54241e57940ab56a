#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# watch: streams timestamped events and re-arms; --children; --recursive
# catches a grandchild created after the watch started; -o json lines;
# --count; a missing path is fine (its creation is an event); errors.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

expect_exit 0 help-watch "$ZKDISC" watch --help
expect_in help-watch out "usage: zkdisc watch"
expect_exit 3 unreachable-watch "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 watch /
expect_exit 2 watch-two-paths "$ZKDISC" watch /a /b

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
Z=$ZKDISC

# wait_for FILE PATTERN [SECONDS]: polls until FILE has a line matching the
# extended regex PATTERN, or fails at the deadline.
wait_for() {
    local file=$1 pattern=$2 deadline=$(( $(date +%s) + ${3:-15} ))
    CHECKS=$((CHECKS + 1))
    while [ "$(date +%s)" -le "$deadline" ]; do
        if grep -qE -- "$pattern" "$file" 2>/dev/null; then pass "$(basename "$file") has /$pattern/"; return 0; fi
        sleep 0.05
    done
    fail "$(basename "$file") lacks /$pattern/ after ${3:-15} s: $(cat "$file")"
    return 1
}

TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z  '

# --- recursive: a grandchild created after the watch started ----------------------------
"$Z" create /svc/existing x -p >/dev/null
"$Z" watch /svc --recursive > "$OUT/rec.log" 2>"$OUT/rec.err" &
wpid=$!
wait_for "$OUT/rec.log" "${TS}watching +/svc  subtree, 2 nodes now"
"$Z" create /svc/child c >/dev/null
wait_for "$OUT/rec.log" "${TS}added +/svc/child  version 0"
"$Z" create /svc/child/grandchild g >/dev/null
wait_for "$OUT/rec.log" "${TS}added +/svc/child/grandchild  version 0, 1 bytes"
"$Z" set /svc/child/grandchild gg >/dev/null
wait_for "$OUT/rec.log" "${TS}changed +/svc/child/grandchild  version 1, 2 bytes"
"$Z" set /svc/existing yy >/dev/null
wait_for "$OUT/rec.log" "${TS}changed +/svc/existing  version 1"
"$Z" rm -R /svc/child --yes >/dev/null
wait_for "$OUT/rec.log" "${TS}removed +/svc/child/grandchild$"
wait_for "$OUT/rec.log" "${TS}removed +/svc/child$"
kill "$wpid"; wait "$wpid"; rc=$?
CHECKS=$((CHECKS + 1))
if [ "$rc" -eq 0 ]; then pass "watch exits 0 on SIGTERM"; else fail "watch exit $rc on SIGTERM"; fi
CHECKS=$((CHECKS + 1))
if grep -q $'\033' "$OUT/rec.log"; then fail "colour when not on a terminal"; else pass "no colour off a terminal"; fi

# --- a node that does not exist yet, and --children, as JSON, with --count -------------
"$Z" -o json watch /later --children --count 4 > "$OUT/kids.log" 2>"$OUT/kids.err" &
wpid=$!
wait_for "$OUT/kids.log" '"event":"watching"'
"$Z" create /later v >/dev/null
wait_for "$OUT/kids.log" '"event":"added","path":"/later"'
"$Z" create /later/a 1 >/dev/null
wait_for "$OUT/kids.log" '"event":"children","path":"/later".*"added":\["a"\]'
"$Z" rm /later/a >/dev/null
wait_for "$OUT/kids.log" '"removed":\["a"\]'
"$Z" set /later w >/dev/null
wait_for "$OUT/kids.log" '"event":"changed","path":"/later","version":1'
wait "$wpid"; rc=$?
CHECKS=$((CHECKS + 1))
if [ "$rc" -eq 0 ]; then pass "watch --count 4 exits 0 by itself"; else fail "watch --count exit $rc"; fi
CHECKS=$((CHECKS + 1))
if python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$OUT/kids.log"; then
    pass "every -o json line parses"; else fail "json lines: $(cat "$OUT/kids.log")"; fi

# --- a plain data watch re-arms: many changes in a row --------------------------------------
"$Z" create /n 0 >/dev/null
"$Z" watch /n > "$OUT/n.log" 2>&1 &
wpid=$!
wait_for "$OUT/n.log" "watching +/n  node, 1 node now"
for i in 1 2 3 4 5; do
    "$Z" set /n "v$i" --if-version $((i - 1)) >/dev/null
    wait_for "$OUT/n.log" "changed +/n  version $i," 10 >/dev/null
done
"$Z" rm /n >/dev/null
wait_for "$OUT/n.log" "removed +/n$"
kill "$wpid"; wait "$wpid"

# --- ACL denial -------------------------------------------------------------------------------
"$Z" --auth alice:pw create /locked s --acl creator >/dev/null
expect_exit 6 watch-denied "$Z" watch /locked
expect_in watch-denied err "not authorized"

zkh_down
finish
