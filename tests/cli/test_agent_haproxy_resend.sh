#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent's haproxy output keeps its Runtime API connection for the
# rounds of the next second. When HAProxy closes a kept connection just as
# a round begins (its `stats timeout`), the round is sent again on a new
# connection: no failure logged, no alert, no reload, and every change
# applied. A real HAProxy cannot be made to close on cue, so a stand-in
# (fake_hasock.py) serves one round per connection and closes it, unanswered,
# when the next round arrives on it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"
H=$AGENT_HELPERS

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

bg python3 "$H/fake_hasock.py" "$OUT/rt.sock" web 3 "$OUT/rt.log"
wait_until 10 test -S "$OUT/rt.sock" || fail "the stand-in Runtime API did not start"
printf '#!/bin/sh\necho reload >>"%s/reloads.log"\n' "$OUT" >"$OUT/reload.sh"
chmod +x "$OUT/reload.sh"
: >"$OUT/reloads.log"
register web a 7001
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "web"; allow_empty = true;
  outputs = ( { type = "haproxy"; config = "$OUT/backend.cfg"; backend = "web";
                socket = "$OUT/rt.sock"; slots = 3; reload = [ "$OUT/reload.sh" ]; } ); } );
CONF
start_agent "$OUT/agent.conf"

# The state the stand-in was last told for zkd1 ("ready", "drain", ...).
last_state() { grep '^set server web/zkd1 state ' "$OUT/rt.log" | tail -n 1 | awk '{print $5}'; }
state_is() { [ "$(last_state)" = "$1" ]; }
check "a is put in service" wait_until 15 state_is ready
check "a's address was set" grep -q '^set server web/zkd1 addr 127.0.0.1 port 7001$' "$OUT/rt.log"

# Changes within a second of each other: each round begins on the kept
# connection, which the stand-in closes unanswered.
for i in 1 2 3; do
    "$ZKDISC" drain web a >/dev/null
    check "drain $i applied" wait_until 10 state_is drain
    "$ZKDISC" undrain web a >/dev/null
    check "undrain $i applied" wait_until 10 state_is ready
done
closed() { grep -c 'unanswered$' "$OUT/rt.log"; }
check "kept connections were closed under rounds ($(closed))" [ "$(closed)" -ge 3 ]
check "each such round went again on a new connection" \
    grep -q "the kept connection closed; the round again on a new one" "$OUT/agent.log"
check "no runtime failure logged" sh -c "! grep -q 'haproxy runtime api $OUT/rt.sock: ' '$OUT/agent.log'"
check "no haproxy_runtime_failed alert" [ "$(alert_count haproxy_runtime_failed)" -eq 0 ]
check "no reload" [ ! -s "$OUT/reloads.log" ]
stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -qE 'Sanitizer|runtime error:' '$OUT/agent.log'"
finish
