#!/usr/bin/env bash
# CI: build the Debian packages (zkdisc, libzkdisc0, libzkdisc-dev) from this
# checkout with `dpkg-buildpackage -us -uc -b`, check them with lintian
# (errors and warnings fail; the documented overrides live in debian/),
# install them on this machine, run the installed `zkdisc --version`, and
# build examples/ against the installed -dev package (CMake package and
# pkg-config) the way a user would.
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
(cd "$src" && dpkg-buildpackage -us -uc -b)
ls -l "$work"/*.deb

echo "debian: lintian"
lintian --fail-on error,warning --info --display-info "$work"/*.changes

echo "debian: installing"
apt_install "$work"/zkdisc_*.deb "$work"/libzkdisc0_*.deb "$work"/libzkdisc-dev_*.deb
trap '[ $keep = 1 ] || "${sudo[@]}" apt-get purge -y zkdisc libzkdisc-dev libzkdisc0 >/dev/null; rm -rf "$work"' EXIT

zkdisc --version
test "$(command -v zkdisc)" = /usr/bin/zkdisc
man -w zkdisc >/dev/null && man -w zkdisc-agent.conf >/dev/null
test -f /usr/share/bash-completion/completions/zkdisc
test -f /usr/share/zsh/vendor-completions/_zkdisc
# The agent: binary, systemd unit (skipped until /etc/zkdisc/agent.conf
# exists), the example config (a conffile) that it accepts.
zkdisc-agent --version
test "$(command -v zkdisc-agent)" = /usr/bin/zkdisc-agent
test -f /usr/lib/systemd/system/zkdisc-agent.service
grep -q '^ExecStart=/usr/bin/zkdisc-agent' /usr/lib/systemd/system/zkdisc-agent.service
grep -q '^ConditionPathExists=/etc/zkdisc/agent.conf' /usr/lib/systemd/system/zkdisc-agent.service
dpkg-query -W -f='${Conffiles}\n' zkdisc | grep -q ' /etc/zkdisc/agent.conf.example '
zkdisc-agent check-config -c /etc/zkdisc/agent.conf.example

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
echo "debian: packages built, lintian-clean, installed and used"
