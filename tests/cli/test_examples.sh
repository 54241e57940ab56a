#!/usr/bin/env bash
# The examples build against an *installed* zkdisc (CMake package and
# pkg-config), the way a user would, and run against a harness server.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "${ZKH_SH:?ZKH_SH must name tests/harness/harness.sh}"
top=$(cd "$here/../.." && pwd)
build=$(dirname "$(dirname "$(dirname "$ZKDISC")")") # <build>/tools/zkdisc/zkdisc
prefix=$OUT/prefix

expect_exit 0 install cmake --install "$build" --prefix "$prefix"
check "headers installed" test -f "$prefix/include/zkdisc/zkdisc.h"
check "libzkdisc.so.0 installed" test -e "$prefix/lib/libzkdisc.so.0"
check "internal headers not installed" test ! -e "$prefix/include/zkdisc/session.h"
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

zkh_up 1 || { fail "harness did not start"; finish; exit 1; }
expect_exit 0 run-example env LD_LIBRARY_PATH="$prefix/lib" "$OUT/examples/hello_discovery" "$ZKDISC_ZK"
expect_in run-example out "picked 127.0.0.1:8080"
expect_exit 0 run-example-pc env LD_LIBRARY_PATH="$prefix/lib" "$OUT/hello_pc" "$ZKDISC_ZK"
zkh_down
finish
