#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""loadgen.py URL N | loadgen.py URL --until FILE [--pause MS]

Sends GET requests to URL, each on a new connection (so a balancer sees
every one), N of them or until FILE exists, and prints one JSON object:
{"sent": n, "failed": n, "by_body": {"a": n, ...}, "errors": [first few]}."""
import http.client, json, os, sys, time, urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
until = sys.argv[3] if sys.argv[2] == "--until" else None
count = None if until else int(sys.argv[2])
pause = int(sys.argv[sys.argv.index("--pause") + 1]) / 1000 if "--pause" in sys.argv else 0
sent = failed = 0
by_body, errors = {}, []
while (count is None and not os.path.exists(until)) or (count is not None and sent < count):
    sent += 1
    try:
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        c.request("GET", url.path or "/")
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        c.close()
        if r.status != 200:
            raise RuntimeError("status %d: %s" % (r.status, body[:80]))
        by_body[body] = by_body.get(body, 0) + 1
    except Exception as e:
        failed += 1
        if len(errors) < 5:
            errors.append(str(e))
    if pause:
        time.sleep(pause)
print(json.dumps({"sent": sent, "failed": failed, "by_body": by_body, "errors": errors}, sort_keys=True))
