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
expect_exit 0 scale "$B" --zk "$ZKDISC_ZK" --only scale --sizes 500,5000 --steps cli,load,memory,agent -o json
check "every step measured at both sizes, each growth within 1.3x of N's" python3 - "$OUT/scale.out" <<'PY'
import json, sys
rows = {r["what"].strip(): r["value"] for r in json.load(open(sys.argv[1]))["results"] if r["group"] == "scale"}
for step in ("cli", "load", "memory", "agent"):
    for n in (500, 5000):
        assert rows.get("%s, %d" % (step, n), 0) > 0, (step, n, rows)
    grew = rows["%s grew 500 -> 5000 (N: 10x)" % step]
    assert 0 < grew <= 13, (step, grew)
PY
zkh_down
finish
