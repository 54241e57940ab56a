#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# health against a 3-node ensemble: all serving (exit 0, one leader, two
# followers, counts from mntr), one server killed (exit 3, it shows down,
# quorum still ok), two killed (quorum lost); a standalone server; nothing
# listening; a bad connect string.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

expect_exit 0 help-health "$ZKDISC" health --help
expect_exit 3 nothing-listening "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 health
expect_in nothing-listening out "down"
expect_exit 2 bad-port "$ZKDISC" --zk 127.0.0.1:notaport health
expect_exit 2 extra-arg "$ZKDISC" health extra

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
expect_exit 0 standalone "$ZKDISC" health
expect_in standalone out "standalone"
expect_exit 0 standalone-chroot "$ZKDISC" --zk "$ZKDISC_ZK/some/chroot" health
zkh_down

zkh_up 3 || { fail "ensemble did not start"; finish; exit 1; }
expect_exit 0 all-up "$ZKDISC" health
expect_in all-up out "leader"
expect_in all-up out "follower"
expect_in all-up out "quorum: ok (3 of 3 voting members serving, 2 needed)"
CHECKS=$((CHECKS + 1))
if awk '{ if (length($0) > 80) exit 1 }' "$OUT/all-up.out"; then pass "health fits 80 columns"
else fail "health has lines over 80 columns"; fi
expect_exit 0 all-up-json "$ZKDISC" -o json health
CHECKS=$((CHECKS + 1))
if python3 - "$OUT/all-up-json.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
modes = sorted(s["mode"] for s in d["servers"])
assert modes == ["follower", "follower", "leader"], modes
assert d["healthy"] and d["quorum"]["ok"]
assert all(s["znodes"] >= 4 and s["watches"] >= 0 and s["outstanding"] >= 0 and "avgLatencyMs" in s for s in d["servers"])
PY
then pass "health -o json: leader, followers, counts"; else fail "health json: $(cat "$OUT/all-up-json.out")"; fi

# Kill a follower: that server is down (exit 3), the quorum holds.
leader=$(zkh_leader)
victim=$(( (leader + 1) % 3 ))
zkh_kill "$victim"
expect_exit 3 one-down "$ZKDISC" --timeout 2000 health
check "one-down: the killed server's row says down" grep -Eq "^$(zkh_address "$victim") +down " "$OUT/one-down.out"
expect_in one-down out "quorum: ok (2 of 3 voting members serving, 2 needed)"
expect_in one-down out "1 of 3 servers down or not serving"
expect_exit 3 one-down-json "$ZKDISC" --timeout 2000 -o json health
CHECKS=$((CHECKS + 1))
if python3 - "$OUT/one-down-json.out" "$(zkh_address "$victim")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
down = [s for s in d["servers"] if s["server"] == sys.argv[2]][0]
assert down["mode"] == "down" and not down["ok"] and "error" in down
assert d["quorum"]["ok"] and not d["healthy"]
PY
then pass "health -o json marks the killed server down, quorum ok"; else fail "$(cat "$OUT/one-down-json.out")"; fi

# Kill a second one: the quorum is lost.
other=$(( (victim + 1) % 3 ))
zkh_kill "$other"
expect_exit 3 two-down "$ZKDISC" --timeout 2000 health
expect_in two-down out "quorum: LOST"

zkh_down
finish
