#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libzkdisc's folders are layers (DESIGN.md section 2): core, tree,
# discovery, config, each using only the ones before it. Every local
# #include "x.h" in a layer must name a header of that layer or a lower one.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
lib=$(cd "$here/../../libzkdisc" && pwd)
layers=(core tree discovery config)

# layer_of HEADER: the index of the layer that holds HEADER, or -1.
layer_of() {
    local i
    for i in "${!layers[@]}"; do
        [ -f "$lib/${layers[$i]}/$1" ] && { echo "$i"; return; }
    done
    echo -1
}

for i in "${!layers[@]}"; do
    layer=${layers[$i]}
    for src in "$lib/$layer"/*.[ch]; do
        [ -e "$src" ] || continue
        while read -r header; do
            CHECKS=$((CHECKS + 1))
            at=$(layer_of "$header")
            if [ "$at" -lt 0 ]; then
                fail "$layer/$(basename "$src") includes \"$header\", which no layer holds"
            elif [ "$at" -gt "$i" ]; then
                fail "$layer/$(basename "$src") includes ${layers[$at]}/$header, a higher layer"
            fi
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$src")
    done
done
pass "$CHECKS local includes checked against the layers"
CHECKS=$((CHECKS + 1))
loose=$(find "$lib" -maxdepth 1 -name '*.[ch]')
if [ -z "$loose" ]; then pass "no source outside a layer"; else fail "sources outside a layer: $loose"; fi
finish
