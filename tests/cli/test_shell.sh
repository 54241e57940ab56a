#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc shell against a harness server: lines from a pipe (cd, pwd, relative
# paths, every command over one session, exit codes), then on a terminal
# driven through tmux: TAB completion of commands and paths, history kept in
# $XDG_STATE_HOME and recalled with the arrow keys, Ctrl-C ending a watch
# without ending the shell.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
Z=$ZKDISC

expect_exit 0 help "$Z" shell --help
expect_in help out "usage: zkdisc shell"
check "help fits 80 columns" awk 'length($0) > 80 { exit 1 }' "$OUT/help.out"
expect_exit 2 extra-arg "$Z" shell ls
expect_exit 3 unreachable "$Z" --zk 127.0.0.1:1 --timeout 300ms shell </dev/null

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }

# --- from a pipe ------------------------------------------------------------------
cat >"$OUT/script" <<'EOF'
create -p /a/b/c '{"x": 1}'
cd /a
pwd
ls
cd b
get c
get ./c/
cd ..
pwd
cd -
pwd
ls -o json ..
cd /nope
pwd
stat ../.. -o json
# a comment, then an unknown command: the shell goes on
frob
config set app k=1
config get app k
cd /
tree a
whoami
exit 3
ls
EOF
expect_exit 3 piped "$Z" shell <"$OUT/script"
for want in /a b '"x": 1' /a/b '["b"]' '/nope: no such node' '"path":"/"' 'unknown command "frob"' \
    '└── b'; do
    CHECKS=$((CHECKS + 1))
    if grep -qF -- "$want" "$OUT/piped.out" "$OUT/piped.err"; then pass "piped shows $want"; else
        fail "piped lacks $want: $(cat "$OUT/piped.out" "$OUT/piped.err")"; fi
done
check "pwd lines in order" bash -c "[ \"\$(grep -x '/a[/b]*' '$OUT/piped.out' | head -4 | tr '\n' ' ')\" = '/a /a /a/b /a/b ' ]"
check "nothing after exit ran" bash -c "! grep -qx zookeeper '$OUT/piped.out'"
check "one session for every line" bash -c "[ \"\$(printf 'whoami -o json\nwhoami -o json\n' | '$Z' shell | jq -r .sessionId | sort -u | wc -l)\" = 1 ]"

# --- on a terminal, through tmux -----------------------------------------------------
if ! command -v tmux >/dev/null; then
    fail "tmux is not installed (tools/install-deps.sh)"
    finish
    exit 1
fi
"$Z" create -p /alpha/beta/gamma v >/dev/null
export XDG_STATE_HOME=$OUT/state
sock=zkdisc-test-$$
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; tmux -L "${sock%-2}" kill-server 2>/dev/null; zkh_down; rm -rf "$OUT"' EXIT
tm new-session -d -x 120 -y 50 \
    "env ZKDISC_ZK=$ZKDISC_ZK XDG_STATE_HOME=$XDG_STATE_HOME TERM=xterm '$Z' shell; echo SHELL-EXIT=\$?; sleep 60"
screen() { tm capture-pane -p -S -200; }
# shows NAME TEXT : the screen shows TEXT within 10 s
shows() {
    CHECKS=$((CHECKS + 1))
    if wait_until 10 bash -c "tmux -L '$sock' capture-pane -p -S -200 | grep -qF -- \"\$1\"" _ "$2"
    then pass "$1"; else fail "$1: the screen lacks \"$2\": $(screen | tail -15)"; fi
}
shows "prompt" "zkdisc />"
tm send-keys 'cd /al' Tab
shows "TAB completes a path, with / after a node with children" "cd /alpha/"
tm send-keys 'be' Tab Enter
shows "cd into the completed path" "zkdisc /alpha/beta>"
tm send-keys 'pw' Tab Enter
shows "TAB completes a command" "/alpha/beta"
tm send-keys 'get ga' Tab Enter
shows "relative path completion and get" "get gamma"
tm send-keys 'watch /alpha' Enter
shows "watch runs" "watching  /alpha"
tm send-keys C-c
shows "Ctrl-C ends the watch, the shell stays" "^Czkdisc /alpha/beta>"
tm send-keys 'exit 4' Enter
shows "exit N" "SHELL-EXIT=4"
check "history file written" grep -q 'watch' "$XDG_STATE_HOME/zkdisc/history"
# A new shell recalls the last one's lines with the arrow keys.
# A server of its own: a killed tmux server may still hold its socket for
# a moment, and a new session on it would then fail.
tm kill-server
sock=$sock-2
tm new-session -d -x 120 -y 50 \
    "env ZKDISC_ZK=$ZKDISC_ZK XDG_STATE_HOME=$XDG_STATE_HOME TERM=xterm '$Z' shell; echo SHELL-EXIT=\$?; sleep 60"
shows "second shell" "zkdisc />"
tm send-keys Up Up Enter
shows "history from the last shell recalled with the arrow keys" "zkdisc /> watch /alpha"
tm send-keys C-c
shows "Ctrl-C ends the recalled watch" "^Czkdisc />"
tm send-keys C-d
shows "Ctrl-D leaves" "SHELL-EXIT=0"
finish
