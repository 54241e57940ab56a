#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Service ACLs and credentials from files: a locked service takes
# registrations from its allowed identities only; a rogue client without
# credentials, or with another service's, can neither register, drain,
# rewrite nor delete anything of it (its data and stats compared before and
# after); the admin can drain; acl get/set round trip as zkCli shows them;
# a refused write names the identity and the permission (exit 6); an auth
# file others may read is refused; --auth stays out of /proc/PID/cmdline.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
Z=$ZKDISC

# --- without a server ------------------------------------------------------------
for sub in "acl get" "acl set" "acl digest" "service lock" "service unlock"; do
    expect_exit 0 "help-${sub// /-}" "$Z" $sub --help
    expect_in "help-${sub// /-}" out "usage: zkdisc $sub"
done
expect_exit 2 lock-no-ids "$Z" service lock web
expect_exit 2 acl-set-bad-spec "$Z" acl set /x world:anyone:q

umask 077
printf 'ops:adm-pw\n' >"$OUT/ops.auth"
printf 'alice:pw-a\n' >"$OUT/alice.auth"
printf 'bob:pw-b\n' >"$OUT/bob.auth"
printf 'alice:pw-a\n' >"$OUT/open.auth"
chmod 644 "$OUT/open.auth"
expect_exit 2 auth-file-0644 "$Z" --auth-file "$OUT/open.auth" --zk 127.0.0.1:1 ls /
expect_in auth-file-0644 err "group or others may access it (mode 0644)"
ZKDISC_AUTH_FILE=$OUT/open.auth expect_exit 2 auth-env-0644 "$Z" --zk 127.0.0.1:1 ls /
expect_in auth-env-0644 err "refusing the credentials file"
check "a refused file's content is never shown" bash -c \
    "! grep -q pw-a '$OUT/auth-file-0644.err' '$OUT/auth-env-0644.err'"
expect_exit 2 auth-both "$Z" --auth alice:pw-a --auth-file "$OUT/alice.auth" ls /

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
SVC=/zkdisc/services/web
A=(--auth-file "$OUT/alice.auth")
OPS=(--auth-file "$OUT/ops.auth")

# --- lock, then the legitimate registrant ---------------------------------------------
expect_exit 0 lock "$Z" "${OPS[@]}" service lock web --allow alice:pw-a --admin ops:adm-pw
expect_in lock out "locked web; registrants: alice; admins: ops"
check "lock does not echo passwords" bash -c "! grep -q 'pw-a\|adm-pw' '$OUT/lock.out' '$OUT/lock.err'"
expect_exit 0 svc-acl "$Z" acl get $SVC
check "the service's ACL as zkCli shows it" python3 - "$OUT/svc-acl.out" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
pairs = list(zip(lines[0::2], lines[1::2]))
assert ("'world,'anyone", ": r") in pairs, pairs
assert any(a.startswith("'digest,'alice:") and b == ": cd" for a, b in pairs), pairs
assert any(a.startswith("'digest,'ops:") and b == ": cdrwa" for a, b in pairs), pairs
PY
expect_exit 0 svc-data "$Z" get $SVC
check "the service node names its admins" python3 -c '
import json,sys
d = json.load(open(sys.argv[1]))
assert [a.split(":")[0] for a in d["admins"]] == ["ops"] and len(d["admins"][0]) == 32, d
' "$OUT/svc-data.out"

ZKDISC_AUTH_FILE=$OUT/alice.auth "$Z" register web --port 8080 --address 10.0.0.5 --id web-1 \
    >"$OUT/reg.out" 2>"$OUT/reg.err" &
reg=$!
check "the allowed identity registers" wait_until 15 grep -qx web-1 "$OUT/reg.out"
expect_exit 0 inst-acl "$Z" -o json acl get $SVC/web-1
check "the instance: everyone reads, its creator and the admin change it" python3 -c '
import json,sys
acl = {(e["scheme"], e["id"].split(":")[0]): e["perms"] for e in json.load(open(sys.argv[1]))["acl"]}
assert acl == {("world","anyone"): "r", ("digest","alice"): "cdrwa", ("digest","ops"): "cdrwa"}, acl
' "$OUT/inst-acl.out"

# What a rogue must not change: the children, each one's data and Stat, the ACLs.
state() {
    "$Z" -o json ls $SVC
    for k in $("$Z" ls $SVC); do "$Z" -o json get "$SVC/$k"; "$Z" -o json stat "$SVC/$k"; done
    "$Z" -o json stat $SVC
    "$Z" acl get $SVC
    "$Z" acl get $SVC/web-1
}
state >"$OUT/before" 2>&1

