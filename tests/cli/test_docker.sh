#!/usr/bin/env bash
# What can be checked of docker/ without a Docker engine: the compose file
# parses and says what the README promises, and the Dockerfile only copies
# paths that exist.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)

check "compose.yaml parses: 3 ZooKeeper nodes, web, watcher" python3 - "$top/docker/compose.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]
assert set(svc) == {"zk1", "zk2", "zk3", "web", "watcher"}, set(svc)
ids = sorted(svc[f"zk{i}"]["environment"]["ZOO_MY_ID"] for i in (1, 2, 3))
assert ids == [1, 2, 3], ids
for name in ("web", "watcher"):
    assert svc[name]["environment"]["ZKDISC_ZK"] == "zk1:2181,zk2:2181,zk3:2181"
    assert set(svc[name]["depends_on"]) == {"zk1", "zk2", "zk3"}
assert svc["web"]["command"][:2] == ["run", "web"]
PY
CHECKS=$((CHECKS + 1))
missing=$(awk '/^COPY [^-]/ {print $2}' "$top/docker/Dockerfile" | while read -r p; do
    [ -e "$top/$p" ] || echo "$p"; done)
if [ -z "$missing" ]; then pass "Dockerfile copies existing paths"; else fail "Dockerfile copies missing: $missing"; fi
finish
