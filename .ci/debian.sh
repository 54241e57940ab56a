#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI: build the Debian packages (zkdisc, libzkdisc0, libzkdisc-dev) from this
# checkout with `dpkg-buildpackage -us -uc -b`, check them with lintian
# (errors and warnings fail; the documented overrides live in debian/),
# check the zkdisc package's service (maintainer scripts that enable, restart
# on upgrade and stop on remove zkdisc-agent.service; the unit's hardening
# and its `systemd-analyze security` score; the zkdisc user; the examples),
# install them on this machine, run the installed `zkdisc --version` and the
# agent as the zkdisc user, and build examples/ against the installed -dev
# package (CMake package and pkg-config) the way a user would.
# piuparts is not run: it needs a Debian mirror to build its chroot.
#   .ci/debian.sh          build, check, install, test, then remove the packages
#   .ci/debian.sh --keep   leave the packages installed
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = --keep ] && keep=1
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
apt_install() { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zkdisc-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version 2>/dev/null ||
          sed -n '1s/.*(\(.*\)).*/\1/p' "$top/debian/changelog")
src=$work/zkdisc-$version

# The tracked and new (not ignored) files only: no build trees, no .git.
mkdir -p "$src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
    tar --null -T - -cf -) | tar -xf - -C "$src"

apt_install dpkg-dev lintian build-essential
"${sudo[@]}" apt-get build-dep -y "$src"

