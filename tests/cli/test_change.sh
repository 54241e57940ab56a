#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The changing commands: create, set, rm. Success and error paths: exists
# and version conflicts (exit 5), missing paths (4), ACL denials (6), the
# refusals of rm (2), stdin values, an unreachable ZooKeeper (3).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

for cmd in create set rm; do
    expect_exit 0 "help-$cmd" "$ZKDISC" "$cmd" --help
    expect_in "help-$cmd" out "usage: zkdisc $cmd"
done
expect_exit 3 unreachable-create "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 create /x v
expect_exit 3 unreachable-set "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 set /x v
expect_exit 3 unreachable-rm "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 rm /x
expect_exit 2 set-missing-value "$ZKDISC" set /x
expect_exit 2 create-bad-acl "$ZKDISC" create /x --acl world:anyone:q
expect_exit 2 rm-bad-version "$ZKDISC" rm /x --if-version abc

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
Z=$ZKDISC

# --- create ---------------------------------------------------------------------
expect_exit 0 create "$Z" create /c v1
expect_in create out "/c"
expect_exit 5 create-exists "$Z" create /c v1
expect_in create-exists err "/c already exists"
expect_exit 4 create-no-parent "$Z" create /p/q/r v
expect_in create-no-parent err "parent"
expect_exit 0 create-parents "$Z" create /p/q/r v --parents
expect_exit 0 create-seq "$Z" create /p/job- --sequential
expect_in create-seq out "/p/job-000000000"
expect_exit 0 create-container "$Z" create /p/box --container
expect_exit 0 create-empty "$Z" create /p/empty
expect_exit 0 create-stdin bash -c "printf 'from\nstdin' | '$Z' create /p/in -"
expect_exit 0 get-stdin "$Z" get /p/in
expect_in get-stdin out "from"
expect_exit 0 create-json "$Z" -o json create /p/j x
expect_in create-json out '"path":"/p/j"'
expect_exit 2 create-relative "$Z" create relative v

# --- set ----------------------------------------------------------------------------
expect_exit 0 set "$Z" set /c v2
expect_exit 0 set-if "$Z" set /c v3 --if-version 1
expect_exit 5 set-conflict "$Z" set /c v4 --if-version 1
expect_in set-conflict err "its version is 2, not 1"
expect_exit 0 get-after-conflict "$Z" get /c
expect_in get-after-conflict out "v3"
expect_exit 4 set-missing "$Z" set /nope v
expect_exit 0 set-stdin bash -c "printf 'bin\000ary' | '$Z' set /c -"
expect_exit 0 get-binary "$Z" get /c
expect_in get-binary out "62 69 6e 00 61 72 79"
expect_exit 0 set-json "$Z" -o json set /c v5
expect_in set-json out '"version":4'

# --- ACL denial -----------------------------------------------------------------------
expect_exit 0 create-acl "$Z" --auth alice:pw create /locked s --acl creator
expect_exit 6 set-denied "$Z" set /locked x
expect_exit 6 set-other-user "$Z" --auth bob:pw set /locked x
expect_exit 0 set-owner "$Z" --auth alice:pw set /locked x
expect_exit 0 create-locked-dir "$Z" --auth alice:pw create /lockdir d --acl creator
expect_exit 6 create-under-denied "$Z" create /lockdir/kid v
expect_exit 0 create-under-ro "$Z" --auth alice:pw create /ro r --acl read-only --acl creator
expect_exit 0 get-ro "$Z" get /ro
expect_exit 6 set-ro "$Z" set /ro w
expect_exit 6 rm-denied "$Z" rm /lockdir/x --yes
expect_exit 6 rm-R-denied "$Z" --auth bob:pw rm -R /lockdir --yes

# --- rm -----------------------------------------------------------------------------------
expect_exit 2 rm-root "$Z" rm / --yes
expect_in rm-root err "refusing to remove the root"
expect_exit 2 rm-zookeeper "$Z" rm /zookeeper --yes
expect_exit 2 rm-zookeeper-child "$Z" rm -R /zookeeper/quota --yes
expect_exit 1 rm-nonempty "$Z" rm /p
expect_in rm-nonempty err "has children (use -R)"
expect_exit 2 rm-R-no-yes "$Z" rm -R /p </dev/null
expect_in rm-R-no-yes err "without --yes"
expect_exit 0 still-there "$Z" stat /p/q/r
expect_exit 5 rm-version "$Z" rm /c --if-version 0
expect_in rm-version err "its version is 4, not 0"
expect_exit 0 rm-version-ok "$Z" rm /c --if-version 4
expect_exit 4 rm-missing "$Z" rm /c
expect_exit 5 rm-R-version "$Z" rm -R /p --yes --if-version 7
expect_exit 0 still-there-2 "$Z" stat /p/q/r
expect_exit 0 rm-R "$Z" rm -R /p --yes
expect_in rm-R out "removed /p (8 nodes)"
expect_exit 4 rm-R-gone "$Z" stat /p

# On a terminal rm asks first (tmux gives it one, when tmux is installed).
if command -v tmux >/dev/null 2>&1; then
    "$Z" create /ask v >/dev/null
    sock="$OUT/tmux.sock"
    tmux -S "$sock" new-session -d -x 100 -y 10 "ZKDISC_ZK=$ZKDISC_ZK $Z rm /ask; echo rc=\$? > $OUT/ask.rc; sleep 30"
    for _ in $(seq 100); do tmux -S "$sock" capture-pane -p | grep -q 'Remove /ask?' && break; sleep 0.1; done
    expect_in_pane() { CHECKS=$((CHECKS + 1)); if tmux -S "$sock" capture-pane -p | grep -qF "$1"; then pass "pane has \"$1\""; else fail "pane lacks \"$1\""; fi; }
    expect_in_pane "Remove /ask? [y/N]"
    tmux -S "$sock" send-keys n Enter
    for _ in $(seq 100); do [ -s "$OUT/ask.rc" ] && break; sleep 0.1; done
    expect_in ask rc "rc=1"
    expect_exit 0 ask-kept "$Z" stat /ask
    tmux -S "$sock" kill-server 2>/dev/null
fi

zkh_down
finish
