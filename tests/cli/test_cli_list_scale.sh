#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `zkdisc -o json instances` at 3,000 and 30,000 instances in the same run
# (zkdisc-bench's scale group, cli step: the process's CPU, the best of 3
# rounds interleaved over the sizes): the larger listing costs at most 13x
# the smaller one (N grew 10x; a sort's N log N is ~12.7x, a quadratic pass
# 100x). The issue asks for 10,000 and 100,000: on the shared 2-core
# machine that run took 100-140 s and 5,000 and 50,000 50-90 s; this one
# takes about 60 s. `zkdisc-bench --only scale --sizes 10000,100000 --steps
# cli` measures the larger pair (the lead's quiet-machine run).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
B=${ZKDISC_BENCH:?ZKDISC_BENCH must name zkdisc-bench}
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
expect_exit 0 list "$B" --zk "$ZKDISC_ZK" --only scale --sizes 3000,30000 --steps cli -o json
check "30,000 listed within 13x the CPU of 3,000" python3 - "$OUT/list.out" <<'PY'
import json, sys
rows = {r["what"].strip(): r["value"] for r in json.load(open(sys.argv[1]))["results"]}
small, large = rows["cli, 3000"], rows["cli, 30000"]
print("cli CPU: %.3f s at 3,000, %.3f s at 30,000 (%.1fx)" % (small, large, large / small))
assert 0 < small and large <= 13 * small, (small, large)
PY
zkh_down
finish
