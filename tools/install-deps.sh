#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what zkdisc needs to build, run and test on Debian 12: the
# compiler and CMake, the ZooKeeper C client, jansson, libconfig, CUnit, and
# the ZooKeeper server (Java) that `zkdisc dev` and the test harness start;
# for zkdisc-agent libevent, libcurl and libsystemd; the real peers the
# tests drive (Curator, kazoo, HAProxy, nginx, dig, Prometheus); clang for
# the fuzz targets; scdoc for the man pages, zsh to check its completion.
# Does nothing when everything is already installed.
set -euo pipefail

packages=(
    build-essential cmake pkg-config binutils
    libzookeeper-mt-dev libjansson-dev libconfig-dev libcunit1-dev
    zookeeper default-jre-headless
    python3 python3-yaml procps netcat-openbsd tmux
    # cli_interop's real peers (Curator 5.4 compiled with javac, kazoo) and
    # the fuzz targets (libFuzzer)
    default-jdk-headless libcurator-discovery-java libcurator-recipes-java python3-kazoo
    clang libclang-rt-14-dev
    # zkdisc-agent's consumer side (issue 10): its loop and DNS wire format,
    # and the real HAProxy, nginx, dig and curl its tests drive
    libevent-dev haproxy nginx-light dnsutils curl
    scdoc zsh
    libedit-dev # zkdisc shell: line editing, history, completion
    jq # cli_commands, cli_shell: JSON checks that start quickly
    # zkdisc-agent: libcurl (http checks, webhooks), libsystemd (sd_notify);
    # prometheus for promtool and a real scrape in its tests
    libcurl4-openssl-dev libsystemd-dev prometheus
    dnsperf dnsmasq-base # tests/agent_consumers/bench.sh, bench_dns.sh (dnsmasq: the baseline)
    chromium # cli_agent_api: a real page's fetch against the agent's API (skipped without it)
    chromium-driver python3-selenium # cli_ui: the console driven in a real headless Chromium
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
