#!/usr/bin/env bash
# Installs what zkdisc needs to build, run and test on Debian 12: the
# compiler and CMake, the ZooKeeper C client, jansson, libconfig, CUnit, and
# the ZooKeeper server (Java) that `zkdisc dev` and the test harness start;
# for zkdisc-agent's consumers, libevent and ldns, and HAProxy, nginx, dig.
# Does nothing when everything is already installed.
set -euo pipefail

packages=(
    build-essential cmake pkg-config binutils
    libzookeeper-mt-dev libjansson-dev libconfig-dev libcunit1-dev
    zookeeper default-jre-headless
    python3 python3-yaml procps netcat-openbsd tmux
    # zkdisc-agent's consumer side (issue 10): its loop and DNS wire format,
    # and the real HAProxy, nginx, dig and curl its tests drive
    libevent-dev libldns-dev haproxy nginx-light dnsutils curl
    dnsperf # tests/agent_consumers/bench.sh
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
