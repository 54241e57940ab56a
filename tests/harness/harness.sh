# SPDX-License-Identifier: Apache-2.0
# harness.sh - real ZooKeeper servers for shell tests (bash). Source it, do not run it.
#
#   . "$srcdir/tests/harness/harness.sh"
#   zkh_up 3                 # start 1, 3 or 5 servers; exports ZKDISC_ZK and ZKH_DIR
#   zkdisc ls /              # anything that reads ZKDISC_ZK
#   l=$(zkh_leader)          # index (from 0) of the current leader; -1 and status 1 if none
#   zkh_kill "$l"            # SIGKILL server l
#   zkh_wait_leader 60000    # wait for a new election, print the leader's index
#   zkh_restart "$l"         # start it again on the same ports and data; waits until it serves
#   zkh_stop 1               # stop server 1 gracefully
#   zkh_down                 # stop everything and remove the state (the trap does this too)
#
# Also: zkh_address I, zkh_port I, zkh_pid I, zkh_datadir I, zkh_count, zkh_wait I [MS].
# Every function returns non-zero, with the reason on stderr, on failure.
#
# Teardown: zkh_up sets traps on EXIT, INT and TERM that call zkh_down (a script that needs
# its own traps should set them after zkh_up and call zkh_down from them). If the shell dies
# in a way no trap sees (SIGKILL), the keeper process that owns the servers notices within
# 200 ms that the shell is gone and stops them. ZKH_KEEP=1 keeps data dirs and logs.
#
# The zk-harness binary is $ZK_HARNESS (CMake passes it to tests), else zk-harness on PATH.

zkh__bin() {
    if [ -n "${ZK_HARNESS:-}" ]; then
        if [ -x "$ZK_HARNESS" ]; then
            printf '%s\n' "$ZK_HARNESS"
            return 0
        fi
        echo "zkh: ZK_HARNESS=$ZK_HARNESS is not an executable" >&2
        return 1
    fi
    if command -v zk-harness >/dev/null 2>&1; then
        command -v zk-harness
        return 0
    fi
    echo "zkh: zk-harness not found: set ZK_HARNESS to the built tests/harness/zk-harness" >&2
    return 1
}

zkh__ctl() {
    if [ -z "${ZKH_DIR:-}" ]; then
        echo "zkh: no harness is up (call zkh_up first)" >&2
        return 1
    fi
    local bin
    bin=$(zkh__bin) || return 1
    "$bin" "$1" "$ZKH_DIR" "${@:2}"
}

zkh__on_exit() {
    local rc=$?
    zkh_down
    exit "$rc"
}

zkh__on_signal() {
    zkh_down
    trap - "$1"
    kill -s "$1" "${BASHPID:-$$}" # die of the signal, as the caller expects
}

zkh_up() {
    # The owner is this shell: $BASHPID, not $$, in case zkh_up runs in a subshell; and
    # taken here, since inside $(...) below it would be that short-lived subshell.
    local n=${1:-1} bin owner=${BASHPID:-$$}
    if [ -n "${ZKH_DIR:-}" ]; then
        echo "zkh: a harness is already up in $ZKH_DIR (zkh_down first)" >&2
        return 1
    fi
    bin=$(zkh__bin) || return 1
    ZKH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zkh-sh.XXXXXX") || return 1
    export ZKH_DIR
    trap zkh__on_exit EXIT
    trap 'zkh__on_signal INT' INT
    trap 'zkh__on_signal TERM' TERM
    if ! ZKDISC_ZK=$("$bin" start --servers "$n" --dir "$ZKH_DIR" --owner "$owner"); then
        zkh_down
        return 1
    fi
    export ZKDISC_ZK
}

zkh_down() {
    [ -n "${ZKH_DIR:-}" ] || return 0
    local dir=$ZKH_DIR bin rc=0
    trap - EXIT INT TERM
    if [ -S "$dir/ctl.sock" ] && bin=$(zkh__bin) && ! "$bin" down "$dir"; then
        rc=1
        # The keeper did not answer; its SIGTERM handler kills the servers.
        if [ -f "$dir/keeper.pid" ]; then
            kill -TERM "$(cat "$dir/keeper.pid")" 2>/dev/null
        fi
    fi
    if [ -n "${ZKH_KEEP:-}" ]; then
        echo "zkh: ZKH_KEEP is set; harness state left in $dir" >&2
    else
        rm -rf "$dir"
    fi
    unset ZKH_DIR ZKDISC_ZK
    return "$rc"
}

zkh_kill() { zkh__ctl kill "$1"; }
zkh_stop() { zkh__ctl stop "$1"; }
zkh_restart() { zkh__ctl restart "$1"; }
zkh_wait() { zkh__ctl wait "$@"; }
zkh_leader() { zkh__ctl leader; }
zkh_wait_leader() { zkh__ctl wait-leader "$@"; }
zkh_address() { zkh__ctl address "$1"; }
zkh_port() { zkh__ctl port "$1"; }
zkh_pid() { zkh__ctl pid "$1"; }
zkh_datadir() { zkh__ctl datadir "$1"; }
zkh_count() { zkh__ctl count; }
