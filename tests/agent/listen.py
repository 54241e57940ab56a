#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TCP listener for tcp checks: listen.py PORTFILE [PORT]; accepts and
closes connections until killed (the test kills it to fail the check).
Without PORT it takes a free one; either way PORTFILE gets the port."""
import os
import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0))
s.listen(64)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    c.close()
