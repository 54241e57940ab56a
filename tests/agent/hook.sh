#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An exec alert hook for the tests: hook.sh FILE appends "EVENT SUBJECT"
# (from the ZKDISC_* environment) to FILE and the JSON on stdin to FILE.json.
printf '%s %s\n' "$ZKDISC_EVENT" "$ZKDISC_SUBJECT" >>"$1"
cat >>"$1.json"
echo >>"$1.json"
