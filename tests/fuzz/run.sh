#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets with clang under ASan+UBSan and runs each for
# SECONDS (default 60) from a copy of its seed corpus. Exits non-zero with
# the reproducer's path when a target crashes, leaks or finds a round-trip
# failure; such an input becomes a regression test (tests/test_codec.c or
# tests/test_config_convert.c) before the fix lands.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     targets: record config dns mustache
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(record config dns mustache)
out=${ZKDISC_FUZZ_DIR:-$top/build-fuzz}
mkdir -p "$out/obj"

san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
inc=(-I"$top/include")
for d in "$top"/libzkdisc/*/; do inc+=(-I"$d"); done
libs=(-lzookeeper_mt -ljansson -lconfig -lpthread)

# The library, instrumented for coverage (fuzzer-no-link) and the sanitizers.
objs=()
for src in "$top"/libzkdisc/*/*.c; do
    o="$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o"
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ]; then
        clang -std=c11 -g -O1 -D_GNU_SOURCE -DTHREADED -DZKD_BUILDING -fsanitize=fuzzer-no-link \
            "${san[@]}" "${inc[@]}" -c "$src" -o "$o"
    fi
    objs+=("$o")
done

status=0
for t in "${targets[@]}"; do
    clang -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer "${san[@]}" "${inc[@]}" \
        "$top/tests/fuzz/fuzz_$t.c" "${objs[@]}" "${libs[@]}" -o "$out/fuzz_$t"
    work="$out/corpus-$t"
    mkdir -p "$work" "$out/crashes-$t"
    cp -n "$top/tests/fuzz/corpus/$t/"* "$work/" 2>/dev/null || true
    echo "fuzz: $t for ${seconds}s"
    if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$top/tests/fuzz/lsan.supp UBSAN_OPTIONS=print_stacktrace=1 \
        "$out/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=70000 \
        -artifact_prefix="$out/crashes-$t/" -print_final_stats=1 "$work" \
        >"$out/fuzz_$t.log" 2>&1; then
        echo "fuzz: $t FAILED; log $out/fuzz_$t.log; inputs in $out/crashes-$t/" >&2
        tail -40 "$out/fuzz_$t.log" >&2
        status=1
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$out/fuzz_$t.log" | tail -2 || true
    fi
done
exit $status
