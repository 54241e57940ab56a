#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI's contract: global options, help, suggestions, exit codes, one JSON
# format (compact when piped, indented on a terminal or with --pretty), the
# JSON shape of every command, RFC 3339 times, timestamped -v lines,
# progress only on a terminal, completion scripts; the first commands (ls,
# get, stat) against a harness server. Terminal cases run under `script -qc`.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

# py NAME FILE EXPR : EXPR over d = the JSON in FILE is true.
py() {
    CHECKS=$((CHECKS + 1))
    if python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3" 2>/dev/null
    then pass "$1"; else fail "$1: $3 is false for $(head -c 300 "$2")"; fi
}
# tty FILE CMD : runs the shell command CMD on a terminal, its output (stdout
# and stderr, as the terminal shows them) into FILE.
tty() { script -qec "$2" /dev/null </dev/null >"$1" 2>&1; }
RFC3339='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# --- without a server --------------------------------------------------------
expect_exit 0 version "$ZKDISC" --version
expect_in version out "zkdisc "
expect_exit 0 version-cmd "$ZKDISC" version
check "version, --version and -V agree" bash -c "[ \"\$('$ZKDISC' version)\" = \"\$('$ZKDISC' -V)\" ] && [ \"\$('$ZKDISC' -V)\" = \"\$(cat '$OUT/version.out')\" ]"
expect_exit 0 version-json "$ZKDISC" -o json version
py "version -o json is {version}" "$OUT/version-json.out" 'set(d) == {"version"}'
expect_exit 0 help "$ZKDISC" --help
expect_in help out "Commands:"
expect_exit 0 help-cmd "$ZKDISC" help
expect_in help-cmd out "Commands:"
expect_exit 0 help-global "$ZKDISC" help global
expect_in help-global out "--zk HOSTS"
expect_in help-global out "Exit codes"
expect_exit 2 no-command "$ZKDISC"
expect_in no-command err "no command given"

# Every command's --help is its own options and one line about the globals.
for cmd in dev ls get stat tree find grep du watch create set rm export import health \
           services instances register run deregister drain undrain pick config help version completion; do
    expect_exit 0 "help-$cmd" "$ZKDISC" "$cmd" --help
    expect_in "help-$cmd" out "usage: zkdisc $cmd"
    check "help-$cmd does not repeat the global options" bash -c "! grep -q -- '--timeout MS' '$OUT/help-$cmd.out'"
done
expect_in help-ls out "zkdisc help global"
expect_exit 0 help-ls-cmd "$ZKDISC" help ls
check "'help ls' is 'ls --help'" cmp -s "$OUT/help-ls.out" "$OUT/help-ls-cmd.out"
expect_exit 0 help-config-put "$ZKDISC" help config put
expect_in help-config-put out "-m, --message"
expect_exit 2 help-unknown "$ZKDISC" help lss
expect_in help-unknown err 'did you mean "ls"'

# Typos: a suggestion, exit 2, and no wall of text.
expect_exit 2 unknown-command "$ZKDISC" lss /
expect_in unknown-command err 'unknown command "lss"; did you mean "ls"?'
check "an unknown command prints 2 lines, not the command list" test "$(wc -l <"$OUT/unknown-command.err")" -le 2
expect_exit 2 unknown-far "$ZKDISC" frobnicate
expect_in unknown-far err 'unknown command "frobnicate"'
check "no suggestion when nothing is near" bash -c "! grep -q 'did you mean' '$OUT/unknown-far.err'"
expect_exit 2 unknown-option "$ZKDISC" ls --recursve /
expect_in unknown-option err 'unknown option "--recursve"; did you mean "--recursive"?'
expect_exit 2 unknown-global "$ZKDISC" --pretyy ls /
expect_in unknown-global err 'did you mean "--pretty"?'
expect_exit 2 unknown-sub "$ZKDISC" config pt
expect_in unknown-sub err 'unknown subcommand "pt"; did you mean "put"?'
expect_exit 2 unknown-short "$ZKDISC" -x
expect_in unknown-short err 'unknown option "-x"'

