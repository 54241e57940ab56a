# SPDX-License-Identifier: Apache-2.0
"""Clients that hold the agent's API connections (tests/cli/test_agent_api.sh).

slowloris.py PORT dribble: one connection sending a request's headers one
byte every 0.2 s, never finishing them; prints "closed SECONDS" when the
agent closes it, or "open SECONDS" after 20 s (exit 1).
slowloris.py PORT flood N: N connections that send nothing, then one whole
request on a new connection; prints its status line and how long it took.
"""
import socket
import sys
import time

port, mode = int(sys.argv[1]), sys.argv[2]
addr = ("127.0.0.1", port)

if mode == "dribble":
    s = socket.create_connection(addr)
    s.settimeout(0.2)
    req = b"GET /v1/agent HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port + b"a" * 500
    t0 = time.monotonic()
    print("started", flush=True)
    i = 0
    while time.monotonic() - t0 < 20:
        try:
            if i < len(req):
                s.send(req[i:i + 1])
                i += 1
            if s.recv(100) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    else:
        print("open %.1f" % (time.monotonic() - t0))
        sys.exit(1)
    print("closed %.1f" % (time.monotonic() - t0))
else:
    held = [socket.create_connection(addr) for _ in range(int(sys.argv[3]))]
    t0 = time.monotonic()
    c = socket.create_connection(addr)
    c.settimeout(5)
    c.sendall(b"GET /v1/agent HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
    line = c.recv(200).split(b"\r\n")[0].decode()
    print("%s %.2f" % (line, time.monotonic() - t0))
