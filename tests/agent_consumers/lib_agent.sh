# SPDX-License-Identifier: Apache-2.0
# Shared by the cli_agent_* shell tests (source after tests/cli/lib.sh):
# the consumers driver, free ports, processes stopped at exit, waits.
AGENT_DRIVER=${CONSUMERS_DRIVER:-${ZKDISC%/tools/zkdisc/zkdisc}/tests/agent_consumers/consumers-driver}
[ -x "$AGENT_DRIVER" ] || { echo "consumers-driver not found at $AGENT_DRIVER" >&2; exit 1; }
AGENT_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ZKD_ALERT_LOG=$OUT/alerts.jsonl
: >"$ZKD_ALERT_LOG"
BG_PIDS=()

# free_port: prints a TCP port nobody listens on now (loopback).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bg CMD...: runs CMD in the background, remembered for cleanup; sets BG_PID.
bg() {
    "$@" &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# stop_pid PID: SIGTERM, then waits for it (SIGKILL after 5 s).
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup_bg() {
    local p
    for p in "${BG_PIDS[@]}"; do stop_pid "$p"; done
    BG_PIDS=()
}

# register SERVICE ID PORT [register options]: holds a registration in the
# background (127.0.0.1); REG_PID is its pid. Waits until it is registered.
register() {
    local svc=$1 id=$2 port=$3; shift 3
    bg "$ZKDISC" register "$svc" --id "$id" --port "$port" --address 127.0.0.1 "$@" \
        >"$OUT/reg-$id.out" 2>"$OUT/reg-$id.err"
    REG_PID=$BG_PID
    wait_until 15 grep -q . "$OUT/reg-$id.out"
}

# start_agent CONF [args]: runs the consumers driver; AGENT_PID.
start_agent() {
    local conf=$1; shift
    bg "$AGENT_DRIVER" -c "$conf" "$@" >>"$OUT/agent.log" 2>&1
    AGENT_PID=$BG_PID
}

# alert_count EVENT [SUBJECT]: how many such alerts were raised.
alert_count() {
    if [ -n "${2:-}" ]; then
        grep -F "\"event\":\"$1\"" "$ZKD_ALERT_LOG" 2>/dev/null | grep -cF "\"subject\":\"$2\""
    else
        grep -cF "\"event\":\"$1\"" "$ZKD_ALERT_LOG" 2>/dev/null
    fi
}
has_alert() { [ "$(alert_count "$@")" -ge 1 ]; }

# json_ids FILE: the ids in a json output file, sorted, space-separated.
json_ids() {
    python3 - "$1" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted(i["id"] for i in d["instances"])))
PY
}
ids_are() { [ "$(json_ids "$1")" = "$2" ]; }
json_field() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2" 2>/dev/null; }
field_is() { [ "$(json_field "$1" "$2")" = "$3" ]; }
