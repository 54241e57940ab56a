#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent consumers: config_files. A published version is written
# (json, libconfig, env) and on_change runs; v2 rewrites it; a failing
# on_change puts the previous file back and alerts config_apply_failed; a
# ZooKeeper outage keeps the file; the libconfig file parses back through
# libconfig and the env file through bash; an app that does not exist yet
# is waited for without an error storm.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

cat >"$OUT/on_change.sh" <<SH
#!/bin/sh
echo "\$1" >>"$OUT/changes.log"
[ ! -f "$OUT/fail" ]
SH
chmod +x "$OUT/on_change.sh"
: >"$OUT/changes.log"
mkdir -p "$OUT/state"
cat >"$OUT/agent.conf" <<CONF
agent = { state_dir = "$OUT/state"; };
config_files = (
  { app = "shop"; path = "$OUT/shop.json"; format = "json"; mode = "0600";
    on_change = [ "$OUT/on_change.sh", "json" ]; },
  { app = "shop"; path = "$OUT/shop.cfg"; format = "libconfig"; },
  { app = "shop"; path = "$OUT/shop.env"; format = "env"; },
  { app = "later"; path = "$OUT/later.json"; }
);
CONF
expect_exit 0 check-conf "$AGENT_DRIVER" check -c "$OUT/agent.conf"
cat >"$OUT/v1.json" <<'JSON'
{"db": {"host": "h1", "pool": {"size": 5}}, "name": "it's \"quoted\" $HOME `x`", "debug": true, "ratio": 0.5, "list": [1, 2]}
JSON
"$ZKDISC" config put shop "$OUT/v1.json" >/dev/null
start_agent "$OUT/agent.conf"

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [d := d[k] for k in sys.argv[2].split(".")]; print(json.dumps(d))' "$1" "$2" 2>/dev/null; }
jis() { [ "$(jget "$1" "$2")" = "$3" ]; }
check "v1 written as json" wait_until 15 jis "$OUT/shop.json" db.pool.size 5
check "json mode 0600" [ "$(stat -c %a "$OUT/shop.json")" = 600 ]
check "on_change ran once" wait_until 10 sh -c "[ \$(wc -l <'$OUT/changes.log') -eq 1 ]"
check "libconfig written" wait_until 10 test -s "$OUT/shop.cfg"
check "env written" wait_until 10 test -s "$OUT/shop.env"

# libconfig parses back (through libconfig, publishing it as another app).
expect_exit 0 put-cfg "$ZKDISC" config put roundtrip "$OUT/shop.cfg"
run get-rt "$ZKDISC" config get roundtrip db.pool.size
expect_in get-rt out "5"
run get-rt2 "$ZKDISC" config get roundtrip name
expect_in get-rt2 out "it's \"quoted\" \$HOME \`x\`"
# env: bash reads it back exactly.
run env-bash bash -c 'set -a; . "$1"; printf "%s|%s|%s|%s|%s\n" "$DB_POOL_SIZE" "$DB_HOST" "$NAME" "$DEBUG" "$RATIO"' _ "$OUT/shop.env"
expect_in env-bash out "5|h1|it's \"quoted\" \$HOME \`x\`|true|0.5"
check "env leaves arrays out" sh -c "! grep -q '^LIST' '$OUT/shop.env'"

# v2: rewritten, on_change ran again.
echo '{"db": {"host": "h2", "pool": {"size": 9}}}' >"$OUT/v2.json"
"$ZKDISC" config put shop "$OUT/v2.json" >/dev/null
check "v2 written" wait_until 15 jis "$OUT/shop.json" db.host '"h2"'
check "on_change ran twice" wait_until 10 sh -c "[ \$(wc -l <'$OUT/changes.log') -eq 2 ]"
check "env follows" wait_until 10 grep -qx 'DB_HOST="h2"' "$OUT/shop.env"
cp "$OUT/shop.json" "$OUT/v2.written"

# v3 with a failing on_change: the v2 file comes back, and an alert.
touch "$OUT/fail"
echo '{"db": {"host": "h3", "pool": {"size": 1}}}' >"$OUT/v3.json"
"$ZKDISC" config put shop "$OUT/v3.json" >/dev/null
check "config_apply_failed alerted" wait_until 15 has_alert config_apply_failed shop
check "v2 file restored" cmp -s "$OUT/shop.json" "$OUT/v2.written"
check "alert says the version stays published" grep -q 'stays published' "$ZKD_ALERT_LOG"
check "v3 is still what ZooKeeper has" sh -c "'$ZKDISC' config get shop db.host | grep -q h3"
rm -f "$OUT/fail"
echo '{"db": {"host": "h4", "pool": {"size": 4}}}' >"$OUT/v4.json"
"$ZKDISC" config put shop "$OUT/v4.json" >/dev/null
check "v4 applied after the failure" wait_until 15 jis "$OUT/shop.json" db.host '"h4"'

# An outage keeps the file.
cp "$OUT/shop.json" "$OUT/v4.written"
zkh_stop 0
sleep 3 # three ticks of the agent with ZooKeeper gone: nothing to wait for but time
check "file kept during the outage" cmp -s "$OUT/shop.json" "$OUT/v4.written"
zkh_restart 0
echo '{"db": {"host": "h5"}}' >"$OUT/v5.json"
check "publish after the outage" wait_until 30 sh -c "'$ZKDISC' config put shop '$OUT/v5.json' >/dev/null"
check "v5 written after the outage" wait_until 20 jis "$OUT/shop.json" db.host '"h5"'

# An app that did not exist: waited for, logged once.
check "waiting logged once" [ "$(grep -c 'config_files later: no such app yet' "$OUT/agent.log")" -eq 1 ]
check "no file for it yet" [ ! -e "$OUT/later.json" ]
echo '{"ready": true}' >"$OUT/later.in.json"
"$ZKDISC" config put later "$OUT/later.in.json" >/dev/null
check "later written once it exists" wait_until 15 jis "$OUT/later.json" ready true

stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -q Sanitizer '$OUT/agent.log'"
finish
