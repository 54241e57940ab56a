#!/usr/bin/env bash
# What can be checked of docker/ without a Docker engine: the compose file
# parses and describes the set-up the README promises (3 ZooKeeper nodes, two
# web instances each with its own agent sidecar, HAProxy fed by an agent, a
# watcher), every container has a healthcheck, every build target exists;
# the Dockerfile is multi-stage, runs as a non-root user, copies only paths
# that exist and that .dockerignore lets through; its build stage installs
# through tools/install-deps.sh and its runtime stage carries the runtime
# library of every -dev package that script installs. With a Docker engine,
# `docker compose config` checks the file too.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)
dockerfile=$top/docker/Dockerfile

check ".dockerignore keeps build trees and .git out" bash -c \
    "grep -qx '.git' '$top/.dockerignore' && grep -qx 'build\*/' '$top/.dockerignore'"

check "compose.yaml parses and describes the set-up" python3 - "$top/docker/compose.yaml" "$dockerfile" <<'PY'
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]
want = {"zk1", "zk2", "zk3", "web1", "web1-agent", "web2", "web2-agent", "lb", "watcher"}
assert set(svc) == want, set(svc) ^ want
assert sorted(svc[f"zk{i}"]["environment"]["ZOO_MY_ID"] for i in (1, 2, 3)) == [1, 2, 3]
targets = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", open(sys.argv[2]).read()))
for name, s in svc.items():
    assert "healthcheck" in s and s["healthcheck"]["test"], f"{name} has no healthcheck"
    if "build" in s:
        assert s["build"]["target"] in targets, f"{name}: target {s['build']['target']} not in {targets}"
    for dep in s.get("depends_on", {}):
        assert dep in svc, f"{name} depends on unknown {dep}"
    if s.get("network_mode", "").startswith("service:"):
        assert s["network_mode"][len("service:"):] in svc, name
for n in (1, 2):
    agent = svc[f"web{n}-agent"]
    assert agent["network_mode"] == f"service:web{n}", "a sidecar shares its service's network"
    assert agent["entrypoint"] == ["zkdisc-agent"] and agent["command"] == ["-c", f"/etc/zkdisc/web{n}.conf"]
    assert svc[f"web{n}"]["build"]["target"] == "web"
assert svc["lb"]["build"]["target"] == "lb" and "8080:8080" in svc["lb"]["ports"]
assert svc["watcher"]["command"][:2] == ["instances", "web"]
assert svc["watcher"]["environment"]["ZKDISC_ZK"] == "zk1:2181,zk2:2181,zk3:2181"
PY

check "the Dockerfile is multi-stage and every runtime stage runs as a non-root user" python3 - "$dockerfile" <<'PY'
import re, sys
stages, cur = {}, None
for line in open(sys.argv[1]):
    m = re.match(r"(?i)FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line)
    if m:
        cur = m.group(2) or m.group(1)
        stages[cur] = {"from": m.group(1), "user": stages.get(m.group(1), {}).get("user")}
    m = re.match(r"(?i)USER\s+(\S+)", line)
    if m:
        stages[cur]["user"] = m.group(1)
assert len(stages) >= 2, stages
for name, st in stages.items():
    if name != "build":
        assert st["user"] not in (None, "root", "0"), f"stage {name} ends as {st['user']}"
PY

# Every COPY source exists and is not left out of the context by .dockerignore.
CHECKS=$((CHECKS + 1))
bad=$(awk '/^COPY / && !/--from/ { for (i = 2; i < NF; i++) print $i }' "$dockerfile" | while read -r p; do
    [ -e "$top/$p" ] || { echo "missing $p"; continue; }
    case "$p" in .git*|build*|obj-*) echo "ignored $p" ;; esac
done)
if [ -z "$bad" ]; then pass "Dockerfile copies existing, not ignored paths"; else fail "Dockerfile COPY: $bad"; fi

check "the agent configs the compose file names are in the image" bash -c \
    "grep -q '^COPY docker/agent /etc/zkdisc' '$dockerfile' && test -f '$top/docker/agent/web1.conf' && test -f '$top/docker/agent/web2.conf' && test -f '$top/docker/agent/lb.conf'"
check "the web example serves a real page and a health file" bash -c \
    "grep -qi '<html' '$top/docker/web/index.html' && test -s '$top/docker/web/health'"
check "lb starts HAProxy with its config and hands over to the agent" bash -c \
    "grep -q 'haproxy -W -D -f /etc/zkdisc/haproxy.cfg' '$top/docker/lb/start.sh' && grep -q '^exec zkdisc-agent -c /etc/zkdisc/lb.conf' '$top/docker/lb/start.sh'"
# Each agent config the image carries passes the agent's own check-config
# (when the agent is built), with the image's /var/lib/zkdisc (whose
# directories check-config wants writable) moved under $OUT.
agent=${ZKDISC_AGENT:-$(dirname "$ZKDISC")/../zkdisc-agent/zkdisc-agent}
if [ -x "$agent" ]; then
    mkdir -p "$OUT/varlib/haproxy"
    for conf in "$top"/docker/agent/*.conf; do
        name=$(basename "$conf" .conf)
        sed "s|/var/lib/zkdisc|$OUT/varlib|g" "$conf" >"$OUT/agent-$name.conf"
        expect_exit 0 "agent-check-$name" "$agent" check-config -c "$OUT/agent-$name.conf"
        expect_in "agent-check-$name" out ": ok ("
    done
fi
if command -v haproxy >/dev/null; then
    printf 'backend web\n' >"$OUT/web.cfg"
    sed "s|/var/lib/zkdisc/haproxy|$OUT|g" "$top/docker/lb/haproxy.cfg" >"$OUT/haproxy.cfg"
    expect_exit 0 haproxy-config-valid haproxy -c -f "$OUT/haproxy.cfg" -f "$OUT/web.cfg"
fi

# The image installs what CI installs: the build stage runs install-deps.sh,
# and the runtime stage has, for each -dev package it installs (the test
# framework aside), a runtime library that package depends on.
check "the build stage installs through tools/install-deps.sh" grep -q '^RUN /tmp/install-deps.sh' "$dockerfile"
runtime=$(awk '/^FROM .* AS zkdisc/ {on = 1; next} /^FROM / {on = 0} on' "$dockerfile" |
    tr ' \\' '\n\n' | grep -E '^lib[a-z0-9.+-]+$' | sort -u)
devs=$(sed -n '/^packages=(/,/^)/p' "$top/tools/install-deps.sh" | tr ' ' '\n' | grep -E -- '-dev$' | grep -v -e '^libcunit' -e '^libclang-rt')
for dev in $devs; do
    CHECKS=$((CHECKS + 1))
    libs=$(apt-cache depends --no-recommends --no-suggests "$dev" 2>/dev/null | sed -n 's/^ *Depends: \(lib[^ ]*\)$/\1/p' | grep -v -- '-dev$')
    hit=""
    for l in $libs; do grep -qx "$l" <<<"$runtime" && hit=$l; done
    if [ -n "$hit" ]; then pass "runtime image has $hit for $dev"; else
        fail "runtime stage lacks the library of $dev (one of: $(echo $libs))"; fi
done

if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
    expect_exit 0 compose-config docker compose -f "$top/docker/compose.yaml" config -q
fi
finish
