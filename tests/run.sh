#!/usr/bin/env bash
# The newcomer's second command: installs what is missing, builds zkdisc with
# its tests, and runs every suite with CTest (each suite starts and stops its
# own ZooKeeper servers on loopback ports).
#   --sanitize   build with ASan+UBSan into build-asan and run there
#   extra arguments go to ctest (e.g. -R session)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
cmake_args=()
if [ "${1:-}" = "--sanitize" ]; then
    shift
    build=$top/build-asan
    cmake_args=(-DZKDISC_SANITIZE=ON)
fi
"$top/tools/install-deps.sh"
"$top/tools/build.sh" "$build" -DZKDISC_WERROR=ON "${cmake_args[@]}"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
