#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An exec check whose exit status the test sets: exitcode.sh FILE
# prints a line and exits with the number in FILE.
code=$(cat "$1" 2>/dev/null || echo 3)
echo "exitcode.sh: exiting $code"
exit "$code"
