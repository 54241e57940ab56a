#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Backup and restore: export (UTF-8 and base64 data, Stat, ephemeral nodes
# left out or marked), import with --path, --dry-run, --overwrite, conflicts
# (exit 5), and the round trip: export, import into an empty server, export
# again gives the same document apart from Stat.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"

expect_exit 0 help-export "$ZKDISC" export --help
expect_exit 0 help-import "$ZKDISC" import --help
expect_exit 3 unreachable-export "$ZKDISC" --zk 127.0.0.1:1 --timeout 1000 export /
echo '{}' > "$OUT/notexport.json"
expect_exit 1 import-not-export "$ZKDISC" --zk 127.0.0.1:1 import "$OUT/notexport.json"
expect_in import-not-export err "not a zkdisc export"
expect_exit 1 import-no-file "$ZKDISC" import "$OUT/none.json"
echo '{"format":"zkdisc-export/1","root":"/d","nodes":[{"path":"/d","data":"a"},{"path":"/d","data":"b"}]}' > "$OUT/dup.json"
expect_exit 1 import-duplicate "$ZKDISC" --zk 127.0.0.1:1 import "$OUT/dup.json"
expect_in import-duplicate err "/d appears twice"

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
Z=$ZKDISC
"$Z" create /src/text 'héllo wörld' -p >/dev/null
"$Z" create /src/json '{"a":[1,2,3]}' >/dev/null
printf '\000\001\002\377binary' | "$Z" create /src/bin - >/dev/null
"$Z" create /src/empty >/dev/null
"$Z" create '/src/odd name:@=' 'x' >/dev/null
"$Z" create /src/deep/er/est 'leaf' -p >/dev/null

expect_exit 0 export "$Z" export /src -f "$OUT/a.json"
expect_in export err "exported 9 nodes from /src"
python3 - "$OUT/a.json" > "$OUT/inspect.out" 2>&1 <<'PY'
import base64, json, sys
doc = json.load(open(sys.argv[1]))
assert doc["format"] == "zkdisc-export/1" and doc["root"] == "/src", doc
nodes = {n["path"]: n for n in doc["nodes"]}
assert nodes["/src/text"]["encoding"] == "utf-8" and nodes["/src/text"]["data"] == "héllo wörld"
assert nodes["/src/bin"]["encoding"] == "base64"
assert base64.b64decode(nodes["/src/bin"]["data"]) == b"\x00\x01\x02\xffbinary"
assert all("stat" in n and "mzxid" in n["stat"] and n["ephemeral"] is False for n in doc["nodes"])
paths = [n["path"] for n in doc["nodes"]]
assert paths[0] == "/src" and paths.index("/src/deep") < paths.index("/src/deep/er/est")
print("ok")
PY
expect_in inspect out "ok"
expect_exit 0 export-stdout "$Z" export /src
expect_in export-stdout out '"format":"zkdisc-export/1"'
expect_exit 4 export-missing "$Z" export /nope

# --- import: dry run, --path, conflicts, overwrite ------------------------------------
expect_exit 0 dry "$Z" import "$OUT/a.json" --path /copy --dry-run
expect_in dry out "create    /copy/bin"
expect_in dry out "9 to create, 0 to change"
expect_exit 4 dry-wrote-nothing "$Z" stat /copy
expect_exit 0 import-path "$Z" import "$OUT/a.json" --path /copy/here
expect_in import-path out "9 created"
expect_exit 0 copied-bin "$Z" get --raw /copy/here/bin
expect_exit 0 import-again "$Z" import "$OUT/a.json" --path /copy/here
expect_in import-again out "9 unchanged"
"$Z" set /copy/here/text 'changed' >/dev/null
"$Z" rm /copy/here/json >/dev/null
expect_exit 5 import-conflict "$Z" import "$OUT/a.json" --path /copy/here
expect_in import-conflict out "conflict  /copy/here/text"
expect_in import-conflict err "nothing was imported"
expect_exit 4 conflict-wrote-nothing "$Z" stat /copy/here/json
expect_exit 5 dry-conflict "$Z" import "$OUT/a.json" --path /copy/here --dry-run
expect_in dry-conflict out "1 to create, 0 to change, 7 unchanged"
expect_in dry-conflict out "conflict  /copy/here/text"
check "dry run lists only changes" bash -c "! grep -q '^unchanged' '$OUT/dry-conflict.out'"
expect_exit 0 import-overwrite "$Z" import "$OUT/a.json" --path /copy/here --overwrite
expect_in import-overwrite out "1 created, 1 updated, 7 unchanged"
expect_exit 0 overwritten "$Z" get /copy/here/text
expect_in overwritten out "héllo wörld"
expect_exit 0 import-json "$Z" -o json import "$OUT/a.json" --path /copy/j
expect_in import-json out '"created":9'