# --- rogues: no credentials, and another service's ----------------------------------------
for who in anon bob; do
    if [ $who = anon ]; then creds=(); id="world:anyone (no credentials given)"
    else creds=(--auth-file "$OUT/bob.auth"); id="digest:bob"; fi
    expect_exit 6 $who-register "$Z" "${creds[@]}" register web --port 9 --id rogue
    expect_in $who-register err "identity $id lacks CREATE on $SVC"
    expect_exit 6 $who-spoof "$Z" "${creds[@]}" create $SVC/zz-x '{"id":"web-1","address":"10.6.6.6"}'
    expect_in $who-spoof err "lacks CREATE on $SVC"
    expect_exit 6 $who-drain "$Z" "${creds[@]}" drain web web-1
    expect_in $who-drain err "drain $SVC/web-1: not allowed: identity $id lacks WRITE (ACL: world:anyone r, digest:alice:"
    # web-1 is up: an undrain is a no-op that writes nothing (the refusal is checked drained, below)
    expect_exit 0 $who-undrain "$Z" "${creds[@]}" undrain web web-1
    expect_in $who-undrain out "web/web-1 not drained"
    expect_exit 6 $who-rewrite "$Z" "${creds[@]}" set $SVC/web-1 '{"id":"web-1","address":"10.6.6.6"}'
    expect_in $who-rewrite err "set $SVC/web-1: not allowed: identity $id lacks WRITE"
    expect_exit 6 $who-rm "$Z" "${creds[@]}" rm $SVC/web-1 --yes
    expect_in $who-rm err "lacks DELETE on $SVC"
    expect_exit 6 $who-deregister "$Z" "${creds[@]}" deregister web web-1
    expect_in $who-deregister err "lacks DELETE on $SVC"
    expect_exit 6 $who-acl-set "$Z" "${creds[@]}" acl set $SVC/web-1 open
    expect_in $who-acl-set err "lacks ADMIN"
    expect_exit 6 $who-unlock "$Z" "${creds[@]}" service unlock web
    expect_exit 6 $who-relock "$Z" "${creds[@]}" service lock web --allow bob:pw-b
done
check "the rogue messages hold no password" bash -c "! cat '$OUT'/*.err | grep -q 'pw-b\|pw-a\|adm-pw'"
state >"$OUT/after" 2>&1
check "nothing of the locked service changed" cmp -s "$OUT/before" "$OUT/after"
check "the state compared is not empty" grep -q '10.0.0.5' "$OUT/before"

# --- the admin drains; the registrant keeps its own node --------------------------------------
enabled() { "$Z" get $SVC/web-1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("enabled", True))'; }
expect_exit 0 admin-drain "$Z" "${OPS[@]}" drain web web-1
check "drained" [ "$(enabled)" = False ]
expect_exit 6 anon-undrain-drained "$Z" undrain web web-1
expect_in anon-undrain-drained err "undrain $SVC/web-1: not allowed"
expect_exit 0 admin-undrain "$Z" "${OPS[@]}" undrain web web-1
check "undrained" [ "$(enabled)" = True ]
expect_exit 0 owner-set "$Z" "${A[@]}" set $SVC/web-1 "$("$Z" get $SVC/web-1)"
kill -TERM $reg; wait $reg
check "the registrant's own deregistration removed its node" bash -c "! '$Z' stat $SVC/web-1 >/dev/null 2>&1"
check "the lock outlives the last instance" bash -c "'$Z' acl get $SVC | grep -q \"'digest,'ops:\""
ZKDISC_AUTH_FILE=$OUT/alice.auth "$Z" register web --port 8081 --id web-2 >"$OUT/reg2.out" 2>&1 &
reg2=$!
check "registers again" wait_until 15 grep -qx web-2 "$OUT/reg2.out"
expect_exit 0 admin-deregister "$Z" "${OPS[@]}" deregister web web-2
kill -TERM $reg2; wait $reg2

