#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks JSON documents against the one shape zkdisc(1) describes under
JSON OUTPUT. Usage: json_shape.py [--error] [--lines] FILE...
  --error  each file is an error object (what -o json prints on stderr)
  --lines  each line of each file is a document (watch streams)
Prints one line per problem and exits 1 when there is any."""
import json
import re
import sys

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*")
# Values that are someone's data, not zkdisc's words: not checked inside.
USER_DATA = {"document", "payload", "data", "value", "metadata"}
# Curator's record keeps its own field names.
CURATOR = {"registrationTimeUTC"}
TIME_KEYS = {"time", "ctime", "mtime", "registrationTime", "lastRun", "lastChange", "started",
             "updated"}
EVENTS = {"added", "removed", "changed", "children", "skipped", "watching", "session"}

problems = []


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def walk(v, where):
    if isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, f"{where}[{i}]")
        return
    if not isinstance(v, dict):
        return
    if "action" in v and not isinstance(v.get("changed"), bool):
        bad(where, "a change without a boolean \"changed\"")
    if "event" in v and "app" not in v and "subject" not in v:
        if v["event"] not in EVENTS:
            bad(where, f"event {v['event']!r} is not one of {sorted(EVENTS)}")
    for k, x in v.items():
        at = f"{where}.{k}"
        if k not in CURATOR and not CAMEL.fullmatch(k):
            bad(at, "key is not camelCase")
        if k.endswith("Ms") and not (x is None or isinstance(x, (int, float))):
            bad(at, "a ...Ms key whose value is not a number")
        if isinstance(x, float) and k.endswith("Ms") and round(x, 3) != x:
            bad(at, f"{x} has more than 3 decimals")
        if k in TIME_KEYS and x not in (None, "") and not (isinstance(x, str) and RFC3339.fullmatch(x)):
            bad(at, f"time {x!r} is not RFC 3339 UTC with milliseconds")
        if k not in USER_DATA:
            walk(x, at)


def main(argv):
    error = "--error" in argv
    lines = "--lines" in argv
    files = [a for a in argv if not a.startswith("--")]
    for f in files:
        text = open(f, encoding="utf-8").read()
        docs = [l for l in text.splitlines() if l.strip()] if lines else [text]
        if not docs:
            bad(f, "no JSON at all")
        for n, d in enumerate(docs):
            where = f"{f}:{n + 1}" if lines else f
            try:
                v = json.loads(d)
            except ValueError as e:
                bad(where, f"not JSON: {e}")
                continue
            if error:
                if not (isinstance(v, dict) and isinstance(v.get("error"), str)
                        and isinstance(v.get("exitCode"), int) and isinstance(v.get("command"), str)):
                    bad(where, "not an error object {error, command, exitCode}")
            if lines and isinstance(v, dict) and "event" in v and not RFC3339.fullmatch(v.get("time", "")):
                bad(where, "a streamed event without an RFC 3339 time")
            walk(v, where)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
