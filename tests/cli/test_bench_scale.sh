#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-bench's scale group at short sizes: the CLI listing, a cache's
# cold load, its memory and the agent's CPU per change (haproxy, nginx and
# json outputs, a DNS query per change) at 500 and 5,000 instances. The
# bench exits 1 when a step grows more than 1.3x faster than N, so that a
# quadratic pass (x10 -> x100) cannot land. Recovery is left out here: at
# these sizes it is the client's reconnect delay, constant in N.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
B=${ZKDISC_BENCH:?ZKDISC_BENCH must name zkdisc-bench}
expect_exit 2 scale-bad-sizes "$B" --only scale --sizes 5000,500
expect_exit 2 scale-bad-group "$B" --only nosuch
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
# A step's CPU at 500 is 10-20 ms, and one measurement of it (the best of 3
# rounds) in about 10 reads more than 13x below the one at 5,000 on a
# loaded 2-core machine. A step over the bound is measured once more, and
# fails when it is over again: a quadratic pass reads about 100x both times.
run scale "$B" --zk "$ZKDISC_ZK" --only scale --sizes 500,5000 --steps cli,load,memory,agent -o json
check "scale: exit 0, or 1 for a step over the bound (stderr: $(tail -c 300 "$OUT/scale.err"))" \
    [ "$RC" -le 1 ]
steep() { # FILE: prints the steps over 13x, comma-separated; fails when a step is unmeasured
    python3 - "$1" <<'PY'
import json, sys
rows = {r["what"].strip(): r["value"] for r in json.load(open(sys.argv[1]))["results"] if r["group"] == "scale"}
over = []
for step in ("cli", "load", "memory", "agent"):
    key = "%s grew 500 -> 5000 (N: 10x)" % step
    if key not in rows:
        continue
    for n in (500, 5000):
        if not rows.get("%s, %d" % (step, n), 0) > 0:
            sys.exit("%s at %d not measured: %s" % (step, n, rows))
    if not 0 < rows[key] <= 13:
        over.append(step)
        print("%s grew %.2fx" % (step, rows[key]), file=sys.stderr)
print(",".join(over))
PY
}
if ! over=$(steep "$OUT/scale.out"); then
    over=unmeasured
elif [ -n "$over" ]; then
    run scale-again "$B" --zk "$ZKDISC_ZK" --only scale --sizes 500,5000 --steps "$over" -o json
    over=$(steep "$OUT/scale-again.out") || over=unmeasured
fi
check "every step measured at both sizes, each growth within 1.3x of N's (one over it measured again)" \
    [ -z "$over" ]
zkh_down
finish
