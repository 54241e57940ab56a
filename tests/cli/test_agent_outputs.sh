#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent consumers: the json output (atomic, change-only, drained
# instances left out, an emptying update held back and alerted,
# min_instances alerts, stale marking and output_stale during a ZooKeeper
# outage) and the command output (each change once, debounced); config
# errors with file:line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"

# --- check: bad configs name file:line and the key ----------------------------------------
cat >"$OUT/bad.conf" <<CONF
watch = (
  { service = "web";
    colour = "red";
    outputs = ( { type = "json"; path = "/proc/no/such/dir/web.json"; },
                { type = "smoke"; } ); },
  { service = "bad name!"; }
);
dns = { listen = "nowhere"; };
CONF
expect_exit 2 check-bad "$AGENT_DRIVER" check -c "$OUT/bad.conf"
expect_in check-bad err "bad.conf:3: watch.[0].colour: unknown key"
expect_in check-bad err "bad.conf:4: watch.[0].outputs.[0].path: directory /proc/no/such/dir is not writable"
expect_in check-bad err "bad.conf:5: watch.[0].outputs.[1].type: \"smoke\" is not json, command, haproxy or nginx"
expect_in check-bad err "bad.conf:6: watch.[1].service:"
expect_in check-bad err "bad.conf:8: dns.listen: must be \"ADDRESS:PORT\""

# The shipped example passes check, with its directories pointed here.
sed "s|/var/lib/zkdisc-agent|$OUT|g; s|owner = \"root:root\"|owner = \"$(id -un):$(id -gn)\"|; s|owner = \"root\"|owner = \"$(id -un)\"|" \
    "$here/../../examples/agent-consumers.conf" >"$OUT/example.conf"
expect_exit 0 check-example "$AGENT_DRIVER" check -c "$OUT/example.conf"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT
# runs.log: per command run, the ids it got and whether they were stale
# (slow.log the same for the slow command).
runs() {
    local f=${1:-runs}
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print((" ".join(sorted(i["id"] for i in d["instances"])) or "-") + (" (stale)" if d["stale"] else ""))
' "$OUT/$f.jsonl" >"$OUT/$f.log" 2>/dev/null
}
last_run_is() { runs; [ "$(tail -n1 "$OUT/runs.log")" = "$1" ]; }
last_slow_is() { runs slow; [ "$(tail -n1 "$OUT/slow.log")" = "$1" ]; }

# The command output appends each document it gets to a log, one per line.
# The command output appends each document it gets to a log, one line per run.
cat >"$OUT/record.sh" <<'SH'
#!/bin/sh
{ tr -d '\n'; echo; } >>"$1"
SH
# slow.sh: says it started, then takes 3 s before recording like record.sh.
cat >"$OUT/slow.sh" <<SH
#!/bin/sh
echo >>"$OUT/slow.started"
doc=\$(cat)
sleep 3
printf '%s\n' "\$doc" | tr -d '\n' >>"\$1"; echo >>"\$1"
SH
chmod +x "$OUT/record.sh" "$OUT/slow.sh"

cat >"$OUT/agent.conf" <<CONF
watch = (
  { service = "web";
    min_instances = 2;
    outputs = (
      { type = "json"; path = "$OUT/web.json"; mode = "0640"; stale_after = "2s"; },
      { type = "command"; command = [ "$OUT/record.sh", "$OUT/runs.jsonl" ];
        min_interval = "1s"; timeout = "60s"; },
      { type = "command"; command = [ "$OUT/slow.sh", "$OUT/slow.jsonl" ];
        min_interval = "1s"; timeout = "60s"; }
    ); }
);
CONF
expect_exit 0 check-good "$AGENT_DRIVER" check -c "$OUT/agent.conf"

register web a 8001; pa=$REG_PID
register web b 8002; pb=$REG_PID
API=127.0.0.1:$(free_port)
start_agent "$OUT/agent.conf" --api "$API"
check "json lists a and b" wait_until 15 ids_are "$OUT/web.json" "a b"
check "json is not stale" field_is "$OUT/web.json" stale false
check "json mode 0640" [ "$(stat -c %a "$OUT/web.json")" = 640 ]
check "no temporary file left" [ -z "$(find "$OUT" -name '.web.json.*')" ]
check "record has Curator fields" grep -q '"registrationTimeUTC"' "$OUT/web.json"

# A drained instance leaves the json output.
"$ZKDISC" drain web b
check "drained b left out" wait_until 10 ids_are "$OUT/web.json" "a"
check "below min alerted" wait_until 5 has_alert service_below_min web
"$ZKDISC" undrain web b
check "undrained b back" wait_until 10 ids_are "$OUT/web.json" "a b"
check "recovered alerted" wait_until 5 has_alert service_recovered web

