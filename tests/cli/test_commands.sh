#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Routine edits and operators' commands: config set and config edit (with
# EDITOR set to a script; compare-and-set against a concurrent publish), an
# unchanged config put as a no-op, durations with units, trailing slashes,
# completion per argument kind (bash functions called with COMP_WORDS set,
# live from a harness server named by --zk on the line), against a harness
# server.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
Z=$ZKDISC
export TMPDIR=$OUT # config edit's files, kept or not, stay in the test's directory

# jqt NAME FILE FILTER : the jq FILTER over the JSON in FILE is true (jq
# starts far quicker than python on a loaded machine).
jqt() {
    CHECKS=$((CHECKS + 1))
    if jq -e "$3" "$2" >/dev/null 2>&1; then pass "$1"; else fail "$1: $3 is false for $(head -c 300 "$2")"; fi
}

# --- without a server ----------------------------------------------------------
for sub in set edit; do
    expect_exit 0 "help-$sub" "$Z" config "$sub" --help
    expect_in "help-$sub" out "usage: zkdisc config $sub"
    check "help-$sub fits 80 columns" awk 'length($0) > 80 { exit 1 }' "$OUT/help-$sub.out"
done
expect_exit 2 set-no-pair "$Z" config set app
expect_exit 2 set-not-pair "$Z" --zk 127.0.0.1:1 config set app novalue
expect_in set-not-pair err '"novalue" is not KEY=VALUE'
# (an unreachable server is waited for the whole timeout: keep them short)
for t in 500ms 1.5s 0.01m 250; do
    expect_exit 3 "timeout-$t" "$Z" --zk 127.0.0.1:1 --timeout "$t" ls /
done
expect_in timeout-500ms err "within 500 ms"
expect_in timeout-1.5s err "within 1500 ms"
expect_in timeout-250 err "within 250 ms"
expect_in timeout-0.01m err "within 600 ms"
for t in 5x 0 -1 inf 1e3; do
    expect_exit 2 "timeout-bad-$t" "$Z" --timeout "$t" ls /
done
expect_in timeout-bad-5x err "500ms, 5s or 2m"

# --- against a harness server ----------------------------------------------------
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
zk=$ZKDISC_ZK

# config set: dotted keys, JSON values when they parse, strings otherwise.
expect_exit 0 set-new "$Z" config set app db.pool.size=5 name=hello flags='[1,2]' quoted='"7"' on=true
expect_in set-new out "1"
expect_exit 0 set-get "$Z" -o json config get app
jqt "config set wrote typed values" "$OUT/set-get.out" \
    '.document == {"db": {"pool": {"size": 5}}, "name": "hello", "flags": [1, 2], "quoted": "7", "on": true}'
expect_exit 0 set-array "$Z" -o json config set app flags.2=3 flags.0=0 db.pool.max=9
jqt "set into arrays and objects" "$OUT/set-array.out" '. == {"app": "app", "version": 2, "changed": true}'
expect_exit 0 set-array-get "$Z" -o json config get app
jqt "set-array document" "$OUT/set-array-get.out" \
    '.document.flags == [0, 2, 3] and .document.db.pool == {"size": 5, "max": 9}'
expect_exit 2 set-through-scalar "$Z" config set app name.x=1
expect_in set-through-scalar err "not an object"
expect_exit 0 set-same "$Z" config set app name=hello
expect_in set-same out "nothing changed: app stays at version 2"
expect_exit 0 set-same-history "$Z" -o json config history app
jqt "an unchanged set published nothing" "$OUT/set-same-history.out" \
    'if type == "array" then length == 2 else (.versions | length) == 2 end'

# config put of identical content: a no-op unless --force.
"$Z" config get app >"$OUT/app.json"
expect_exit 0 put-same "$Z" config put app "$OUT/app.json"
expect_in put-same out "nothing changed"
expect_exit 0 put-same-json "$Z" -o json config put app "$OUT/app.json"
jqt "unchanged put in JSON" "$OUT/put-same-json.out" '.changed == false and .version == 2'
expect_exit 0 put-force "$Z" config put app "$OUT/app.json" --force
expect_in put-force out "3"

