#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for systemd's notify socket: notify.py SOCKET LOG binds an
AF_UNIX datagram socket at SOCKET and appends each message (READY=1,
RELOADING=1, STOPPING=1, WATCHDOG=1, ...) to LOG, one line per field."""
import os
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode(errors="replace")
    with open(sys.argv[2], "a") as f:
        f.write(msg if msg.endswith("\n") else msg + "\n")