# A missing value names the option, before or after the command.
expect_exit 2 zk-no-value "$ZKDISC" --zk
expect_in zk-no-value err 'option "--zk" needs a value'
expect_exit 2 zk-no-value-after "$ZKDISC" ls --zk
expect_in zk-no-value-after err 'option "--zk" needs a value'
expect_exit 2 depth-no-value "$ZKDISC" tree / --depth
expect_in depth-no-value err 'option "--depth" needs a value'
expect_exit 2 o-no-value "$ZKDISC" ls / -o
expect_in o-no-value err 'option "-o" needs a value'

expect_exit 2 bad-option "$ZKDISC" ls --bogus /
expect_exit 2 bad-output "$ZKDISC" -o yaml ls /
expect_exit 2 bad-timeout "$ZKDISC" --timeout soon ls /
expect_exit 2 relative-path "$ZKDISC" --zk 127.0.0.1:1 ls relative
expect_in relative-path err "must start with '/'"
expect_exit 2 rm-root "$ZKDISC" --zk 127.0.0.1:1 rm /
expect_exit 2 rm-R-no-yes "$ZKDISC" --zk 127.0.0.1:1 rm -R /a </dev/null
expect_exit 2 config-delete-no-yes "$ZKDISC" --zk 127.0.0.1:1 config delete app </dev/null
expect_in config-delete-no-yes err "without --yes"

# Nothing listens on port 1: exit 3 within the timeout, naming the address.
start=$(date +%s%N)
expect_exit 3 unreachable "$ZKDISC" --zk 127.0.0.1:1 --timeout 2000 ls /
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_in unreachable err "127.0.0.1:1"
CHECKS=$((CHECKS + 1))
if [ "$took_ms" -le 3000 ]; then pass "unreachable took ${took_ms} ms"; else
    fail "unreachable took ${took_ms} ms, more than the 2000 ms timeout + 1 s"; fi
ZKDISC_ZK=127.0.0.1:1 expect_exit 3 unreachable-env "$ZKDISC" --timeout 1000 stat /

# dev --data: a missing directory is created; one that cannot be is an error
# (before any server starts).
expect_exit 1 dev-data-bad "$ZKDISC" dev --port 1 --data /proc/self/no/such
expect_in dev-data-bad err "cannot create --data /proc/self/no/such"

# Completion scripts: valid shell, commands and options complete.
expect_exit 0 completion-bash "$ZKDISC" completion bash
check "bash completion parses" bash -n "$OUT/completion-bash.out"
complete_bash() { # words... : what bash completion offers for the last word
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _zkdisc; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$OUT/completion-bash.out" "$@"
}
check "bash completes commands" bash -c "$(declare -f complete_bash); OUT='$OUT'; complete_bash zkdisc l | grep -qx ls"
check "bash completes a command's options" bash -c "$(declare -f complete_bash); OUT='$OUT'; complete_bash zkdisc ls --rec | grep -qx -- --recursive"
check "bash completes config subcommands" bash -c "$(declare -f complete_bash); OUT='$OUT'; complete_bash zkdisc config pu | grep -qx put"
check "bash completes -o values" bash -c "$(declare -f complete_bash); OUT='$OUT'; complete_bash zkdisc -o j | grep -qx json"
expect_exit 0 completion-zsh "$ZKDISC" completion zsh
expect_in completion-zsh out "#compdef zkdisc"
if command -v zsh >/dev/null; then check "zsh completion parses" zsh -n "$OUT/completion-zsh.out"; fi
expect_exit 2 completion-fish "$ZKDISC" completion fish

# --- against a harness server ------------------------------------------------
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }

