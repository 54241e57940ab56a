#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Times zkdisc's pipelined tree commands on a 20,000-node tree against
# zkCli.sh's recursive listing, in the same run, on a local server.
#
#   tests/bench/tree_20k.sh [BUILD_DIR]      (default: build)
#
# Starts its own standalone ZooKeeper with the test harness (127.0.0.1 only),
# builds /bench/sNN/nNNNN (20 x 1,000 leaves of ~40 bytes, 20,021 nodes) with
# `zkdisc import` (multi transactions of 1,000 creates), then times each
# command (best of 3; zkCli.sh best of 2, JVM start included and shown
# separately) and prints a Markdown table. Not a CTest test.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
export ZKDISC=${ZKDISC:-$build/tools/zkdisc/zkdisc}
export ZK_HARNESS=${ZK_HARNESS:-$build/tests/harness/zk-harness}
ZKCLI=${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
for f in "$ZKDISC" "$ZK_HARNESS"; do
    [ -x "$f" ] || { echo "tree_20k: $f not built (cmake --build $build)" >&2; exit 2; }
done
. "$src/tests/harness/harness.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/zkdisc-bench.XXXXXX")
zkh_up 1 || exit 1
trap 'zkh_down; rm -rf "$work"' EXIT

python3 - "$work/tree.json" <<'PY'
import json, sys
nodes = [{"path": "/bench", "data": "bench root", "encoding": "utf-8"}]
for s in range(20):
    nodes.append({"path": "/bench/s%02d" % s, "data": "shard %d" % s, "encoding": "utf-8"})
    for n in range(1000):
        nodes.append({"path": "/bench/s%02d/n%04d" % (s, n),
                      "data": '{"host":"10.0.%d.%d","port":%d}' % (s, n % 250, 8000 + n),
                      "encoding": "utf-8"})
json.dump({"format": "zkdisc-export/1", "root": "/bench", "nodes": nodes}, open(sys.argv[1], "w"))
PY

now_ms() { date +%s%3N; }
# best_of N NAME CMD... : runs CMD N times (output to a file), prints the best ms
best_of() {
    local n=$1 name=$2 best=-1 t0 t
    shift 2
    for _ in $(seq "$n"); do
        t0=$(now_ms)
        "$@" > "$work/$name.out" 2>"$work/$name.err" || { echo "tree_20k: $name failed: $(head -c 300 "$work/$name.err")" >&2; }
        t=$(( $(now_ms) - t0 ))
        if [ "$best" -lt 0 ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    echo "$best"
}

t_build=$(best_of 1 build "$ZKDISC" import "$work/tree.json" --batch 1000)
count=$("$ZKDISC" -o json du /bench --depth 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["nodes"])')
t_lsr=$(best_of 3 lsr "$ZKDISC" ls -R /bench)
t_tree=$(best_of 3 tree "$ZKDISC" tree /bench)
t_find=$(best_of 3 find "$ZKDISC" find /bench --name 'n09*')
t_grep=$(best_of 3 grep "$ZKDISC" grep -l '"port":8999' /bench)
t_du=$(best_of 3 du "$ZKDISC" du /bench)
t_export=$(best_of 3 export "$ZKDISC" export /bench -f "$work/export.json")
lines_lsr=$(wc -l < "$work/lsr.out")

t_cli="n/a"; t_cli1="n/a"; lines_cli="n/a"
if [ -x "$ZKCLI" ]; then
    # zkCli.sh prints its own log lines; count the paths only.
    t_cli=$(best_of 2 zkcli "$ZKCLI" -server "$ZKDISC_ZK" ls -R /bench)
    lines_cli=$(grep -c '^/bench' "$work/zkcli.out")
    t_cli1=$(best_of 2 zkcli1 "$ZKCLI" -server "$ZKDISC_ZK" ls /bench)
fi

cat <<EOT
Tree: $count nodes under /bench (built in $t_build ms by \`zkdisc import\`, 1,000-op multis).
Machine: $(nproc) cores, $(uname -sr); one local ZooKeeper $(echo srvr | timeout 2 bash -c "exec 3<>/dev/tcp/${ZKDISC_ZK%:*}/${ZKDISC_ZK##*:}; cat >&3; cat <&3" 2>/dev/null | sed -n 's/^Zookeeper version: \([^-,]*\).*/\1/p').

| command | time (ms) | what it read |
| --- | ---: | --- |
| \`zkdisc ls -R /bench\` | $t_lsr | $lines_lsr paths (getChildren per node, pipelined) |
| \`zkdisc tree /bench\` | $t_tree | children of every node, pipelined |
| \`zkdisc find /bench --name 'n09*'\` | $t_find | children of every node, pipelined |
| \`zkdisc du /bench\` | $t_du | children + Stat of every node, pipelined |
| \`zkdisc grep -l ... /bench\` | $t_grep | data of every node, pipelined |
| \`zkdisc export /bench\` | $t_export | data + Stat of every node, pipelined |
| \`zkCli.sh -server ... ls -R /bench\` | $t_cli | $lines_cli paths, one getChildren at a time (JVM start included) |
| \`zkCli.sh -server ... ls /bench\` | $t_cli1 | one getChildren: the JVM start alone, roughly |
EOT
