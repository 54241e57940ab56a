#!/usr/bin/env bash
# The CLI skeleton: global options, --help everywhere, exit codes, and the
# first commands (ls, get, stat) against a harness server.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

# --- without a server --------------------------------------------------------
expect_exit 0 version "$ZKDISC" --version
expect_in version out "zkdisc "
expect_exit 0 help "$ZKDISC" --help
expect_in help out "Commands:"
expect_exit 2 no-command "$ZKDISC"
expect_exit 2 unknown-command "$ZKDISC" frobnicate
expect_in unknown-command err 'unknown command "frobnicate"'
for cmd in dev ls get stat; do
    expect_exit 0 "help-$cmd" "$ZKDISC" "$cmd" --help
    expect_in "help-$cmd" out "usage: zkdisc $cmd"
done
expect_exit 2 bad-option "$ZKDISC" ls --bogus /
expect_exit 2 bad-output "$ZKDISC" -o yaml ls /
expect_exit 2 bad-timeout "$ZKDISC" --timeout soon ls /
expect_exit 2 missing-path "$ZKDISC" ls
expect_exit 2 relative-path "$ZKDISC" --zk 127.0.0.1:1 ls relative
expect_in relative-path err "must start with '/'"

# Nothing listens on port 1: exit 3 within the timeout, naming the address.
start=$(date +%s%N)
expect_exit 3 unreachable "$ZKDISC" --zk 127.0.0.1:1 --timeout 2000 ls /
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_in unreachable err "127.0.0.1:1"
CHECKS=$((CHECKS + 1))
if [ "$took_ms" -le 3000 ]; then pass "unreachable took ${took_ms} ms"; else
    fail "unreachable took ${took_ms} ms, more than the 2000 ms timeout + 1 s"; fi
ZKDISC_ZK=127.0.0.1:1 expect_exit 3 unreachable-env "$ZKDISC" --timeout 1000 stat /

# --- against a harness server ------------------------------------------------
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }

expect_exit 0 ls-root "$ZKDISC" ls /
expect_in ls-root out "zookeeper"
expect_exit 0 ls-json "$ZKDISC" -o json ls /
CHECKS=$((CHECKS + 1))
if python3 -c 'import json,sys; assert "zookeeper" in json.load(open(sys.argv[1]))' "$OUT/ls-json.out"
then pass "ls -o json is a JSON array with zookeeper"; else fail "ls -o json: $(cat "$OUT/ls-json.out")"; fi
expect_exit 0 globals-after "$ZKDISC" ls / --zk "$ZKDISC_ZK" --timeout 3000
expect_exit 4 ls-missing "$ZKDISC" ls /no/such
expect_in ls-missing err "/no/such"
expect_exit 0 stat-root "$ZKDISC" stat /zookeeper
expect_in stat-root out "numChildren"
expect_in stat-root out "ephemeralOwner  0x0 (persistent)"
expect_exit 0 stat-json "$ZKDISC" -o json stat /zookeeper
expect_in stat-json out '"numChildren"'
expect_exit 4 stat-missing "$ZKDISC" stat /no/such
expect_exit 0 get-config "$ZKDISC" get /zookeeper/config
expect_exit 0 get-json "$ZKDISC" -o json get /zookeeper
expect_in get-json out '"path": "/zookeeper"'
expect_exit 4 get-missing "$ZKDISC" get /no/such

zkh_down
finish
