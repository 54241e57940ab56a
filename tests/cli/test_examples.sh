#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The install works the way a user meets it: the examples build against an
# *installed* zkdisc (CMake package and pkg-config) and run against a harness
# server with no LD_LIBRARY_PATH; installed executables start; a /usr install
# on Debian's multiarch libdir (through DESTDIR) has a correct zkdisc.pc and
# no RUNPATH (the system linker path finds the library there).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
top=$(cd "$here/../.." && pwd)
build=$(dirname "$(dirname "$(dirname "$ZKDISC")")") # <build>/tools/zkdisc/zkdisc
prefix=$OUT/prefix

runpath() { readelf -d "$1" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p'; }

# --- the default layout, installed under a prefix of our own -----------------
expect_exit 0 install cmake --install "$build" --prefix "$prefix"
check "headers installed" test -f "$prefix/include/zkdisc/zkdisc.h"
check "libzkdisc.so.0 installed" test -e "$prefix/lib/libzkdisc.so.0"
check "internal headers not installed" test ! -e "$prefix/include/zkdisc/session.h"
check "zkdisc-bench not installed unless asked" test ! -e "$prefix/bin/zkdisc-bench"
check "man pages installed" test -f "$prefix/share/man/man1/zkdisc.1" -a -f "$prefix/share/man/man8/zkdisc-agent.8" \
    -a -f "$prefix/share/man/man5/zkdisc-agent.conf.5"
check "zkdisc(1) has a section per command" bash -c "for c in ls tree rm export config help completion; do \
    man -l '$prefix/share/man/man1/zkdisc.1' 2>/dev/null | grep -q \"^   \$c\" || exit 1; done"
check "completion scripts installed" test -f "$prefix/share/bash-completion/completions/zkdisc" \
    -a -f "$prefix/share/zsh/vendor-completions/_zkdisc"
CHECKS=$((CHECKS + 1))
rp=$(runpath "$prefix/bin/zkdisc")
if [ "$rp" = '$ORIGIN/../lib' ]; then pass "zkdisc RUNPATH is \$ORIGIN/../lib"; else fail "zkdisc RUNPATH: '$rp'"; fi
expect_exit 0 installed-version env -u LD_LIBRARY_PATH "$prefix/bin/zkdisc" --version
expect_in installed-version out "zkdisc "
expect_exit 0 installed-agent-version env -u LD_LIBRARY_PATH "$prefix/bin/zkdisc-agent" --version
check "the agent's systemd unit installed" test -f "$prefix/lib/systemd/system/zkdisc-agent.service"
# The unit follows the prefix given to `cmake --install`, not the configured
# one; examples and the unit's user are installed, nothing in etc/.
check "the unit's ExecStart follows the install prefix" \
    grep -qx "ExecStart=$prefix/bin/zkdisc-agent -c /etc/zkdisc/agent.conf" "$prefix/lib/systemd/system/zkdisc-agent.service"
check "agent examples in share/doc/zkdisc/examples" \
    test -f "$prefix/share/doc/zkdisc/examples/agent.conf" -a -f "$prefix/share/doc/zkdisc/examples/agent-consumers.conf"
check "the zkdisc user in sysusers.d" grep -q '^u zkdisc ' "$prefix/lib/sysusers.d/zkdisc.conf"
check "nothing installed in etc/" test ! -e "$prefix/etc"
# The tree still works after it is moved: the runtime path is relative.
cp -a "$prefix" "$OUT/moved"
expect_exit 0 moved-version env -u LD_LIBRARY_PATH "$OUT/moved/bin/zkdisc" version

expect_exit 0 configure-examples cmake -S "$top/examples" -B "$OUT/examples" -DCMAKE_PREFIX_PATH="$prefix"
expect_exit 0 build-examples cmake --build "$OUT/examples"
expect_exit 0 pkg-config env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs zkdisc
expect_in pkg-config out "-lzkdisc"
expect_exit 0 cc-with-pkg-config sh -c "cc -o '$OUT/hello_pc' '$top/examples/hello_discovery.c' \
    \$(PKG_CONFIG_PATH='$prefix/lib/pkgconfig' pkg-config --cflags --libs zkdisc) -lpthread"

# Only the zkd_ API leaves the shared library.
CHECKS=$((CHECKS + 1))
leaked=$(nm -D --defined-only "$prefix/lib/libzkdisc.so.0" | awk '{print $3}' | grep -v '^zkd_' | grep -v '^_' || true)
if [ -z "$leaked" ]; then pass "only zkd_ symbols exported"; else fail "exported non-API symbols: $leaked"; fi
CHECKS=$((CHECKS + 1))
if nm -D --defined-only "$prefix/lib/libzkdisc.so.0" | grep -q ' zkd__'; then fail "internal zkd__ symbols exported"; else pass "no zkd__ internals exported"; fi

# --- /usr on the multiarch libdir, staged with DESTDIR ------------------------
multiarch=$(gcc -print-multiarch)
usrbuild=$OUT/build-usr
root=$OUT/root
expect_exit 0 configure-usr cmake -S "$top" -B "$usrbuild" -DCMAKE_INSTALL_PREFIX=/usr -DZKDISC_TESTS=OFF
targets=(zkdisc zkdisc_static zkdisc-cli zkdisc-agent completion)
command -v scdoc >/dev/null && targets+=(man)
expect_exit 0 build-usr cmake --build "$usrbuild" -j2 --target "${targets[@]}"
expect_exit 0 install-usr env DESTDIR="$root" cmake --install "$usrbuild"
libdir=$root/usr/lib/$multiarch
check "library in the multiarch libdir" test -e "$libdir/libzkdisc.so.0"
check "the /usr unit's ExecStart is /usr/bin, without DESTDIR" \
    grep -qx "ExecStart=/usr/bin/zkdisc-agent -c /etc/zkdisc/agent.conf" "$root/usr/lib/systemd/system/zkdisc-agent.service"
check "zkdisc.pc in the multiarch libdir" test -f "$libdir/pkgconfig/zkdisc.pc"
CHECKS=$((CHECKS + 1))
rp=$(runpath "$root/usr/bin/zkdisc")
if [ -z "$rp" ]; then pass "no RUNPATH under /usr"; else fail "RUNPATH under /usr: '$rp'"; fi
expect_exit 0 usr-pc-cflags env PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_SYSTEM_INCLUDE_PATH= \
    pkg-config --cflags zkdisc
CHECKS=$((CHECKS + 1))
inc=$(sed -n 's/^-I\([^ ]*\).*/\1/p' "$OUT/usr-pc-cflags.out")
if [ -f "$inc/zkdisc/zkdisc.h" ] && [ "$(realpath "$inc")" = "$(realpath "$root/usr/include")" ]; then
    pass "pkg-config --cflags points at <root>/usr/include ($inc)"
else fail "pkg-config --cflags points at '$inc', not $root/usr/include"; fi
expect_exit 0 usr-pc-libs env PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_SYSTEM_LIBRARY_PATH= \
    pkg-config --libs zkdisc
CHECKS=$((CHECKS + 1))
lib=$(sed -n 's/^-L\([^ ]*\).*/\1/p' "$OUT/usr-pc-libs.out")
if [ -e "$lib/libzkdisc.so" ]; then pass "pkg-config --libs points at the libdir"; else
    fail "pkg-config --libs: $(cat "$OUT/usr-pc-libs.out")"; fi
expect_exit 0 cc-usr sh -c "cc -o '$OUT/hello_usr' '$top/examples/hello_discovery.c' \
    \$(PKG_CONFIG_PATH='$libdir/pkgconfig' pkg-config --cflags --libs zkdisc) -lpthread"
expect_exit 0 usr-version env LD_LIBRARY_PATH="$libdir" "$root/usr/bin/zkdisc" --version

# --- the programs run against a server, no LD_LIBRARY_PATH --------------------
zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
expect_exit 0 run-example env -u LD_LIBRARY_PATH "$OUT/examples/hello_discovery" "$ZKDISC_ZK"
expect_in run-example out "picked 127.0.0.1:8080"
expect_exit 0 run-example-pc env -u LD_LIBRARY_PATH "$OUT/hello_pc" "$ZKDISC_ZK"
expect_exit 0 run-installed-cli env -u LD_LIBRARY_PATH "$prefix/bin/zkdisc" --zk "$ZKDISC_ZK" ls /
expect_in run-installed-cli out "zookeeper"
expect_exit 0 run-example-usr env LD_LIBRARY_PATH="$libdir" "$OUT/hello_usr" "$ZKDISC_ZK"
zkh_down
finish
