#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# zkdisc ui, the web console, in a real headless Chromium (Debian's chromium,
# chromium-driver and python3-selenium; tests/cli/ui_driver.py) against a real
# ZooKeeper: live services, drain, live config history, diff and rollback,
# tree search, the ensemble, read-only mode, forged and foreign requests, a
# 10,000-instance service. Screenshots of each page go to
# <build>/ui-screenshots/.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

for tool in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$tool" ] || { echo "SKIP: $tool missing (apt-get install chromium chromium-driver)"; exit 0; }
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || { echo "SKIP: python3-selenium missing"; exit 0; }

expect_exit 0 help "$ZKDISC" ui --help
expect_exit 2 remote-refused "$ZKDISC" ui --listen 0.0.0.0:0
expect_in remote-refused err "--allow-remote"
expect_exit 2 bad-listen "$ZKDISC" ui --listen nowhere

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
UI_PIDS=()
stop_uis() {
    for p in "${UI_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${UI_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    UI_PIDS=()
}
trap 'stop_uis; zkh_down; rm -rf "$OUT"' EXIT

# start_ui NAME ARGS...: starts a console on a free port; sets URL_<NAME>.
start_ui() {
    local name=$1; shift
    "$ZKDISC" ui --listen 127.0.0.1:0 "$@" >"$OUT/ui-$name.out" 2>"$OUT/ui-$name.err" &
    UI_PIDS+=($!)
    wait_until 10 grep -q '^zkdisc ui: http' "$OUT/ui-$name.out" || return 1
    printf -v "URL_$name" '%s' "$(sed -n 's/^zkdisc ui: \(http[^ ]*\) .*/\1/p' "$OUT/ui-$name.out")"
}
start_ui rw --write || { fail "the console did not start: $(cat "$OUT/ui-rw.err")"; finish; exit 1; }
start_ui ro || { fail "the read-only console did not start: $(cat "$OUT/ui-ro.err")"; finish; exit 1; }
echo "consoles: $URL_rw (read-write), $URL_ro (read-only)"

CHECKS=$((CHECKS + 1))
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"service":"x","znode":"y","enabled":false}' "${URL_ro}api/service/drain")
if [ "$status" = 403 ]; then pass "read-only console refuses a POST (403)"; else fail "read-only POST: $status"; fi
CHECKS=$((CHECKS + 1))
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://attacker.example' "${URL_rw}api/session")
if [ "$status" = 403 ]; then pass "a foreign Origin is refused (403)"; else fail "foreign Origin: $status"; fi
CHECKS=$((CHECKS + 1))
if curl -s "$URL_rw" | grep -q '<script type="module" src="/app.js">' && \
   ! curl -s "$URL_rw" | grep -qiE 'https?://'; then
    pass "the page is served from the binary, with no external URL"
else fail "index.html: $(curl -s "$URL_rw" | head -c 300)"; fi

# 10,000 instances of "big" (persistent records, imported in transactions of
# 1,000), made while the browser starts; the driver waits for $OUT/big.done.
/usr/bin/python3 - "$OUT/big.json" <<'PY'
import json, sys, time
now = int(time.time() * 1000)
nodes = [{"path": "/zkdisc/services/big", "data": None}]
for i in range(10000):
    rec = {"name": "big", "id": f"big-{i:05d}", "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
           "port": 8000 + i % 1000, "sslPort": None,
           "payload": {"zone": f"z{i % 3}", "weight": 100, "metadata": {"rack": f"r{i % 40}"}},
           "registrationTimeUTC": now, "serviceType": "DYNAMIC", "uriSpec": None}
    nodes.append({"path": f"/zkdisc/services/big/big-{i:05d}", "encoding": "utf-8",
                  "data": json.dumps(rec, separators=(",", ":"))})
json.dump({"format": "zkdisc-export/1", "root": "/zkdisc/services/big", "ephemeral": False,
           "nodes": nodes}, open(sys.argv[1], "w"))
PY
( "$ZKDISC" import "$OUT/big.json" --batch 1000 >"$OUT/big.out" 2>&1; echo $? >"$OUT/big.tmp"
  mv "$OUT/big.tmp" "$OUT/big.done" ) &

shots=$(cd "$(dirname "$ZKDISC")/../.." && pwd)/ui-screenshots
CHECKS=$((CHECKS + 1))
if /usr/bin/python3 "$here/ui_driver.py" "$ZKDISC" "$URL_rw" "$URL_ro" "$shots" "$OUT/big.done"; then
    pass "the browser checks (screenshots in $shots)"
else
    fail "the browser checks failed (exit $?); console log: $(tail -c 600 "$OUT/ui-rw.err")"
fi
stop_uis
finish
