#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's first command: installs what is missing, builds zkdisc,
# starts a local ZooKeeper (`zkdisc dev`) unless ZKDISC_ZK names one, lists
# the tree and, on that local server, registers a demo instance, discovers
# it and deregisters it. Then it keeps ZooKeeper running until Ctrl-C.
#   --no-wait   stop the local ZooKeeper and exit after listing (for CI)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
wait_after=1
for arg in "$@"; do
    case "$arg" in
        --no-wait) wait_after=0 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | grep -v SPDX | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "quickstart: unknown option $arg" >&2; exit 2 ;;
    esac
done

"$top/tools/install-deps.sh"
"$top/tools/build.sh" "$top/build"
zkdisc="$top/build/tools/zkdisc/zkdisc"

dev_pid=
cleanup() { [ -n "$dev_pid" ] && kill "$dev_pid" 2>/dev/null && wait "$dev_pid" 2>/dev/null; true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${ZKDISC_ZK:-}" ]; then
    port=${ZKDISC_DEV_PORT:-2181}
    echo "== starting a local ZooKeeper on 127.0.0.1:$port (zkdisc dev)"
    "$zkdisc" dev --port "$port" &
    dev_pid=$!
    export ZKDISC_ZK=127.0.0.1:$port
    for _ in $(seq 1 600); do
        "$zkdisc" --timeout 1000 stat / >/dev/null 2>&1 && break
        kill -0 "$dev_pid" 2>/dev/null || { echo "quickstart: zkdisc dev failed (see above)" >&2; exit 1; }
        sleep 0.1
    done
fi

echo "== the tree at $ZKDISC_ZK"
"$zkdisc" ls /

# The demo writes to the tree: only on the local server started here,
# never on an ensemble named by ZKDISC_ZK.
if [ -n "$dev_pid" ]; then
echo "== registering a demo instance of 'quickstart-demo' (zkdisc register)"
demo_out=$(mktemp)
"$zkdisc" register quickstart-demo --port 8080 --address 127.0.0.1 --zone local >"$demo_out" &
demo_pid=$!
for _ in $(seq 1 100); do [ -s "$demo_out" ] && break; sleep 0.1; done
echo "registered instance $(cat "$demo_out")"
"$zkdisc" services
"$zkdisc" instances quickstart-demo
"$zkdisc" tree /zkdisc
kill "$demo_pid"; wait "$demo_pid" 2>/dev/null
rm -f "$demo_out"
echo "== deregistered on SIGTERM:"
"$zkdisc" instances quickstart-demo
fi
if [ "$wait_after" = 1 ] && [ -n "$dev_pid" ]; then
    echo "== ZooKeeper keeps running at $ZKDISC_ZK; in another terminal:"
    echo "   export ZKDISC_ZK=$ZKDISC_ZK; $zkdisc --help"
    echo "== Ctrl-C stops it."
    wait "$dev_pid"
fi
