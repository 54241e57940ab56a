#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What can be checked of docker/ without a Docker engine: the compose file
# parses and describes the set-up the README promises (3 ZooKeeper nodes, two
# web instances each with its own agent sidecar, HAProxy fed by an agent, a
# watcher), every container has a healthcheck and a restart policy, every
# build target exists; images are pinned to exact versions; ZooKeeper's data
# and each agent's state_dir are named volumes; ZooKeeper's healthcheck is
# `ruok` over its port (run here against a real ZooKeeper), no JVM; the
# Dockerfile is multi-stage, runs as a non-root user with a HEALTHCHECK in
# each runtime stage and HAProxy under tini, copies only paths that exist and
# that .dockerignore lets through; its build stage installs through
# tools/install-deps.sh and its runtime stage carries the runtime library of
# every -dev package that script installs. With a Docker engine, `docker
# compose config` checks the file too.
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

check "images pinned, restart policies, named volumes for ZooKeeper and the agents' state" \
    python3 - "$top/docker/compose.yaml" "$dockerfile" "$top/docker/agent" <<'PY'
import glob, re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc, vols = doc["services"], doc.get("volumes") or {}
def pinned(ref):
    """An exact version: a Debian point release (12.11, 12.11-slim), else
    MAJOR.MINOR.PATCH; or a digest."""
    if "@sha256:" in ref:
        return True
    name, _, tag = ref.rpartition(":")
    if name.split("/")[-1] == "debian":
        return re.fullmatch(r"\d+\.\d+(-slim)?", tag) is not None
    return re.fullmatch(r"\d+\.\d+\.\d+([-.][\w.-]+)?", tag) is not None
for name, s in svc.items():
    if "build" not in s:
        assert pinned(s["image"]), f"{name}: image {s['image']} is not an exact version"
    assert s.get("restart") in ("always", "unless-stopped", "on-failure"), f"{name}: restart {s.get('restart')}"
    for v in s.get("volumes", []):
        src = v.split(":")[0]
        assert src in vols, f"{name}: volume {src} is not a named volume"
def mounts(name):
    return {v.split(":")[1]: v.split(":")[0] for v in svc[name].get("volumes", [])}
for i in (1, 2, 3):
    assert {"/data", "/datalog"} <= set(mounts(f"zk{i}")), f"zk{i}: {mounts(f'zk{i}')}"
state_dirs = set()
for conf in glob.glob(sys.argv[3] + "/*.conf"):
    state_dirs |= set(re.findall(r'state_dir\s*=\s*"([^"]+)"', open(conf).read()))
assert len(state_dirs) == 1, state_dirs
state_dir = state_dirs.pop()
for name in ("web1-agent", "web2-agent", "lb"):
    assert state_dir in mounts(name), f"{name}: no volume at the agent's state_dir {state_dir}"
assert len({mounts(n)[state_dir] for n in ("web1-agent", "web2-agent", "lb")}) == 3, "agents share a state volume"
for ref in re.findall(r"(?im)^FROM\s+(\S+)", open(sys.argv[2]).read()):
    stages = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", open(sys.argv[2]).read())
    assert ref in stages or pinned(ref), f"Dockerfile: FROM {ref} is not an exact version"
zk = svc["zk1"]
assert "ruok" in zk["environment"]["ZOO_4LW_COMMANDS_WHITELIST"].split(","), "ruok is not whitelisted"
test = " ".join(zk["healthcheck"]["test"])
assert "ruok" in test and "imok" in test and not re.search(r"zkServer|java|zkCli", test), test
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

check "each runtime stage has a HEALTHCHECK; HAProxy runs under tini" python3 - "$dockerfile" <<'PY'
import re, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())  # continued lines joined
parts = re.split(r"(?im)^FROM\s+\S+\s+AS\s+(\S+).*$", text)
stages = dict(zip(parts[1::2], parts[2::2]))
for name, body in stages.items():
    if name != "build":
        assert re.search(r"(?m)^HEALTHCHECK\s.*\bCMD\b", body), f"stage {name} has no HEALTHCHECK"
lb = stages["lb"]
assert re.search(r"install .*\btini\b", lb) and re.search(r'(?m)^ENTRYPOINT \["tini", "--"', lb), "lb: not under tini"
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
# One apt-cache call for all of them (each call reads the whole cache).
apt-cache depends --no-recommends --no-suggests $devs >"$OUT/depends" 2>/dev/null
for dev in $devs; do
    CHECKS=$((CHECKS + 1))
    libs=$(awk -v p="$dev" '/^[^ ]/ {on = ($1 == p)} on' "$OUT/depends" | sed -n 's/^ *Depends: \(lib[^ ]*\)$/\1/p' | grep -v -- '-dev$')
    hit=""
    for l in $libs; do grep -qx "$l" <<<"$runtime" && hit=$l; done
    if [ -n "$hit" ]; then pass "runtime image has $hit for $dev"; else
        fail "runtime stage lacks the library of $dev (one of: $(echo $libs))"; fi
done

# ZooKeeper's healthcheck, as compose runs it ($$ is compose's escape for $),
# says healthy to a real ZooKeeper and unhealthy to a closed port.
if [ -n "${ZKH_SH:-}" ] && command -v bash >/dev/null; then
    python3 - "$top/docker/compose.yaml" >"$OUT/zk-health.sh" <<'PY'
import sys, yaml
test = yaml.safe_load(open(sys.argv[1]))["services"]["zk1"]["healthcheck"]["test"]
assert test[:3] == ["CMD", "bash", "-c"], test
print(test[3].replace("$$", "$"))
PY
    . "$ZKH_SH"
    if zkh_up 1 >"$OUT/zkh.log" 2>&1; then
        trap 'zkh_down >/dev/null 2>&1; rm -rf "$OUT"' EXIT   # zkh_up took lib.sh's trap
        port=$(zkh_port 0)
        sed "s|/dev/tcp/127.0.0.1/2181|/dev/tcp/127.0.0.1/$port|" "$OUT/zk-health.sh" >"$OUT/zk-health-up.sh"
        expect_exit 0 zk-healthcheck-imok timeout 10 bash "$OUT/zk-health-up.sh"
        zkh_down >/dev/null 2>&1
        expect_exit 1 zk-healthcheck-down timeout 10 bash "$OUT/zk-health-up.sh"
    else
        CHECKS=$((CHECKS + 1)); fail "no ZooKeeper for the healthcheck: $(tail -3 "$OUT/zkh.log")"
    fi
    trap 'rm -rf "$OUT"' EXIT   # zkh_down dropped it
fi

if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
    expect_exit 0 compose-config docker compose -f "$top/docker/compose.yaml" config -q
fi
finish
