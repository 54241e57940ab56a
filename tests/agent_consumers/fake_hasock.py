#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for HAProxy's Runtime API (prompt mode) on a unix socket,
for what a real HAProxy cannot be made to do on cue: every connection
serves one round (up to its `show servers state`), then is closed by the
server at the moment the next request arrives on it, unanswered, as when
HAProxy's `stats timeout` runs out just as a round begins.

usage: fake_hasock.py SOCKET BACKEND SLOTS LOG
LOG gets one line per event: "conn N", "closed N unanswered", and each
command received."""
import os, socket, sys, threading

path, backend, nslots, logpath = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
# slot -> [addr, port, weight, admin]; admin 0x01 forced maint, 0x08 drain
slots = {k: ["127.0.0.1", 1, 1, 0x01] for k in range(1, nslots + 1)}
log = open(logpath, "a", buffering=1)


def state():
    head = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
            "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
            "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
            "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
    lines = []
    for k, (addr, port, weight, admin) in sorted(slots.items()):
        op = 0 if admin & 0x01 else 2
        lines.append("3 %s %d zkd%d %s %d %d %d 1 0 1 0 0 8 0 0 0 - %d - 0 0 - - 0\n"
                     % (backend, k, k, addr, op, admin, weight, port))
    return head + "".join(lines)


def answer(cmd):
    w = cmd.split()
    if cmd == "show info":
        return "Name: HAProxy\nPid: 4242\nStart_time_sec: 1\n"
    if cmd == "show servers state " + backend:
        return state()
    if len(w) >= 4 and w[0] == "set" and w[1] == "server" and w[2].startswith(backend + "/zkd"):
        k = int(w[2].split("/zkd")[1])
        s = slots[k]
        if w[3] == "addr":
            s[0], s[1] = w[4], int(w[6])
            return "IP changed by 'stats socket command'\n"
        if w[3] == "weight":
            s[2] = int(w[4])
        elif w[3] == "state":
            s[3] = {"ready": 0, "drain": 0x08, "maint": 0x01}[w[4]]
        return ""
    return "Unknown command.\n"


def serve(conn, n):
    buf, served = b"", False
    while True:
        data = conn.recv(65536)
        if not data:
            break
        if served:  # the round is over: the next request finds the connection closing
            log.write("closed %d unanswered\n" % n)
            break
        buf += data
        out = []
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode().strip()
            log.write(cmd + "\n")
            with lock:
                text = "" if cmd == "prompt" else answer(cmd)
            out.append("\n> " if cmd == "prompt" else text + "\n> ")
            served = served or cmd.startswith("show servers state")
        conn.sendall("".join(out).encode())
    conn.close()


if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)
n = 0
while True:
    conn, _ = srv.accept()
    n += 1
    log.write("conn %d\n" % n)
    threading.Thread(target=serve, args=(conn, n), daemon=True).start()
