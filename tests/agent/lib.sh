# SPDX-License-Identifier: Apache-2.0
# Shared by the agent suites (tests/cli/test_agent*.sh): the agent binary,
# free ports, helper processes, and reading registrations from outside with
# the zkdisc CLI. Source after tests/cli/lib.sh and harness.sh.
AGENT=${ZKDISC_AGENT:-$(cd "$(dirname "$ZKDISC")/../zkdisc-agent" && pwd)/zkdisc-agent}
AGENT_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Extra seconds on top of the issue's "(rise or fall) x interval + 1 s"
# bound, for a loaded machine; 0 holds the agent to the exact bound. Under
# the sanitizers (tests/run.sh --sanitize/--tsan set their options) every
# process is several times slower, so the default grows there.
if [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then
    SLACK=${AGENT_TEST_SLACK:-8}
else
    SLACK=${AGENT_TEST_SLACK:-2}
fi
HELPER_PIDS=()
# Debian's interpreter: a pyenv shim on PATH can take seconds to start on a
# loaded machine, which would eat the deadlines below.
PY=$(command -v /usr/bin/python3 || command -v python3)

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# count SERVICE: how many instances the tree holds (from outside, the CLI).
# A service that is not there at all (never registered, or its container
# node gone with its last instance) exits 4: none.
count() {
    local json rc
    json=$("$ZKDISC" -o json instances "$1" 2>/dev/null)
    rc=$?
    [ "$rc" -eq 4 ] && { echo 0; return; }
    [ "$rc" -eq 0 ] || { echo error; return; }
    printf '%s' "$json" | grep -o '"serviceType"' | wc -l
}
has_count() { [ "$(count "$1")" = "$2" ]; }
# is_drained SERVICE: one instance, drained (enabled false).
is_drained() { "$ZKDISC" instances "$1" 2>/dev/null | grep -q drained; }
is_up() { "$ZKDISC" instances "$1" 2>/dev/null | grep -qw up; }

# within NAME SECONDS CMD...: CMD comes true within SECONDS (whole; + SLACK);
# says how long it took.
within() {
    local name=$1 secs=$2; shift 2
    local t0 ms
    t0=$(date +%s%N)
    CHECKS=$((CHECKS + 1))
    if wait_until $((secs + SLACK)) "$@"; then
        # wait_until looks at its deadline only between tries: a try that
        # succeeds late is still late.
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        if [ "$ms" -le $(( (secs + SLACK) * 1000 )) ]; then
            pass "$name ($ms ms, bound ${secs}s + ${SLACK}s)"
        else
            fail "$name: took $ms ms, bound ${secs}s + ${SLACK}s"
        fi
    else
        fail "$name: not within ${secs}s + ${SLACK}s"
    fi
}

# no_sanitizer_reports LOG: the agent's stderr holds no ASan/UBSan/TSan report.
no_sanitizer_reports() {
    ! grep -qE "Sanitizer|runtime error:" "$1"
}

# start_httpd DIR: the test HTTP server (tests/agent/httpd.py); HTTP_PORT.
start_httpd() {
    mkdir -p "$1"
    "$PY" "$AGENT_HELPERS/httpd.py" "$1" &
    HELPER_PIDS+=($!)
    wait_until 15 test -f "$1/port" || return 1
    HTTP_PORT=$(cat "$1/port")
}

# start_agent CONF LOG: the agent in the background; AGENT_PID.
start_agent() {
    "$AGENT" -c "$1" 2>>"$2" &
    AGENT_PID=$!
}

# api_auth: the header carrying the agent's API token: API_TOKEN_FILE, else
# the default places (state_dir $OUT/state, else beside $OUT/agent.conf).
api_auth() {
    local f
    for f in "${API_TOKEN_FILE:-}" "$OUT/state/api.token" "$OUT/api.token"; do
        [ -n "$f" ] && [ -r "$f" ] && { echo "Authorization: Bearer $(cat "$f")"; return; }
    done
    echo "X-No-Token: none"
}

# api GET|PUT PATH [DATA]: curl against the agent's API (API_PORT), with the token.
api() {
    curl -s -X "$1" -H "$(api_auth)" ${3:+--data-binary "$3"} "http://127.0.0.1:$API_PORT$2"
}
api_code() {
    curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "$(api_auth)" ${3:+--data-binary "$3"} "http://127.0.0.1:$API_PORT$2"
}

# check_status SERVICE CHECK: its status from /v1/services.
check_status() {
    api GET /v1/services | "$PY" -c '
import json, sys
for s in json.load(sys.stdin):
    if sys.argv[1] in (s["id"], s["name"]):
        for c in s["checks"]:
            if c["name"] == sys.argv[2]:
                print(c["status"])' "$1" "$2"
}
check_is() { [ "$(check_status "$1" "$2")" = "$3" ]; }

stop_helpers() {
    [ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
    for p in "${HELPER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}

# AGENT_LOG_COPY=FILE keeps the agent's log of a run (the rest goes with $OUT).
agent_cleanup() {
    local rc=$?
    stop_helpers
    [ -n "${AGENT_LOG_COPY:-}" ] && cat "$OUT/agent.log" >>"$AGENT_LOG_COPY" 2>/dev/null
    zkh_down
    rm -rf "$OUT"
    exit "$rc"
}

# runs SERVICE-ID-PREFIX CHECK: probes the check has finished (from /metrics).
runs() {
    api GET /metrics | sed -n "s/^zkdisc_agent_check_duration_seconds_count{service=\"$1[^\"]*\",check=\"$2\"} //p"
}
runs_at_least() { [ "$(runs "$1" "$2")" -ge "$3" ] 2>/dev/null; }
