# SPDX-License-Identifier: Apache-2.0
# Shared by the CLI shell tests: assertions that count failures and say what
# was run. Source it, call the checks, end with `finish`.
set -u
FAILURES=0
CHECKS=0
: "${ZKDISC:?ZKDISC must name the zkdisc binary}"
OUT=$(mktemp -d "${TMPDIR:-/tmp}/zkdisc-cli-test.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

fail() { FAILURES=$((FAILURES + 1)); echo "FAIL: $*" >&2; }
pass() { echo "ok: $*"; }

# run NAME CMD... : runs CMD, keeping stdout/stderr in $OUT/NAME.{out,err}, sets RC.
run() {
    local name=$1; shift
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    RC=$?
}

# expect_exit CODE NAME CMD...
expect_exit() {
    local want=$1 name=$2; shift 2
    CHECKS=$((CHECKS + 1))
    run "$name" "$@"
    if [ "$RC" -eq "$want" ]; then pass "$name (exit $RC)"; else
        fail "$name: exit $RC, wanted $want; stderr: $(head -c 400 "$OUT/$name.err")"; fi
}

# expect_in NAME FILE-SUFFIX TEXT : the output of NAME contains TEXT
expect_in() {
    CHECKS=$((CHECKS + 1))
    if grep -qF -- "$3" "$OUT/$1.$2"; then pass "$1 $2 has \"$3\""; else
        fail "$1: $2 lacks \"$3\": $(head -c 400 "$OUT/$1.$2")"; fi
}

finish() {
    echo "$CHECKS checks, $FAILURES failed"
    [ "$FAILURES" -eq 0 ]
}

# wait_until SECONDS CMD... : polls CMD every 0.1 s until it succeeds or the
# deadline passes (returns 1 then). A deadline, never a bare sleep.
wait_until() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    until "$@"; do
        [ "$(date +%s%N)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# wait_output SECONDS WANT CMD... : wait_until CMD prints WANT, CMD run anew
# at each poll. (`wait_until 5 [ "$(cmd)" = 1 ]` runs cmd once, when the line
# is read, and then polls a constant: it passed only when the condition
# already held, and failed now and then under load.)
wait_output() {
    local secs=$1; shift
    wait_until "$secs" output_is "$@"
}
output_is() { local want=$1; shift; [ "$("$@")" = "$want" ]; }

# check NAME CMD... : one assertion that CMD succeeds.
check() {
    local name=$1; shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then pass "$name"; else fail "$name"; fi
}
