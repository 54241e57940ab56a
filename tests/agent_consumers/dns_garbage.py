#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sends malformed DNS packets over UDP to 127.0.0.1:PORT and prints what
came back for each: the rcode of the reply ("FORMERR"), or "none"."""
import socket, struct, sys

port = int(sys.argv[1])
packets = [
    # a header claiming one question, then a label running past the end
    struct.pack(">HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\x3fabc",
    # a compression pointer that points at itself
    struct.pack(">HHHHHH", 0xBEF0, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",
    # three bytes: too short to be anything (no answer is due)
    b"\x01\x02\x03",
]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
codes = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
for p in packets:
    s.sendto(p, ("127.0.0.1", port))
    try:
        data, _ = s.recvfrom(4096)
        pid, flags = struct.unpack(">HH", data[:4])
        same = "same-id" if pid == struct.unpack(">H", p[:2])[0] else "other-id"
        print(codes.get(flags & 0xF, str(flags & 0xF)), same)
    except socket.timeout:
        print("none")