# A batch the server refuses is not applied at all: under a parent whose ACL
# denies CREATE, the first batch of 4 fails whole and nothing is written.
python3 - "$OUT/race.json" <<'PY'
import json, sys
nodes = [{"path": "/race", "data": None}] + [{"path": "/race/n%d" % i, "data": "v"} for i in range(8)]
json.dump({"format": "zkdisc-export/1", "root": "/race", "nodes": nodes}, open(sys.argv[1], "w"))
PY
"$Z" create /race >/dev/null
"$Z" --auth al:pw create /race2 '' --acl read-only --acl creator >/dev/null
sed 's#/race#/race2#g' "$OUT/race.json" > "$OUT/race2.json"
expect_exit 6 import-denied "$Z" import "$OUT/race2.json" --batch 4
expect_in import-denied err "batch 1 (4 operations) was not applied"
expect_exit 0 nothing-from-batch "$Z" ls /race2
CHECKS=$((CHECKS + 1))
if [ ! -s "$OUT/nothing-from-batch.out" ]; then pass "the refused batch wrote nothing"; else fail "batch partly applied: $(cat "$OUT/nothing-from-batch.out")"; fi
expect_exit 0 import-batches "$Z" import "$OUT/race.json" --batch 3
expect_in import-batches out "8 created, 0 updated, 1 unchanged, 0 ephemeral skipped (3 batches)"

# --- ephemeral nodes -------------------------------------------------------------------------
# Nodes marked ephemeral (export --ephemeral writes them) are never created.
python3 - "$OUT/eph.json" <<'PY'
import json, sys
nodes = [{"path": "/eph", "data": "p"}, {"path": "/eph/live", "data": "e", "ephemeral": True},
         {"path": "/eph/kept", "data": "k", "ephemeral": False}]
json.dump({"format": "zkdisc-export/1", "root": "/eph", "ephemeral": True, "nodes": nodes}, open(sys.argv[1], "w"))
PY
expect_exit 0 import-eph "$Z" import "$OUT/eph.json"
expect_in import-eph out "2 created, 0 updated, 0 unchanged, 1 ephemeral skipped"
expect_exit 4 eph-not-created "$Z" stat /eph/live

# --- the round trip into an empty server -------------------------------------------------------
expect_exit 0 export-root "$Z" export / -f "$OUT/full.json"
zkh_down
zkh_up 1 || { fail "second harness did not start"; finish; exit 1; }
expect_exit 0 import-empty "$Z" import "$OUT/full.json"
expect_exit 0 export-again "$Z" export / -f "$OUT/full2.json"
CHECKS=$((CHECKS + 1))
if python3 - "$OUT/full.json" "$OUT/full2.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for d in (a, b):
    for n in d["nodes"]:
        del n["stat"]
assert a == b, "documents differ"
assert len(a["nodes"]) > 20
PY
then pass "export, import into an empty server, export: same document apart from Stat"
else fail "round trip differs"; fi

zkh_down
finish