# Change-only: ticks and an unrelated service do not rewrite the file.
ino=$(stat -c %i "$OUT/web.json")
register other x 9001; px=$REG_PID
check "api sees the watch" wait_until 5 sh -c "curl -sf http://$API/v1/watch/web | grep -q '\"heldBack\":false'"
check "unwatched is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$API/v1/watch/other")" = 404 ]
sleep 2.2 # two ticks of the agent must pass: there is no event to wait for when nothing happens
check "file untouched without a change" [ "$(stat -c %i "$OUT/web.json")" = "$ino" ]

# Both go: the update that would empty the set is held back and alerted.
stop_pid "$pa"; stop_pid "$pb"
check "held back alerted" wait_until 10 has_alert empty_update_held_back web
# (b alone when the two removals came one at a time, a b when together)
check "file still lists the last non-empty set" sh -c "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not d[\"instances\"])' '$OUT/web.json'"
check "api says held back" sh -c "curl -sf http://$API/v1/watch/web | grep -q '\"heldBack\":true'"
check "metrics count it" sh -c "curl -sf http://$API/metrics | grep -q 'zkdisc_agent_watch_held_back_total{service=\"web\"} 1'"
register web c 8003; pc=$REG_PID
check "a new instance replaces the held set" wait_until 10 ids_are "$OUT/web.json" "c"

# ZooKeeper outage: the file stays, then is marked stale, and output_stale fires.
zkh_stop 0
check "marked stale during the outage" wait_until 20 field_is "$OUT/web.json" stale true
check "still lists c" ids_are "$OUT/web.json" "c"
check "output_stale alerted" wait_until 10 has_alert output_stale "$OUT/web.json"
zkh_restart 0
check "fresh again after the outage" wait_until 30 field_is "$OUT/web.json" stale false
check "still c after" ids_are "$OUT/web.json" "c"

# The command got each distinct set once, in order.
check "command saw the last set" wait_until 20 last_run_is c
CHECKS=$((CHECKS + 1))
if uniq -d "$OUT/runs.log" | grep -q .; then fail "a set delivered twice in a row: $(cat "$OUT/runs.log")"
else pass "no set delivered twice in a row: $(tr '\n' '|' <"$OUT/runs.log")"; fi
CHECKS=$((CHECKS + 1))
if grep -qx 'a b' "$OUT/runs.log" && grep -qx 'c (stale)' "$OUT/runs.log"; then pass "command got a b, and c stale"
else fail "command runs: $(cat "$OUT/runs.log")"; fi

# Debounce: a burst of changes reaches the command in a few runs, ending with the last set.
register web d 8004
check "command saw c d" wait_until 20 last_run_is "c d"
before=$(wc -l <"$OUT/runs.log")
t0=$(date +%s%N)
for i in 1 2 3 4 5; do "$ZKDISC" drain web d; "$ZKDISC" undrain web d; done
register web e 8005
secs=$(( ($(date +%s%N) - t0 + 999999999) / 1000000000 ))
check "command saw c d e" wait_until 20 last_run_is "c d e"
n=$(( $(wc -l <"$OUT/runs.log") - before ))
# min_interval 1s: at most one run per started second of the burst, plus the trailing one
check "burst of 11 changes in ${secs}s coalesced into $n runs" [ "$n" -le $(( secs + 1 )) ]

# A change undone while the command runs (drain e, then undrain e and drain
# e again during the slow run of "c d") leaves the command's set as it was:
# no second run of "c d".
check "slow saw c d e" wait_until 30 last_slow_is "c d e"
started=$(wc -l <"$OUT/slow.started")
"$ZKDISC" drain web e
check "slow started its run of c d" wait_until 10 sh -c "[ \$(wc -l <'$OUT/slow.started') -gt $started ]"
"$ZKDISC" undrain web e
"$ZKDISC" drain web e
check "slow recorded c d" wait_until 10 last_slow_is "c d"
"$ZKDISC" undrain web e
check "slow saw c d e again" wait_until 20 last_slow_is "c d e"
CHECKS=$((CHECKS + 1))
if uniq -d "$OUT/slow.log" | grep -q .; then fail "slow: a set delivered twice in a row: $(tr '\n' '|' <"$OUT/slow.log")"
else pass "slow: no set delivered twice in a row: $(tr '\n' '|' <"$OUT/slow.log")"; fi

stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
check "agent log has no error but the refused reload" sh -c "! grep ' error ' '$OUT/agent.log' | grep -v 'reload refused'"
finish
