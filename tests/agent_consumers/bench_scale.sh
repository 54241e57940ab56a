#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_scale.sh BUILD_DIR [SMALL [LARGE [CHANGES]]]: the agent's cost per
# change as a service grows. One watch with haproxy (its socket points
# nowhere), nginx (no reload) and json outputs, json last so that the time
# to the json file includes every output's work. SMALL (1,000) and LARGE
# (10,000) instances are registered; one instance's data changes CHANGES
# (20) times; prints, for each size, the agent's CPU per change and the
# time from the write to the json file, then the CPU ratio LARGE/SMALL
# (linear: LARGE/SMALL; target at most 1.5x that). Needs python3-kazoo.
set -u
build=$(cd "${1:?usage: bench_scale.sh BUILD_DIR [SMALL [LARGE [CHANGES]]]}" && pwd)
small=${2:-1000}; large=${3:-10000}; changes=${4:-20}
here=$(cd "$(dirname "$0")" && pwd)
export ZKDISC=$build/tools/zkdisc/zkdisc ZK_HARNESS=$build/tests/harness/zk-harness
. "$here/../cli/lib.sh"
. "$here/../harness/harness.sh"
. "$here/lib_agent.sh"
zkh_up 1 || exit 1
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT
py=/usr/bin/python3
declare -A cpu
for n in "$small" "$large"; do
    svc=s$n
    $py "$here/bench_scale.py" "$ZKDISC_ZK" "$svc" "$n" populate || exit 1
    cat >"$OUT/$svc.conf" <<CONF
watch = ( { service = "$svc";
            outputs = ( { type = "haproxy"; config = "$OUT/$svc.cfg"; backend = "$svc"; slots = $((n < 10000 ? n : 10000));
                          socket = "$OUT/nowhere.sock"; },
                        { type = "nginx"; path = "$OUT/$svc.nginx"; upstream = "$svc"; },
                        { type = "json"; path = "$OUT/$svc.json"; } ); } );
CONF
    bg "$AGENT_DRIVER" -c "$OUT/$svc.conf" >"$OUT/$svc.log" 2>&1; agent=$BG_PID
    listed() { ! kill -0 "$agent" 2>/dev/null || grep -q "\"id\": \"i$((n - 1))\"" "$OUT/$svc.json" 2>/dev/null; }
    wait_until 120 listed && kill -0 "$agent" 2>/dev/null ||
        { echo "the json file never listed $n instances"; tail "$OUT/$svc.log"; exit 1; }
    # BENCH_PERF=DIR: a perf profile of the agent during the changes, DIR/perf-N.data
    [ -n "${BENCH_PERF:-}" ] && { bg perf record ${BENCH_PERF_OPTS:--g} -o "$BENCH_PERF/perf-$n.data" -p "$agent" 2>/dev/null; perf=$BG_PID; }
    res=$($py "$here/bench_scale.py" "$ZKDISC_ZK" "$svc" "$n" measure "$agent" "$OUT/$svc.json" "$changes") || exit 1
    echo "$res"
    cpu[$n]=$($py -c 'import json,sys; print(json.loads(sys.argv[1])["cpu_ms_per_change"])' "$res")
    [ -n "${BENCH_PERF:-}" ] && kill -INT "$perf" && wait "$perf"
    stop_pid "$agent"
done
$py -c 'import sys; s, l, ns, nl = map(float, sys.argv[1:]); print("cpu per change %d -> %d: %.1fx (N grew %.0fx)" % (ns, nl, l / max(s, 0.01), nl / ns))' \
    "${cpu[$small]}" "${cpu[$large]}" "$small" "$large"
