#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's second command: installs what is missing, builds zkdisc with
# its tests, and runs every suite with CTest (each suite starts and stops its
# own ZooKeeper servers on loopback ports).
#   --sanitize   build with ASan+UBSan into build-asan and run there
#   --tsan       build with ThreadSanitizer into build-tsan and run there
#   extra arguments go to ctest (e.g. -R session)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
cmake_args=()
case "${1:-}" in
    --sanitize)
        shift
        build=$top/build-asan
        cmake_args=(-DZKDISC_SANITIZE=ON)
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
        sanitized=1
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        ;;
    --tsan)
        shift
        build=$top/build-tsan
        cmake_args=(-DZKDISC_TSAN=ON)
        export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1}
        sanitized=1
        ;;
esac
# The scale suites prove that recovery and close work at a size that shows
# the shape (20,000 instances, 20,000 open/close cycles); the benchmark's
# scale group carries the big sizes and asserts the growth. Set
# ZKD_CACHE_SCALE_N=100000 to run the suite at full size.
export ZKD_CACHE_SCALE_N=${ZKD_CACHE_SCALE_N:-20000}
export ZKD_WATCH_CYCLES=${ZKD_WATCH_CYCLES:-20000}
# Three suites at a time: each starts its own ZooKeeper on ports of its own
# choosing and waits on conditions with deadlines, so they share two cores;
# most of a suite's time is spent waiting on servers and peers, not computing.
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-3}
"$top/tools/install-deps.sh"
"$top/tools/build.sh" "$build" -DZKDISC_WERROR=ON "${cmake_args[@]}"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
