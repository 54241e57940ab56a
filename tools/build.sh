#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds zkdisc into a build directory (default ./build).
# Usage: tools/build.sh [BUILD_DIR] [extra cmake -D options...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
shift || true
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
