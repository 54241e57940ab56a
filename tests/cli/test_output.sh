#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the CLI prints: every change says what it did ("drained web/w1",
# "web/w1 already drained" for a no-op, exit 0) and -o json says it as one
# object {"action", ..., "changed"}; a path the server would refuse is
# refused whole before anything is created.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

# py NAME FILE EXPR : EXPR over d = the JSON in FILE is true.
py() {
    CHECKS=$((CHECKS + 1))
    if python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3" 2>/dev/null
    then pass "$1"; else fail "$1: $3 is false for $(head -c 300 "$2")"; fi
}
# says NAME LINE : the stdout of NAME is exactly LINE.
says() {
    CHECKS=$((CHECKS + 1))
    if [ "$(cat "$OUT/$1.out")" = "$2" ]; then pass "$1 says \"$2\""; else
        fail "$1: stdout is \"$(head -c 300 "$OUT/$1.out")\", wanted \"$2\""; fi
}

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
Z=$ZKDISC

# --- every change says what it did -------------------------------------------
expect_exit 0 create "$Z" create /o v;                     says create "created /o"
expect_exit 0 create-json "$Z" -o json create /o/j v
py "create -o json" "$OUT/create-json.out" 'd == {"action": "create", "path": "/o/j", "changed": True}'
expect_exit 0 set "$Z" set /o w;                           says set "set /o (version 1)"
expect_exit 0 set-json "$Z" -o json set /o x
py "set -o json: the Stat, action, changed" "$OUT/set-json.out" 'd["action"] == "set" and d["path"] == "/o" and d["version"] == 2 and d["changed"] is True'
expect_exit 0 rm "$Z" rm /o/j --yes;                       says rm "removed /o/j"
"$Z" create /o/a 1 >/dev/null; "$Z" create /o/a/b 2 >/dev/null
expect_exit 0 rm-R "$Z" rm -R /o/a --yes;                  says rm-R "removed /o/a (2 nodes)"
expect_exit 0 rm-json "$Z" -o json rm /o --yes
py "rm -o json" "$OUT/rm-json.out" 'd == {"action": "rm", "path": "/o", "deleted": 1, "changed": True}'
expect_exit 0 acl-set "$Z" create /acl v
expect_exit 0 acl-set "$Z" acl set /acl open;              says acl-set "set the ACL of /acl (1 entry)"

printf '{"n": 1}\n' >"$OUT/c1.json"; printf '{"n": 2}\n' >"$OUT/c2.json"
expect_exit 0 cfg-put "$Z" config put shop "$OUT/c1.json";   says cfg-put "published shop version 1"
expect_exit 0 cfg-put-json "$Z" -o json config put shop "$OUT/c2.json"
py "config put -o json" "$OUT/cfg-put-json.out" 'd == {"action": "config put", "app": "shop", "version": 2, "changed": True}'
expect_exit 0 cfg-rollback "$Z" config rollback shop 1;    says cfg-rollback "published shop version 3"
expect_exit 0 cfg-unlock-json "$Z" -o json config unlock shop
py "config unlock -o json" "$OUT/cfg-unlock-json.out" 'd["action"] == "config unlock" and d["changed"] is True'
expect_exit 0 cfg-delete "$Z" config delete shop --yes;    says cfg-delete "deleted shop"

# drain, undrain, deregister: an instance held by `register`.
"$Z" register web --port 8080 --address 127.0.0.1 --id w1 >"$OUT/reg.out" 2>"$OUT/reg.err" &
regpid=$!
trap 'kill $regpid 2>/dev/null; rm -rf "$OUT"' EXIT
check "registered" wait_until 15 grep -qx w1 "$OUT/reg.out"
expect_exit 0 drain "$Z" drain web w1;                     says drain "drained web/w1"
expect_exit 0 drain-again "$Z" drain web w1;               says drain-again "web/w1 already drained"
expect_exit 0 drain-json "$Z" -o json drain web w1
py "drain -o json, a no-op" "$OUT/drain-json.out" 'd == {"action": "drain", "service": "web", "id": "w1", "changed": False}'
expect_exit 0 undrain "$Z" undrain web w1;                 says undrain "undrained web/w1"
expect_exit 0 undrain-again "$Z" undrain web w1;           says undrain-again "web/w1 not drained"
expect_exit 0 undrain-json "$Z" -o json drain web w1
py "drain -o json, a change" "$OUT/undrain-json.out" 'd == {"action": "drain", "service": "web", "id": "w1", "changed": True}'
expect_exit 0 deregister "$Z" deregister web w1;           says deregister "deregistered web/w1"
expect_exit 4 deregister-again "$Z" deregister web w1
wait "$regpid"

# --- whole-path validation before any create --------------------------------
expect_exit 2 create-emoji "$Z" create -p /a1/b2/e😀 v
expect_in create-emoji err 'component 3 "e😀"'
expect_in create-emoji err "U+1F600"
expect_exit 4 create-emoji-left-nothing "$Z" stat /a1

