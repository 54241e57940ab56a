#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""hasock.py SOCKET COMMAND...: sends one command to HAProxy's Runtime API
and prints the reply."""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((" ".join(sys.argv[2:]) + "\n").encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
