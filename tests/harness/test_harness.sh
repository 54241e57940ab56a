#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_harness.sh - harness.sh and zk-harness test themselves against real servers.
# Needs ZK_HARNESS (CMake sets it) or zk-harness on PATH.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/harness.sh"

failures=0

check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok   - $what"
    else
        echo "FAIL - $what"
        failures=$((failures + 1))
    fi
}

ruok() {
    [ "$(printf ruok | nc -w 5 127.0.0.1 "$1" 2>/dev/null)" = imok ]
}

mode_of() {
    printf srvr | nc -w 5 127.0.0.1 "$1" 2>/dev/null | sed -n 's/^Mode: //p'
}

# Gone, or a zombie nobody reaps (an orphan under an init that does not reap).
gone() {
    ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time is up.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

is_index() {
    [[ "$1" =~ ^[0-9]+$ ]]
}

other_index() {
    is_index "$1" && [ "$1" != "$2" ]
}

# fails COMMAND...: succeeds when COMMAND fails (its stderr is expected and dropped).
fails() {
    ! "$@" 2>/dev/null
}

no_process_with() {
    ! pgrep -f -- "$1" >/dev/null
}

# ---- a standalone server: serves, stops, restarts on the same port -------------------------

standalone() {
    zkh_up 1 || { echo "FAIL - zkh_up 1"; failures=$((failures + 1)); return; }
    local port pid dir
    port=$(zkh_port 0)
    pid=$(zkh_pid 0)
    dir=$ZKH_DIR
    check "ZKDISC_ZK is the server's address" [ "$ZKDISC_ZK" = "127.0.0.1:$port" ]
    check "zkh_address agrees" [ "$(zkh_address 0)" = "$ZKDISC_ZK" ]
    check "zkh_count is 1" [ "$(zkh_count)" = 1 ]
    check "standalone answers ruok" ruok "$port"
    check "standalone is its own leader" [ "$(zkh_leader)" = 0 ]
    check "zkh_stop 0" zkh_stop 0
    check "stopped server is gone" gone "$pid"
    check "stopped server does not answer" fails ruok "$port"
    check "zkh_restart 0" zkh_restart 0
    check "restart keeps the port" [ "$(zkh_port 0)" = "$port" ]
    check "restarted server answers ruok" ruok "$port"
    check "bad index is refused" fails zkh_kill 7
    pid=$(zkh_pid 0)
    check "zkh_down" zkh_down
    check "zkh_down leaves no server" gone "$pid"
    check "zkh_down removes the state dir" [ ! -e "$dir" ]
    check "zkh_down unsets ZKDISC_ZK" [ -z "${ZKDISC_ZK:-}" ]
}

# ---- a 3-node ensemble: elects, fails over, the old leader rejoins as follower ------------

ensemble() {
    zkh_up 3 || { echo "FAIL - zkh_up 3"; failures=$((failures + 1)); return; }
    local leader next i pids=() dir=$ZKH_DIR
    check "connect string has 3 servers" [ "$(echo "$ZKDISC_ZK" | tr ',' '\n' | wc -l)" = 3 ]
    leader=$(zkh_wait_leader 60000)
    check "a leader is elected" is_index "$leader"
    check "srvr agrees on the leader" [ "$(mode_of "$(zkh_port "$leader")")" = leader ]
    local old_pid
    old_pid=$(zkh_pid "$leader")
    check "zkh_kill the leader" zkh_kill "$leader"
    check "killed leader is gone" gone "$old_pid"
    next=$(zkh_wait_leader 60000)
    check "a new leader among the others" other_index "$next" "$leader"
    check "zkh_restart the old leader" zkh_restart "$leader"
    check "it rejoins as follower" [ "$(mode_of "$(zkh_port "$leader")")" = follower ]
    for i in 0 1 2; do pids+=("$(zkh_pid "$i")"); done
    zkh_down
    for i in 0 1 2; do check "server $i is gone after zkh_down" gone "${pids[$i]}"; done
    check "no java left with the state dir" no_process_with "$dir"
}

# ---- teardown when the test shell ends -----------------------------------------------------

# Runs a child shell that starts a server, reports ZKH_DIR and the pid in $1, then ends
# by "$2" (shell code).
child_shell() {
    bash -c '
        . "$1"
        zkh_up 1 || exit 3
        echo "$ZKH_DIR $(zkh_pid 0)" > "$2"
        eval "$3"
    ' child "$here/harness.sh" "$1" "$2"
}

ends_by() {
    local how=$1 report
    report=$(mktemp "${TMPDIR:-/tmp}/zkh-report.XXXXXX")
    echo "# $how: a child shell starts a server and ends (bash may report how)"
    child_shell "$report" "$2"
    local dir pid
    read -r dir pid < "$report"
    rm -f "$report"
    if [ -z "${pid:-}" ]; then
        echo "FAIL - $how: the child shell did not start a server"
        failures=$((failures + 1))
        return
    fi
    check "$how: server is gone" wait_until 15 gone "$pid"
    check "$how: state dir removed" wait_until 15 test ! -e "$dir"
    check "$how: no java left with the state dir" no_process_with "$dir"
}

standalone
ensemble
ends_by "exit trap" "exit 0"
ends_by "TERM trap" 'kill -TERM $$; sleep 30'
ends_by "SIGKILL of the shell" 'kill -KILL $$'

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