# --- narrow terminals, wide characters ---------------------------------------
# fits FILE COLS: every line is valid UTF-8 and at most COLS display columns
# (East Asian wide characters take two; colour sequences none).
fits() {
    CHECKS=$((CHECKS + 1))
    if python3 - "$OUT/$1.out" "$2" <<'PY'
import re, sys, unicodedata
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")  # raises on a split character
def width(line):
    line = re.sub("\x1b\\[[0-9;]*m", "", line)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
bad = [l for l in text.splitlines() if width(l) > int(sys.argv[2])]
sys.exit(1 if bad or not text else 0)
PY
    then pass "$1 fits $2 columns as valid UTF-8"; else fail "$1 does not fit $2 columns or is not UTF-8: $(head -c 400 "$OUT/$1.out")"; fi
}
wide=中文服务名称很长很长很长很长很长很长的名字
"$Z" create -p "/w/$wide/ünïcödé-子节点-ünïcödé-子节点-ünïcödé" '{"k": "値"}' >/dev/null
"$Z" create "/w/é$wide" >/dev/null
expect_exit 0 tree-40 env COLUMNS=40 "$Z" tree /w
fits tree-40 40
expect_in tree-40 out "…"
"$Z" register cjk --port 80 --address 127.0.0.1 --id c1 --zone "東京第一データセンター東京第一データセンター" >"$OUT/reg2.out" 2>&1 &
regpid=$!
trap 'kill $regpid 2>/dev/null; rm -rf "$OUT"' EXIT
check "registered c1" wait_until 15 grep -qx c1 "$OUT/reg2.out"
expect_exit 0 instances-40 env COLUMNS=40 "$Z" instances cjk
fits instances-40 40
expect_in instances-40 out "ENDPOINT"
expect_exit 0 instances-wide "$Z" instances cjk
expect_in instances-wide out "東京第一データセンター東京第一データセンター"
expect_exit 0 instances-nohead "$Z" instances cjk --no-headers
check "--no-headers: no header line" bash -c "! grep -q ENDPOINT '$OUT/instances-nohead.out' && grep -q '^c1 ' '$OUT/instances-nohead.out'"
printf '{"n": 1}\n' >"$OUT/m.json"
"$Z" config put cjk "$OUT/m.json" -m "配置更新：把连接池的大小从十改成二十，并且打开缓存" >/dev/null
expect_exit 0 history-40 env COLUMNS=40 "$Z" config history cjk
fits history-40 40
expect_exit 0 history-nohead "$Z" --no-headers config history cjk
check "config history --no-headers: one line per version" test "$(wc -l <"$OUT/history-nohead.out")" -eq 1
expect_exit 0 list-40 env COLUMNS=40 "$Z" config list
fits list-40 40
expect_exit 0 health-40 env COLUMNS=40 "$Z" health
fits health-40 40
expect_exit 0 services-40 env COLUMNS=40 "$Z" services
fits services-40 40
expect_exit 0 du-nohead "$Z" du /w --no-headers
check "du --no-headers" bash -c "! grep -q NODES '$OUT/du-nohead.out'"

# --- one JSON shape: every command's -o json against json_shape.py -----------
J=()
j() { # NAME ARGS... : zkdisc -o json ARGS, exit 0, its stdout checked below
    local name=$1; shift
    expect_exit 0 "json-$name" "$Z" -o json "$@"
    J+=("$OUT/json-$name.out")
}
printf '{"n": 2}\n' >"$OUT/m2.json"
j ls ls /w;                 j ls-R ls -R /w;            j get get "/w/é$wide"
j stat stat /w;             j tree tree /w;             j find find /w
j grep grep 値 /w;          j du du /w;                 j create create /j v
j set set /j w;             j rm rm /j --yes;           j health health
j services services;        j instances instances cjk;  j pick pick cjk
j version version;          j export export /w
j cfg-put config put cjk "$OUT/m2.json";               j cfg-get config get cjk
j cfg-key config get cjk n; j cfg-history config history cjk; j cfg-list config list
j cfg-diff config diff cjk 1 2
j cfg-rollback config rollback cjk 1
j cfg-lock config lock cjk --allow ops:pw;              j cfg-unlock --auth ops:pw config unlock cjk
j acl-get acl get /w;       j acl-set acl set /w open
j drain drain cjk c1;       j undrain undrain cjk c1
j svc-lock service lock lk --admin ops:pw;              j svc-unlock --auth ops:pw service unlock lk
timeout 20 "$Z" -o json watch /w --count 1 >"$OUT/json-watch.out" 2>"$OUT/json-watch.err" &
wpid=$!
check "watch armed" wait_until 15 grep -q '"event":"watching"' "$OUT/json-watch.out"
"$Z" set /w x >/dev/null
check "watch saw the change" wait_until 15 grep -q '"event":"changed"' "$OUT/json-watch.out"
wait $wpid
timeout 20 "$Z" -o json config watch cjk --count 1 >"$OUT/json-cfg-watch.out" 2>&1
check "json shape of every command" python3 "$here/json_shape.py" "${J[@]}"
check "json shape of watch lines" python3 "$here/json_shape.py" --lines "$OUT/json-watch.out" "$OUT/json-cfg-watch.out"
expect_exit 4 json-get-missing "$Z" -o json get /nope
check "get /nope -o json: nothing on stdout" test ! -s "$OUT/json-get-missing.out"
check "get /nope -o json: an error object on stderr" python3 "$here/json_shape.py" --error "$OUT/json-get-missing.err"
py "the error says exit 4" "$OUT/json-get-missing.err" 'd["exitCode"] == 4 and "/nope" in d["error"]'
py "stat: RFC 3339 ctime with ctimeMs" "$OUT/json-stat.out" 'd["ctime"].endswith("Z") and d["ctimeMs"] > 0'
py "config history: time and timeMs" "$OUT/json-cfg-history.out" 'all(h["time"].endswith("Z") and h["timeMs"] > 0 for h in d)'
py "instances: registrationTime" "$OUT/json-instances.out" 'd[0]["registrationTime"].endswith("Z") and d[0]["registrationTimeUTC"] > 0'
py "health: rttMs to the microsecond" "$OUT/json-health.out" 'all(round(s["rttMs"], 3) == s["rttMs"] for s in d["servers"])'
kill $regpid; wait $regpid

zkh_down
finish