expect_exit 0 ls-root "$ZKDISC" ls /
expect_in ls-root out "zookeeper"
expect_exit 0 ls-default "$ZKDISC" ls
check "ls without PATH lists /" cmp -s "$OUT/ls-root.out" "$OUT/ls-default.out"
expect_exit 0 stat-default "$ZKDISC" stat
expect_in stat-default out "path            /"
expect_exit 0 ls-json "$ZKDISC" -o json ls /
py "ls -o json is an array of names with zookeeper" "$OUT/ls-json.out" '"zookeeper" in d'
expect_exit 0 globals-after "$ZKDISC" ls / --zk "$ZKDISC_ZK" --timeout 3000
expect_exit 4 ls-missing "$ZKDISC" ls /no/such
expect_in ls-missing err "/no/such"
expect_exit 0 stat-root "$ZKDISC" stat /zookeeper
expect_in stat-root out "numChildren"
expect_in stat-root out "ephemeralOwner  0x0 (persistent)"
expect_exit 4 stat-missing "$ZKDISC" stat /no/such
expect_exit 0 get-config "$ZKDISC" get /zookeeper/config
expect_exit 4 get-missing "$ZKDISC" get /no/such

# -R/--recursive (and -r) wherever there is recursion.
"$ZKDISC" create -p /b/x/y '{"k":1}' >/dev/null
for flag in -R -r --recursive; do
    expect_exit 0 "ls$flag" "$ZKDISC" ls "$flag" /b
    expect_in "ls$flag" out "/b/x/y"
done
expect_exit 0 watch-R "$ZKDISC" watch -R /b --count 1 --timeout 3000 &
wpid=$!

# One JSON format: compact on one line when piped, indented on a terminal or
# with --pretty; the same document either way.
expect_exit 0 json-piped "$ZKDISC" -o json stat /b
check "piped JSON is one line" test "$(wc -l <"$OUT/json-piped.out")" -eq 1
expect_exit 0 json-pretty "$ZKDISC" -o json --pretty stat /b
check "--pretty JSON is indented" grep -q '^  "czxid"' "$OUT/json-pretty.out"
tty "$OUT/json-tty.out" "'$ZKDISC' -o json stat /b"
check "JSON on a terminal is indented" grep -q '^  "czxid"' "$OUT/json-tty.out"
check "piped, --pretty and terminal JSON are the same document" python3 -c 'import json,sys
a, b, c = (json.loads(open(f).read().replace("\r", "")) for f in sys.argv[1:])
for x in (a, b, c): x.pop("mtime"); x.pop("mtimeMs")
sys.exit(not (a == b == c))' "$OUT/json-piped.out" "$OUT/json-pretty.out" "$OUT/json-tty.out"

# Every time is RFC 3339 UTC with milliseconds: text, JSON, watch lines, -v.
check "stat text times are RFC 3339" grep -Eq "^ctime +$RFC3339\$" "$OUT/stat-root.out"
py "stat JSON times are RFC 3339" "$OUT/json-piped.out" \
    '__import__("re").fullmatch(r"'"$RFC3339"'", d["ctime"]) and __import__("re").fullmatch(r"'"$RFC3339"'", d["mtime"]) and d["ctimeMs"] > 0'
"$ZKDISC" set /b/x/y '{"k":2}'
wait "$wpid"
check "watch -R reports a change below PATH" grep -q "changed" "$OUT/watch-R.out"
check "watch lines start with an RFC 3339 time" grep -Eq "^$RFC3339  changed" "$OUT/watch-R.out"
expect_exit 0 verbose "$ZKDISC" -v ls /
check "-v lines start with an RFC 3339 time and a level" bash -c "test -s '$OUT/verbose.err' && ! grep -Evq '^$RFC3339 (ERROR|WARN|INFO|DEBUG) ' '$OUT/verbose.err'"

