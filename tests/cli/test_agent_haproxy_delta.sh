#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc-agent's haproxy output works out only what changed: an instance
# met again in the next update is the same record, so an update takes the
# new and the gone ones and keeps the rest. This suite drives every kind of
# change through that path (a port, a removal, an addition, a drain, a
# port out of range, an unsafe address, a record replaced under its id) and
# through the full path it falls back to (a weight over 256, which scales
# all), and checks after each that every server line says what its record
# says; then that an agent started afresh on the same file, which works out
# every slot again, finds nothing to change.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
. "$here/../agent_consumers/lib_agent.sh"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
trap 'cleanup_bg; zkh_down; rm -rf "$OUT"' EXIT

record() { # ID ADDRESS PORT WEIGHT [ENABLED]
    printf '{"name":"web","id":"%s","address":"%s","port":%s,"sslPort":null,"payload":{"weight":%s},"registrationTimeUTC":0,"serviceType":"STATIC","uriSpec":null,"enabled":%s}' \
        "$1" "$2" "$3" "$4" "${5:-true}"
}
put() { "$ZKDISC" create -p "/zkdisc/services/web/$1" "$(record "$@")" >/dev/null; }
set_rec() { "$ZKDISC" set "/zkdisc/services/web/$1" "$(record "$@")" >/dev/null; }
for i in $(seq 10 29); do put "i$i" "10.0.0.$i" "80$i" "$i"; done
cat >"$OUT/agent.conf" <<CONF
watch = ( { service = "web"; allow_empty = true;
  outputs = ( { type = "haproxy"; config = "$OUT/backend.cfg"; backend = "web"; slots = 8; },
              { type = "json"; path = "$OUT/web.json"; } ); } );
CONF
start_agent "$OUT/agent.conf"
F=$OUT/backend.cfg
# line ID: the server line of ID ("ADDR:PORT weight W" and "(drained)"), empty when none.
line() { grep -E "# $1( |\$)" "$F" 2>/dev/null | sed -E 's/^ *server zkd[0-9]+ //'; }
has() { [ "$(line "$1")" = "$2" ]; }
slot_of() { grep -E "# $1( |\$)" "$F" | awk '{print $2}'; }
counts() { echo "$(grep -c '# i' "$F" 2>/dev/null) $(grep -c '^    server zkd' "$F" 2>/dev/null)"; }
check "20 instances in 24 slots (grown from 8)" wait_output 15 "20 24" counts
slot15=$(slot_of i15)

set_rec i15 10.0.0.15 9015 15
check "a port change" wait_until 10 has i15 "10.0.0.15:9015 weight 15 # i15"
check "  keeps its slot" [ "$(slot_of i15)" = "$slot15" ]
"$ZKDISC" rm /zkdisc/services/web/i17 >/dev/null
check "a removal frees the slot" wait_until 10 sh -c "! grep -q '# i17' '$F'"
put i30 10.0.0.30 8030 30
check "an addition" wait_until 10 has i30 "10.0.0.30:8030 weight 30 # i30"
"$ZKDISC" drain web i11 >/dev/null
check "a drain" wait_until 10 has i11 "10.0.0.11:8011 weight 0 # i11 (drained)"
set_rec i12 10.0.0.12 0 12
check "a port out of range is skipped" wait_until 10 sh -c "! grep -q '# i12' '$F'"
check "  with a note" wait_until 10 grep -q "haproxy output: instance i12 skipped: port 0 is out of range" "$OUT/agent.log"
set_rec i13 "1.2.3.4 #" 8013 13
check "an unsafe address is skipped" wait_until 10 sh -c "! grep -q '# i13' '$F'"
"$ZKDISC" rm /zkdisc/services/web/i14 >/dev/null
put i14 10.0.0.114 8014 14
check "a record replaced under its id" wait_until 10 has i14 "10.0.0.114:8014 weight 14 # i14"
set_rec i16 10.0.0.16 8016 1000
check "a weight over 256 scales every weight" wait_until 10 has i16 "10.0.0.16:8016 weight 256 # i16"
check "  (i20's 20 is 5)" has i20 "10.0.0.20:8020 weight 5 # i20"
set_rec i16 10.0.0.16 8016 16
check "and back" wait_until 10 has i20 "10.0.0.20:8020 weight 20 # i20"
set_rec i12 10.0.0.12 8012 12
check "a skipped record made good" wait_until 10 has i12 "10.0.0.12:8012 weight 12 # i12"

# Every server line against the records: what the last update left.
expected() {
    local i
    for i in $(seq 10 30); do
        case $i in
        11) echo "10.0.0.11:8011 weight 0 # i11 (drained)" ;;
        13 | 17) ;;
        14) echo "10.0.0.114:8014 weight 14 # i14" ;;
        15) echo "10.0.0.15:9015 weight 15 # i15" ;;
        *) echo "10.0.0.$i:80$i weight $i # i$i" ;;
        esac
    done | sort
}
actual() { grep '# i' "$F" | sed -E 's/^ *server zkd[0-9]+ //' | sort; }
check "every line says what its record says" diff <(expected) <(actual)

# A fresh agent works out every slot again from the file and the records.
before=$(cat "$F")
stop_pid "$AGENT_PID"
rm -f "$OUT/web.json"
start_agent "$OUT/agent.conf"
check "the fresh agent loaded" wait_until 15 test -s "$OUT/web.json"
check "  and found the file as the changes had left it" [ "$(cat "$F")" = "$before" ]
stop_pid "$AGENT_PID"
check "no sanitizer report from the agent" sh -c "! grep -qE 'Sanitizer|runtime error:' '$OUT/agent.log'"
finish
