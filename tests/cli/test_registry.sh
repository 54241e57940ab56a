#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
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
"$Z" register web --port 9000 --address 10.0.0.7 --id w-3 >"$OUT/reg3.out" 2>"$OUT/reg3.err" &
reg3=$!
# Lines are "TIME EVENT ID ENDPOINT"; TIME is RFC 3339 UTC with milliseconds.
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
check "watch: added" wait_until 15 grep -qEx "$TS added w-3 10.0.0.7:9000" "$OUT/watch.out"
expect_exit 0 drain "$Z" drain web w-3
check "watch: changed on drain" wait_until 15 grep -qEx "$TS changed w-3 10.0.0.7:9000" "$OUT/watch.out"
expect_exit 0 instances-drained "$Z" instances web
expect_in instances-drained out "drained"
expect_exit 4 pick-drained "$Z" pick web
expect_exit 0 undrain "$Z" undrain web w-3
expect_exit 0 pick-undrained "$Z" pick web --strategy weighted
expect_exit 4 drain-missing "$Z" drain web nope
# A malformed child: the watcher reports the skipped count, with a time.
"$Z" create "/zkdisc/services/web/junk" 'not json' >/dev/null
check "watch: skipped 1" wait_until 15 grep -qEx "$TS skipped 1 malformed record" "$OUT/watch.out"
"$Z" rm /zkdisc/services/web/junk >/dev/null
check "watch: skipped 0 once it is gone" wait_until 15 grep -qEx "$TS skipped 0 malformed records" "$OUT/watch.out"
expect_exit 0 deregister "$Z" deregister web w-3
check "watch: removed" wait_until 15 grep -qEx "$TS removed w-3 10.0.0.7:9000" "$OUT/watch.out"
expect_exit 4 deregister-missing "$Z" deregister web w-3
# An operator removed the holder's instance: register says so and exits 4.
wait "$reg3"; rc=$?
check "register exits 4 when an operator removes its instance (got $rc)" [ "$rc" -eq 4 ]
expect_in reg3 err "w-3 was removed by another client"
kill -TERM "$watcher"; wait "$watcher" 2>/dev/null
printf 'added w-3 10.0.0.7:9000\nchanged w-3 10.0.0.7:9000\nchanged w-3 10.0.0.7:9000\nskipped 1 malformed record\nskipped 0 malformed records\nremoved w-3 10.0.0.7:9000\n' >"$OUT/watch.want"
sed -E 's/^[^ ]+ //' "$OUT/watch.out" >"$OUT/watch.events"
check "watch printed exactly add, drain, undrain, skipped, remove" cmp -s "$OUT/watch.want" "$OUT/watch.events"

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

# run: an operator's deregister stops the command and exits 4.
"$Z" run web --port 7003 --id r-4 --address 10.0.0.9 -- sleep 60 2>"$OUT/run4.err" &
runner=$!
check "run: registered r-4" wait_until 15 has_count web 1
expect_exit 0 deregister-r4 "$Z" deregister web r-4
wait "$runner"; rc=$?
check "run: exits 4 when an operator removes its instance (got $rc)" [ "$rc" -eq 4 ]

# --- what register refuses ---------------------------------------------------------
expect_exit 2 register-port-0 "$Z" register web --port 0
expect_exit 2 register-port-65536 "$Z" register web --port 65536
expect_exit 2 register-payload-array "$Z" register web --port 1 --payload '[1]'
expect_in register-payload-array err "JSON object"
expect_exit 2 register-weight-string "$Z" register web --port 1 --payload '{"weight":"heavy"}'
expect_in register-weight-string err '"weight" must be an integer'
expect_exit 2 register-meta-number "$Z" register web --port 1 --payload '{"metadata":{"a":1}}'
big=$(head -c 70000 /dev/zero | tr '\0' a)
expect_exit 1 register-too-big "$Z" register web --port 1 --payload "{\"big\":\"$big\"}"
expect_in register-too-big err "over 65536"
expect_in register-too-big err "bytes"
check "nothing registered by the refused calls" has_count web 0

# --- services: live instances only; --all; instances of an unknown service ---------
expect_exit 4 instances-unknown "$Z" instances nosuchsvc
expect_in instances-unknown err "nosuchsvc"
"$Z" create -p /zkdisc/services/empty >/dev/null
expect_exit 0 services-live "$Z" services
check "services hides a service with no live instance" sh -c "! grep -q '^empty ' '$OUT/services-live.out'"
expect_exit 0 services-all "$Z" services --all
expect_in services-all out "empty"
expect_exit 0 instances-empty "$Z" instances empty

zkh_down
finish