# config edit: EDITOR is a script that edits the file it is given.
cat >"$OUT/ed-world.sh" <<'EOF'
#!/bin/sh
sed -i 's/hello/world/' "$1"
EOF
cat >"$OUT/ed-race.sh" <<EOF
#!/bin/sh
sed -i 's/world/again/' "\$1"
"$Z" config set app other=1 >/dev/null
EOF
printf '#!/bin/sh\necho "{ broken" >"$1"\n' >"$OUT/ed-broken.sh"
printf '#!/bin/sh\nexit 3\n' >"$OUT/ed-fails.sh"
chmod +x "$OUT"/ed-*.sh
expect_exit 0 edit "env" EDITOR="$OUT/ed-world.sh" VISUAL= "$Z" config edit app
expect_in edit out "4"
expect_exit 0 edit-get "$Z" config get app name
expect_in edit-get out "world"
check "a published edit's file is removed" bash -c "! ls '$OUT'/zkdisc-app-* 2>/dev/null"
expect_exit 0 edit-same env EDITOR=true VISUAL= "$Z" config edit app
expect_in edit-same out "nothing changed"
expect_exit 0 edit-visual env EDITOR=false VISUAL="$OUT/ed-world.sh" "$Z" config edit app
expect_exit 5 edit-race env EDITOR="$OUT/ed-race.sh" VISUAL= "$Z" config edit app
expect_in edit-race err "published by someone else while you edited"
expect_in edit-race err "your edit is kept in $OUT/zkdisc-app-"
kept=$(grep -o "$OUT/zkdisc-app-[A-Za-z0-9]*\.json" "$OUT/edit-race.err" | head -1)
check "the kept file holds the edit" grep -q again "$kept"
expect_exit 0 edit-race-get "$Z" config get app name
expect_in edit-race-get out "world"
expect_exit 1 edit-broken env EDITOR="$OUT/ed-broken.sh" VISUAL= "$Z" config edit app
expect_in edit-broken err "nothing published; your edit is kept in"
expect_exit 1 edit-fails env EDITOR="$OUT/ed-fails.sh" VISUAL= "$Z" config edit app
expect_in edit-fails err "the editor ($OUT/ed-fails.sh) failed"
expect_exit 0 edit-libconfig env EDITOR="sed -i s/world/lc/" VISUAL= "$Z" config edit app --format libconfig
expect_exit 0 edit-libconfig-get "$Z" config get app name
expect_in edit-libconfig-get out "lc"
expect_exit 4 edit-missing env EDITOR=true "$Z" config edit nope

# Trailing slashes: the node itself.
"$Z" create -p /tr/a/b v >/dev/null
expect_exit 0 ls-slash "$Z" ls /tr/
expect_in ls-slash out "a"
expect_exit 0 get-slash "$Z" get /tr/a/b/
expect_exit 0 tree-slash "$Z" tree /tr//
expect_exit 0 stat-root "$Z" stat /

# sync, whoami, health --4lw
expect_exit 0 sync "$Z" sync /tr
expect_in sync out "synced /tr"
expect_exit 0 sync-json "$Z" -o json sync
jqt "sync -o json" "$OUT/sync-json.out" '.path == "/" and .synced == true and (.server | length) > 0'
printf 'bob:secret\n' >"$OUT/bob" && chmod 600 "$OUT/bob"
expect_exit 0 whoami "$Z" --auth-file "$OUT/bob" whoami
expect_in whoami out "digest:bob"
expect_in whoami out "no whoAmI"
expect_exit 0 whoami-json "$Z" --auth-file "$OUT/bob" -o json whoami
jqt "whoami -o json" "$OUT/whoami-json.out" \
    '.identities == [{"scheme": "digest", "id": "bob"}] and (.sessionId | startswith("0x")) and .source == "client"'
check "whoami never prints the password" bash -c "! grep -q secret '$OUT/whoami.out' '$OUT/whoami-json.out'"
expect_exit 0 whoami-anon "$Z" whoami
expect_in whoami-anon out "anonymous"
expect_exit 0 4lw-ruok "$Z" health --4lw ruok
check "4lw prints the reply as it came" bash -c "[ \"\$(cat '$OUT/4lw-ruok.out')\" = imok ]"
expect_exit 0 4lw-conf "$Z" health --4lw conf
expect_in 4lw-conf out "clientPort="
expect_exit 0 4lw-cons "$Z" health --4lw cons
expect_in 4lw-cons out "queued="
expect_exit 0 4lw-json "$Z" -o json health --4lw wchs
jqt "4lw -o json" "$OUT/4lw-json.out" '.servers[0].word == "wchs" and (.servers[0].reply | contains("watch"))'
expect_exit 2 4lw-bad "$Z" health --4lw CONS
expect_exit 3 4lw-down "$Z" --zk 127.0.0.1:1 --timeout 300ms health --4lw cons
# A server that does not allow the word answers so on an open connection (as
# ZooKeeper does without 4lw.commands.whitelist); a stand-in says it here.
python3 - "$OUT/fake.port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(4); s.settimeout(30)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept(); w = c.recv(4).decode()
    c.sendall((w + " is not executed because it is not in the whitelist.\\n").encode()); c.close()