# The JSON shape of every node command: objects for one result, arrays for lists.
"$ZKDISC" create /b/data 'hello' >/dev/null
SHAPES=$OUT/shapes
: >"$SHAPES"
shape() { # NAME PYTHON-EXPR CMD... (checked together below: one python, not 16)
    local name=$1 expr=$2; shift 2
    expect_exit 0 "shape-$name" "$ZKDISC" -o json "$@"
    printf '%s\t%s\n' "$OUT/shape-$name.out" "$expr" >>"$SHAPES"
}
shape ls 'isinstance(d, list) and all(isinstance(x, str) for x in d)' ls /b
shape ls-R 'isinstance(d, list) and d[0] == "/b"' ls -R /b
shape get 'isinstance(d, dict) and d["path"] == "/b/data" and d["data"] == "hello" and isinstance(d["stat"], dict)' get /b/data
shape stat 'isinstance(d, dict) and d["path"] == "/b" and "numChildren" in d' stat /b
shape tree 'isinstance(d, dict) and d["path"] == "/b" and isinstance(d["children"], list)' tree /b
shape find 'isinstance(d, list) and all("path" in x and "stat" in x for x in d)' find /b
shape grep 'isinstance(d, list) and d[0]["path"] == "/b/data"' grep hello /b
shape du 'isinstance(d, list) and d[0]["path"] == "/b" and d[0]["nodes"] == 4' du /b
shape create 'd == {"action": "create", "path": "/b/new", "changed": True}' create /b/new v
shape set 'isinstance(d, dict) and d["version"] == 1' set /b/new w
shape export 'd["format"] == "zkdisc-export/1" and isinstance(d["nodes"], list)' export /b
shape rm 'd == {"action": "rm", "path": "/b/new", "deleted": 1, "changed": True}' rm /b/new --yes
shape health 'isinstance(d["servers"], list) and isinstance(d["quorum"], dict) and d["healthy"] is True' health
shape version 'isinstance(d["version"], str)' version
shape services 'isinstance(d, list)' services
shape config-list 'isinstance(d, list)' config list
while IFS= read -r line; do
    CHECKS=$((CHECKS + 1))
    case $line in ok*) pass "${line#ok }" ;; *) fail "${line#bad }" ;; esac
done < <(python3 - "$SHAPES" <<'PY'
import json, os, sys
for row in open(sys.argv[1]):
    path, expr = row.rstrip("\n").split("\t", 1)
    name = os.path.basename(path)[len("shape-"):-len(".out")]
    try:
        d = json.load(open(path))
        ok = bool(eval(expr))
    except Exception as e:
        ok = False
    print(("ok %s -o json shape" if ok else "bad %s -o json shape: " + expr.replace("%", "%%") + " on " + open(path).read()[:200].replace("\n", " ").replace("%", "%%")) % name)
PY
)

# Progress of long operations: on stderr when it is a terminal, never piped.
"$ZKDISC" -o json export /b >"$OUT/b.json"
expect_exit 0 export-piped "$ZKDISC" export /b -f "$OUT/piped.json"
check "no progress when stderr is not a terminal" bash -c "! grep -q 'nodes,' '$OUT/export-piped.err'"
tty "$OUT/export-tty.out" "'$ZKDISC' export /b > '$OUT/tty.json'"
check "progress on a terminal: count and rate" grep -Eq 'export: [0-9]+ nodes, [0-9]+/s' "$OUT/export-tty.out"
check "the exported document is clean of progress" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/tty.json"
"$ZKDISC" rm -R /b --yes >/dev/null
tty "$OUT/import-tty.out" "'$ZKDISC' import '$OUT/b.json'"
check "import progress on a terminal" grep -Eq 'import: [0-9]+ nodes, [0-9]+/s' "$OUT/import-tty.out"
script -qec "'$ZKDISC' rm -R /b" /dev/null <<<"y" >"$OUT/rm-tty.out" 2>&1
check "rm -R on a terminal: reading progress, then the question" bash -c \
    "grep -Eq 'rm: reading: [0-9]+ nodes, [0-9]+/s' '$OUT/rm-tty.out' && grep -Eq 'Remove /b and everything under it \(4 nodes\)\?' '$OUT/rm-tty.out'"
expect_exit 4 rm-tty-removed "$ZKDISC" stat /b
"$ZKDISC" import "$OUT/b.json" >/dev/null

# Live completion from ZooKeeper.
expect_exit 0 complete-paths "$ZKDISC" completion paths /b/
expect_in complete-paths out "/b/x"
expect_exit 0 complete-root "$ZKDISC" completion paths /zoo
expect_in complete-root out "/zookeeper"

zkh_down
finish