# --- the agent: the library's registry under the lock, with zookeeper.auth_file ------------------
. "$here/../agent/lib.sh"
agent_conf() { # AUTH_FILE API_PORT
    cat <<CONF
zookeeper = { connect = "$ZKDISC_ZK"; auth_file = "$1"; };
agent = { api = "127.0.0.1:$2"; state_dir = "$OUT/state"; };
services = ( { name = "web"; id = "web-agent"; address = "127.0.0.1"; port = 7001; } );
CONF
}
agent_conf "$OUT/open.auth" "$(free_port)" >"$OUT/agent-open.conf"
run agent-open timeout 20 "$AGENT" -c "$OUT/agent-open.conf"
check "the agent refuses an auth_file others may read (exit $RC)" [ "$RC" -ne 0 ]
expect_in agent-open err "group or others may access it"
agent_conf "$OUT/alice.auth" "$(free_port)" >"$OUT/agent.conf"
"$AGENT" -c "$OUT/agent.conf" >"$OUT/agent.log" 2>&1 &
agent=$!
agent_in() { "$Z" stat $SVC/web-agent >/dev/null 2>&1; }
check "the agent registers into the locked service" wait_until 15 agent_in
expect_exit 0 agent-inst-acl "$Z" -o json acl get $SVC/web-agent
check "the agent's instance: its identity and the admin" python3 -c '
import json,sys
acl = {(e["scheme"], e["id"].split(":")[0]): e["perms"] for e in json.load(open(sys.argv[1]))["acl"]}
assert acl == {("world","anyone"): "r", ("digest","alice"): "cdrwa", ("digest","ops"): "cdrwa"}, acl
' "$OUT/agent-inst-acl.out"
expect_exit 6 bob-drain-agent "$Z" --auth-file "$OUT/bob.auth" drain web web-agent
expect_exit 0 admin-drain-agent "$Z" "${OPS[@]}" drain web web-agent
kill -TERM $agent; wait $agent
check "the agent deregistered on SIGTERM" bash -c "! '$Z' stat $SVC/web-agent >/dev/null 2>&1"
check "the agent logged no password" bash -c "! grep -q pw-a '$OUT/agent.log' '$OUT/agent-open.err'"

# --- a service with live instances under its container is not locked in place ---------------
"$Z" register api --port 9000 --id api-1 >"$OUT/api.out" 2>&1 &
api=$!
check "api registers (unlocked)" wait_until 15 grep -qx api-1 "$OUT/api.out"
expect_exit 5 lock-live "$Z" "${OPS[@]}" service lock api --allow bob:pw-b --admin ops:adm-pw
expect_in lock-live err "container"
kill -TERM $api; wait $api

# --- acl get / set round trip, and the refusal message -----------------------------------------
ops_id=$(printf 'ops:adm-pw\n' | "$Z" acl digest)
check "acl digest prints digest:ops:HASH" bash -c "[[ '$ops_id' =~ ^digest:ops:[A-Za-z0-9+/]{27}=$ ]]"
expect_exit 0 plain-create "$Z" create /plain v1
expect_exit 0 plain-acl-set "$Z" acl set /plain world:anyone:r "$ops_id:cdrwa"
expect_exit 0 plain-acl-get "$Z" "${OPS[@]}" acl get /plain
check "acl get shows what acl set set" bash -c "printf \"'world,'anyone\n: r\n'digest,'%s\n: cdrwa\n\" '${ops_id#digest:}' | cmp -s - '$OUT/plain-acl-get.out'"
expect_exit 0 plain-acl-redacted "$Z" acl get /plain
expect_in plain-acl-redacted out "'digest,'ops:x"
expect_exit 6 plain-set "$Z" set /plain v2
check "the refusal names identity, permission and ACL" grep -qxF \
    "zkdisc set: set /plain: not allowed: identity world:anyone (no credentials given) lacks WRITE (ACL: world:anyone r, digest:ops:x cdrwa)" \
    "$OUT/plain-set.err"
expect_exit 0 plain-set-ops "$Z" "${OPS[@]}" set /plain v2
expect_exit 0 plain-acl-open "$Z" "${OPS[@]}" acl set /plain open
expect_exit 0 plain-acl-json "$Z" -o json acl get /plain
check "acl get -o json" python3 -c '
import json,sys
d = json.load(open(sys.argv[1]))
assert d["acl"] == [{"scheme":"world","id":"anyone","perms":"cdrwa"}] and d["aversion"] == 2, d
' "$OUT/plain-acl-json.out"

# --- unlock -----------------------------------------------------------------------------------
expect_exit 0 unlock "$Z" "${OPS[@]}" service unlock web
expect_exit 0 svc-acl-open "$Z" acl get $SVC
expect_in svc-acl-open out ": cdrwa"

# --- credentials stay out of the process's command line ---------------------------------------
"$Z" --auth alice:pw-a watch /plain >/dev/null 2>"$OUT/cmdline.err" &
w=$!
check "watch with --auth is running" wait_until 10 grep -q "warning: --auth" "$OUT/cmdline.err"
check "/proc/PID/cmdline lacks the password" bash -c "! tr '\0' ' ' </proc/$w/cmdline | grep -q pw-a"
kill -TERM $w; wait $w 2>/dev/null
expect_in cmdline err "use --auth-file"

finish
