#!/usr/bin/env bash
# The registry from the command line: register/run hold an instance,
# SIGTERM removes it at once, SIGKILL after the session timeout, --watch
# prints one line per delta, pick/drain/deregister and their exit codes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
Z=$ZKDISC

for cmd in services instances register run deregister drain undrain pick; do
    expect_exit 0 "help-$cmd" "$Z" "$cmd" --help
    expect_in "help-$cmd" out "usage: zkdisc $cmd"
done
expect_exit 2 register-no-port "$Z" register web
expect_exit 2 register-bad-name "$Z" --zk 127.0.0.1:1 register 'bad/name' --port 1
expect_in register-bad-name err "service"
expect_exit 2 register-bad-meta "$Z" register web --port 1 --meta novalue
expect_exit 2 run-no-command "$Z" run web --port 1
expect_exit 3 register-unreachable "$Z" --zk 127.0.0.1:1 --timeout 1000 register web --port 1
expect_exit 2 pick-bad-strategy "$Z" pick web --strategy best

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }

count() { "$Z" -o json instances "$1" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
has_count() { [ "$(count "$1")" = "$2" ]; }

# --- register, then SIGTERM: gone at once ------------------------------------
"$Z" register web --port 8080 --address 10.0.0.5 --id w-1 --zone eu-1 --weight 50 \
    --meta team=core >"$OUT/reg1.out" 2>"$OUT/reg1.err" &
reg1=$!
check "register prints the id" wait_until 15 grep -qx w-1 "$OUT/reg1.out"
check "instance listed" has_count web 1
expect_exit 0 instances-table "$Z" instances web
expect_in instances-table out "10.0.0.5:8080"
expect_in instances-table out "eu-1"
expect_exit 0 instances-json "$Z" -o json instances web
check "json has Curator's field names" python3 -c '
import json,sys
[i] = json.load(open(sys.argv[1]))
assert list(i)[:9] == ["name","id","address","port","sslPort","payload","registrationTimeUTC","serviceType","uriSpec"], list(i)
assert i["payload"]["weight"] == 50 and i["payload"]["metadata"] == {"team": "core"}
' "$OUT/instances-json.out"
expect_exit 0 services "$Z" services
expect_in services out "web"
expect_exit 0 pick "$Z" pick web
expect_in pick out "10.0.0.5:8080"
kill -TERM "$reg1"; wait "$reg1"; rc=$?
check "register exits 0 on SIGTERM (got $rc)" [ "$rc" -eq 0 ]
check "SIGTERM removed the instance at once" has_count web 0
expect_exit 4 pick-none "$Z" pick web

# --- SIGKILL: gone after the session timeout ---------------------------------
"$Z" register web --port 8081 --address 10.0.0.6 --id w-2 --session-timeout 2000 >"$OUT/reg2.out" &
reg2=$!
check "second registration" wait_until 15 grep -qx w-2 "$OUT/reg2.out"
kill -KILL "$reg2"; wait "$reg2" 2>/dev/null
killed_at=$(date +%s%N)
check "still there right after SIGKILL" has_count web 1
check "gone within the session timeout + 5 s" wait_until 7 has_count web 0
took=$(( ($(date +%s%N) - killed_at) / 1000000 ))
check "not gone before about the session timeout (${took} ms)" [ "$took" -ge 1000 ]

# --- instances --watch ----------------------------------------------------------
"$Z" instances web --watch >"$OUT/watch.out" 2>"$OUT/watch.err" &
watcher=$!
"$Z" register web --port 9000 --address 10.0.0.7 --id w-3 >"$OUT/reg3.out" &
reg3=$!
check "watch: ADDED" wait_until 15 grep -qx "ADDED w-3 10.0.0.7:9000" "$OUT/watch.out"
expect_exit 0 drain "$Z" drain web w-3
check "watch: UPDATED on drain" wait_until 15 grep -qx "UPDATED w-3 10.0.0.7:9000" "$OUT/watch.out"
expect_exit 0 instances-drained "$Z" instances web
expect_in instances-drained out "drained"
expect_exit 4 pick-drained "$Z" pick web
expect_exit 0 undrain "$Z" undrain web w-3
expect_exit 0 pick-undrained "$Z" pick web --strategy weighted
expect_exit 4 drain-missing "$Z" drain web nope
expect_exit 0 deregister "$Z" deregister web w-3
check "watch: REMOVED" wait_until 15 grep -qx "REMOVED w-3 10.0.0.7:9000" "$OUT/watch.out"
expect_exit 4 deregister-missing "$Z" deregister web w-3
kill -TERM "$reg3" "$watcher"; wait "$reg3" "$watcher" 2>/dev/null
printf 'ADDED w-3 10.0.0.7:9000\nUPDATED w-3 10.0.0.7:9000\nUPDATED w-3 10.0.0.7:9000\nREMOVED w-3 10.0.0.7:9000\n' >"$OUT/watch.want"
check "watch printed exactly add, drain, undrain, remove" cmp -s "$OUT/watch.want" "$OUT/watch.out"

# --- run ----------------------------------------------------------------------------
flag=$OUT/go
"$Z" run web --port 7000 --address 10.0.0.8 --id r-1 -- \
    sh -c "while [ ! -e '$flag' ]; do sleep 0.05; done; exit 3" &
runner=$!
check "run: registered while the command runs" wait_until 15 has_count web 1
touch "$flag"
wait "$runner"; rc=$?
check "run: exits with the command's status (got $rc)" [ "$rc" -eq 3 ]
check "run: deregistered when the command exits" has_count web 0

"$Z" run web --port 7001 --id r-2 --address 10.0.0.9 -- sleep 60 &
runner=$!
check "run: registered" wait_until 15 has_count web 1
kill -TERM "$runner"; wait "$runner"; rc=$?
check "run: SIGTERM forwarded, 128+15 back (got $rc)" [ "$rc" -eq 143 ]
check "run: deregistered after the signal" has_count web 0
"$Z" run web --port 7002 --id r-3 --address 10.0.0.9 -- sh -c "ls -l /proc/\$\$/fd > '$OUT/child-fds'"
check "run: the command inherits no socket of ours" sh -c "! grep -q 'socket:' '$OUT/child-fds'"
expect_exit 127 run-missing-command "$Z" run web --port 1 --address 10.0.0.1 -- /no/such/command

zkh_down
finish
