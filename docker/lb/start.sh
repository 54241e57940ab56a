#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# zkdisc-lb: HAProxy (master-worker) and the zkdisc-agent that feeds it, in
# one container so the agent can reload HAProxy by signal. The agent's
# backend file starts empty (503 until the first instance is registered).
set -eu
dir=/var/lib/zkdisc/haproxy
mkdir -p "$dir"
[ -f "$dir/web.cfg" ] || printf 'backend web\n' >"$dir/web.cfg"
haproxy -W -D -f /etc/zkdisc/haproxy.cfg -f "$dir/web.cfg"
exec zkdisc-agent -c /etc/zkdisc/lb.conf
