#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-bench runs end to end on a small load and reports every
# measurement with a ratio. Not a speed test: speed is read off the
# benchmark's own output, never asserted here.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
B=${ZKDISC_BENCH:?ZKDISC_BENCH must name zkdisc-bench}
expect_exit 0 bench-help "$B" --help
expect_exit 2 bench-bad "$B" --instances 0
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
expect_exit 0 bench-small "$B" --zk "$ZKDISC_ZK" --instances 300 --changes 20 -o json
check "every group reported, with ratios" python3 - "$OUT/bench-small.out" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
groups = {r["group"] for r in doc["results"]}
assert groups == {"register", "read", "watch", "memory", "select", "request", "cache"}, groups
assert doc["instances"] == 300
for r in doc["results"]:
    assert r["value"] > 0 or r["group"] == "memory", r
PY
# The cli group: `zkdisc -o json instances` as a process beside the raw lister.
expect_exit 0 bench-cli "$B" --zk "$ZKDISC_ZK" --only cli --instances 300 -o json
check "cli group reported against the raw lister" python3 - "$OUT/bench-cli.out" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
assert [r["group"] for r in rows] == ["cli", "cli"], rows
assert all(r["value"] > 0 and r["vs_baseline"] > 0 for r in rows), rows
PY
# The agent group: zkdisc-agent beside a plain libcurl-multi loop (small).
expect_exit 0 bench-agent "$B" --zk "$ZKDISC_ZK" --only agent --agent-checks 100 --agent-seconds 3 -o json
check "agent group reported against the loop" python3 - "$OUT/bench-agent.out" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
assert [r["group"] for r in rows] == ["agent", "agent"], rows
assert all(r["value"] > 0 and r["vs_baseline"] > 0 for r in rows), rows
PY
# The haproxy group: the agent, HAProxy and kazoo on their own files and
# ports; each registration's UP is HAProxy's log line, confirmed on its
# Runtime API (the group dies when they disagree).
expect_exit 0 bench-haproxy "$B" --zk "$ZKDISC_ZK" --only haproxy -o json
check "haproxy group reported against kazoo" python3 - "$OUT/bench-haproxy.out" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
names = [r["what"] for r in rows if r["group"] == "haproxy"]
assert any(n.startswith("`zkdisc register` to HAProxy serving it, p50") for n in names), names
assert any(n.startswith("kazoo ChildrenWatch sees the registration, p50") for n in names), names
assert all(r["value"] > 0 for r in rows if "after kazoo" not in r["what"]), rows
PY
# --report: the README's table, the cli row measured, the others said not to be.
run bench-report "$B" --zk "$ZKDISC_ZK" --only cli --instances 300 --report
check "report: a Markdown table with the cli row measured" python3 - "$OUT/bench-report.out" <<'PY'
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith("| ")]
assert rows[0].startswith("| measure | baseline in the same run |"), rows[0]
cli = [r for r in rows if r.startswith("| `zkdisc -o json instances` of N")]
assert len(cli) == 1 and "not measured" not in cli[0] and "x |" in cli[0], cli
assert any("not measured" in r for r in rows if "DNS answers" in r), rows
PY
zkh_down
finish