PY
fake=$!
wait_until 30 test -s "$OUT/fake.port"
expect_exit 1 4lw-refused "$Z" --zk "127.0.0.1:$(cat "$OUT/fake.port")" health --4lw cons
expect_in 4lw-refused err '"cons" is not allowed by the server'
expect_in 4lw-refused err "4lw.commands.whitelist"
kill "$fake" 2>/dev/null

# --- completion per argument kind, live from --zk on the line --------------------
"$Z" completion bash >"$OUT/c.bash"
"$Z" create -p /zkdisc/services/web/w-1 '{}' >/dev/null
"$Z" create /zkdisc/services/web/w-2 '{}' >/dev/null
"$Z" create -p /zkdisc/services/api/a-1 '{}' >/dev/null
mkdir -p "$OUT/files" && : >"$OUT/files/export.json"
# complete WORDS... : what bash offers for the last word, one per line, with
# ZKDISC_ZK unset (only the line names the server) and zkdisc on PATH.
complete() {
    (cd "$OUT/files" && env -u ZKDISC_ZK PATH="$(dirname "$Z"):$PATH" bash -c \
        '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _zkdisc; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$OUT/c.bash" "$@")
}
offers() { # NAME WANT WORDS... : the completion of WORDS offers WANT
    local name=$1 want=$2; shift 2
    CHECKS=$((CHECKS + 1))
    local got; got=$(complete "$@")
    if grep -qxF -- "$want" <<<"$got"; then pass "$name"; else fail "$name: wanted $want, got: $(echo $got)"; fi
}
lacks() { # NAME NOT WORDS... : the completion of WORDS does not offer NOT
    local name=$1 not=$2; shift 2
    CHECKS=$((CHECKS + 1))
    local got; got=$(complete "$@")
    if grep -qxF -- "$not" <<<"$got"; then fail "$name: offered $not: $(echo $got)"; else pass "$name"; fi
}
offers "paths with --zk on the line" /tr zkdisc --zk "$zk" ls /t
offers "paths with --zk=HOSTS" /tr zkdisc --zk="$zk" ls /t
offers "paths with --zk after the command" /tr/a zkdisc ls --zk "$zk" /tr/
lacks "no live paths without a server named" /tr zkdisc ls /t
offers "import completes files" export.json zkdisc --zk "$zk" import ex
lacks "import does not complete znodes" /tr zkdisc --zk "$zk" import /t
offers "config put APP completes apps" app zkdisc --zk "$zk" config put ap
offers "config put APP FILE completes files" export.json zkdisc --zk "$zk" config put app ex
offers "drain completes services" web zkdisc --zk "$zk" drain w
offers "drain SVC completes instance ids" w-2 zkdisc --zk "$zk" drain web w-
lacks "drain SVC does not offer services" web zkdisc --zk "$zk" drain web ''
lacks "instance ids are the named service's" a-1 zkdisc --zk "$zk" undrain web ''
offers "deregister SVC completes instance ids" w-1 zkdisc --zk "$zk" deregister web ''
offers "create --acl completes presets" read-only zkdisc --zk "$zk" create --acl r
lacks "create --acl does not complete paths" /tr zkdisc --zk "$zk" create --acl /t
offers "create --acl V PATH still completes paths" /tr zkdisc --zk "$zk" create --acl open /t
offers "acl set PATH completes presets" creator zkdisc --zk "$zk" acl set /tr cr
offers "run completes register's --zone" --zone zkdisc run web --zo
offers "run completes --session-timeout" --session-timeout zkdisc run web --sess
offers "config completes set" set zkdisc config s
offers "health --4lw completes words" wchs zkdisc health --4lw wc
lacks "shell takes no files" export.json zkdisc shell ex
offers "config set completes apps" app zkdisc --zk "$zk" config set a
finish