echo "debian: building in $src"
(cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}" dpkg-buildpackage -us -uc -b)
ls -l "$work"/*.deb

echo "debian: lintian"
lintian --fail-on error,warning --info --display-info "$work"/*.changes

# --- the zkdisc package as built: maintainer scripts, unit, files -----------
fail() { echo "debian: $*" >&2; exit 1; }
deb=$(ls "$work"/zkdisc_*.deb)
dpkg-deb -e "$deb" "$work/control"
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/files"
has() { grep -q -- "$2" "$work/control/$1" || fail "$1 lacks: $2"; }
# dh_installsysusers, then dh_installsystemd: the user exists before a start.
has postinst 'systemd-sysusers.* zkdisc.conf'
has postinst "deb-systemd-helper unmask 'zkdisc-agent.service'"
has postinst "deb-systemd-helper enable 'zkdisc-agent.service'"
has postinst "deb-systemd-invoke \$_dh_action 'zkdisc-agent.service'"   # start, or restart on upgrade
has postinst '_dh_action=restart'
[ "$(grep -n systemd-sysusers "$work/control/postinst" | cut -d: -f1 | head -1)" -lt \
  "$(grep -n 'deb-systemd-invoke' "$work/control/postinst" | cut -d: -f1 | head -1)" ] ||
    fail "postinst starts the agent before it makes its user"
has prerm '"$1" = remove'
has prerm "deb-systemd-invoke stop 'zkdisc-agent.service'"
has postrm "deb-systemd-helper purge 'zkdisc-agent.service'"
[ ! -e "$work/control/conffiles" ] || fail "conffiles: $(cat "$work/control/conffiles")"
for f in /lib/systemd/system/zkdisc-agent.service /usr/lib/sysusers.d/zkdisc.conf \
         /usr/share/doc/zkdisc/examples/agent.conf /usr/share/doc/zkdisc/examples/agent-consumers.conf \
         /usr/share/doc/zkdisc/copyright /usr/share/man/man8/zkdisc-agent.8.gz /usr/share/man/man5/zkdisc-agent.conf.5.gz; do
    grep -qx "$f" "$work/files" || fail "the package lacks $f"
done
! grep -q '^/etc/' "$work/files" || fail "the package ships in /etc: $(grep '^/etc/' "$work/files" | tr '\n' ' ')"
grep -qx 'u zkdisc - "zkdisc-agent" /var/lib/zkdisc-agent' "$work/root/usr/lib/sysusers.d/zkdisc.conf" ||
    fail "sysusers: $(cat "$work/root/usr/lib/sysusers.d/zkdisc.conf")"
grep -q 'Apache License, Version 2.0' "$work/root/usr/share/doc/zkdisc/copyright" || fail "copyright: not Apache-2.0"
unit=$work/root/lib/systemd/system/zkdisc-agent.service
for line in 'ExecStart=/usr/bin/zkdisc-agent -c /etc/zkdisc/agent.conf' \
            'ConditionPathExists=/etc/zkdisc/agent.conf' \
            'Documentation=man:zkdisc-agent(8) man:zkdisc-agent.conf(5)' \
            'User=zkdisc' 'StateDirectory=zkdisc-agent' 'RuntimeDirectory=zkdisc' \
            'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=' \
            'WantedBy=multi-user.target'; do
    grep -qxF -- "$line" "$unit" || fail "the unit lacks the line $line"
done
systemd-analyze security --offline=yes --threshold=40 "$unit" >"$work/security" ||
    fail "systemd-analyze security: $(tail -1 "$work/security")"
echo "debian: unit $(tail -1 "$work/security")"
# The agent's default state_dir is the unit's StateDirectory.
grep -qa '/var/lib/zkdisc-agent' "$work/root/usr/bin/zkdisc-agent" || fail "zkdisc-agent has no default state_dir"

echo "debian: installing"
apt_install "$work"/zkdisc_*.deb "$work"/libzkdisc0_*.deb "$work"/libzkdisc-dev_*.deb
trap '[ $keep = 1 ] || "${sudo[@]}" apt-get purge -y zkdisc libzkdisc-dev libzkdisc0 >/dev/null; rm -rf "$work"' EXIT

zkdisc --version
test "$(command -v zkdisc)" = /usr/bin/zkdisc
man -w zkdisc >/dev/null && man -w zkdisc-agent.conf >/dev/null
test -f /usr/share/bash-completion/completions/zkdisc
test -f /usr/share/zsh/vendor-completions/_zkdisc
# The agent: binary, the unit, enabled (systemctl reads the unit files; no
# systemd need run), its user, and the agent running as that user with a
# configuration that names no state_dir.
zkdisc-agent --version
test "$(command -v zkdisc-agent)" = /usr/bin/zkdisc-agent
test -f /lib/systemd/system/zkdisc-agent.service
[ "$(systemctl is-enabled zkdisc-agent.service)" = enabled ] || fail "zkdisc-agent.service is not enabled"
test -L /etc/systemd/system/multi-user.target.wants/zkdisc-agent.service
# The unit as systemd reads it: its commands exist, its Documentation= man
# pages are installed.
systemd-analyze verify /lib/systemd/system/zkdisc-agent.service
getent passwd zkdisc | grep -q ':/var/lib/zkdisc-agent:/usr/sbin/nologin$' || fail "user: $(getent passwd zkdisc)"
zkdisc-agent check-config -c /usr/share/doc/zkdisc/examples/agent.conf
# As the unit runs it (StateDirectory= and RuntimeDirectory= made, owned by
# zkdisc): the token and state land in /var/lib/zkdisc-agent although the
# configuration names no state_dir, a json output in /run/zkdisc passes
# check-config, the API answers, `status` finds it, SIGTERM stops it cleanly.
made=()
for d in /var/lib/zkdisc-agent:0700 /run/zkdisc:0755; do
    [ -e "${d%:*}" ] || made+=("${d%:*}")
    "${sudo[@]}" install -d -o zkdisc -g zkdisc -m "${d#*:}" "${d%:*}"
done
agent_pid=
stop_agent() {   # from the EXIT trap too: nothing in it may fail
    [ -z "$agent_pid" ] || { kill "$agent_pid" && wait "$agent_pid"; } 2>/dev/null || true
    agent_pid=
    [ ${#made[@]} = 0 ] || "${sudo[@]}" rm -rf "${made[@]}"
}
trap 'stop_agent; [ $keep = 1 ] || "${sudo[@]}" apt-get purge -y zkdisc libzkdisc-dev libzkdisc0 >/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chmod 0755 "$work"
printf '%s\n' 'zookeeper = { connect = "127.0.0.1:1"; };' "agent = { api = \"127.0.0.1:$port\"; };" \
    'watch = ( { service = "web"; outputs = ( { type = "json"; path = "/run/zkdisc/web.json"; } ); } );' \
    >"$work/agent.conf"
chmod 0644 "$work/agent.conf"
as_zkdisc=(setpriv --reuid=zkdisc --regid=zkdisc --init-groups)   # execs: the agent gets the signals
"${sudo[@]}" "${as_zkdisc[@]}" zkdisc-agent check-config -c "$work/agent.conf"
"${sudo[@]}" "${as_zkdisc[@]}" zkdisc-agent -c "$work/agent.conf" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/v1/agent" >/dev/null && break
    kill -0 "$agent_pid" 2>/dev/null || fail "the agent stopped: $(cat "$work/agent.log")"
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port/v1/agent" >/dev/null || fail "the agent's API does not answer: $(cat "$work/agent.log")"
[ "$("${sudo[@]}" stat -c %U:%a /var/lib/zkdisc-agent/api.token)" = zkdisc:600 ] || fail "no api.token of zkdisc's in /var/lib/zkdisc-agent"
"${sudo[@]}" zkdisc-agent status -c "$work/agent.conf" >/dev/null
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "SIGTERM: the agent exited $?: $(cat "$work/agent.log")"
agent_pid=
grep -q 'INFO stopped' "$work/agent.log" || fail "the agent did not stop cleanly: $(cat "$work/agent.log")"

echo "debian: building examples/ against libzkdisc-dev"
cmake -S "$top/examples" -B "$work/examples" >/dev/null
cmake --build "$work/examples"
cc -o "$work/hello_pc" "$top/examples/hello_discovery.c" $(pkg-config --cflags --libs zkdisc) -lpthread
# Both find the library through the system paths: no RUNPATH, no LD_LIBRARY_PATH.
for exe in "$work/examples/hello_discovery" "$work/hello_pc" /usr/bin/zkdisc /usr/bin/zkdisc-agent; do
    ! readelf -d "$exe" | grep -q RUNPATH || { echo "debian: $exe has a RUNPATH" >&2; exit 1; }
    ldd "$exe" | grep -Eq "libzkdisc.so.0 => (/usr)?/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/" ||
        { echo "debian: $exe does not find the packaged libzkdisc.so.0: $(ldd "$exe" | grep zkdisc)" >&2; exit 1; }
done
if [ $keep = 0 ]; then
    stop_agent
    made=()
    "${sudo[@]}" apt-get purge -y zkdisc libzkdisc-dev libzkdisc0 >/dev/null
    trap 'rm -rf "$work"' EXIT
    [ ! -e /etc/systemd/system/multi-user.target.wants/zkdisc-agent.service ] || fail "purged, the agent is still enabled"
    [ ! -e /lib/systemd/system/zkdisc-agent.service ] || fail "purged, the unit is still there"
fi
echo "debian: packages built, lintian-clean, installed and used"
