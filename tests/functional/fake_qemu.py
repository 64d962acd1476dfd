#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for QEMU that plays a misbehaving guest agent on the real
sockets vmtest gives it.  Given as qemu_command, it reads vmtest's real QEMU
command line, connects to the console socket and serves QMP, the agent and
the output port at the paths named there, as QEMU would.  QMP behaves; the
agent misbehaves as FAKE_AGENT says, from its first request or (with the
prefix "after-sync-") once it has answered one guest-sync-delimited
properly:

  silent       reads and never answers
  garbage      answers every request with bytes that are not JSON
  wrong-id     answers with another request's id (for a sync: another number)
  close        sends half a reply, then closes the connection
  flood        answers with one JSON string that never ends

Only a real guest cannot be made to do these things; everything on
vmtest's side (its QMP and QGA clients, its deadlines, its cleanup) is the
real thing.
"""
import json
import os
import re
import selectors
import signal
import socket
import sys
import time


def sockets_from(argv):
    chardevs = {}
    for i, a in enumerate(argv[:-1]):
        if a == "-chardev" and argv[i + 1].startswith("socket,"):
            opts = dict(p.split("=", 1) for p in argv[i + 1].split(",")[1:] if "=" in p)
            chardevs[opts["id"]] = (opts["path"], "server=on" in argv[i + 1])
    return chardevs


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    return s


class Agent:
    def __init__(self, mode):
        self.after_sync = mode.startswith("after-sync-")
        self.mode = mode[len("after-sync-"):] if self.after_sync else mode
        self.synced = False

    def answer(self, conn, request):
        name = request.get("execute")
        args = request.get("arguments") or {}
        honest = self.after_sync and not self.synced and name == "guest-sync-delimited"
        if honest:
            self.synced = True
            conn.sendall(b"\xff" + json.dumps({"return": args["id"]}).encode() + b"\n")
            return True
        if self.mode == "silent":
            return True
        if self.mode == "garbage":
            conn.sendall(b"\x00\x01garbage}{ not json ]]\n\x7f\x80\x81\n")
            return True
        if self.mode == "wrong-id":
            if name == "guest-sync-delimited":
                conn.sendall(b"\xff" + json.dumps({"return": args["id"] + 1}).encode() + b"\n")
            else:
                conn.sendall(json.dumps({"return": {}, "id": request.get("id", 0) + 1000})
                             .encode() + b"\n")
            return True
        if self.mode == "close":
            conn.sendall(b'\xff{"return": {"pid": 12')
            return False
        if self.mode == "flood":
            conn.sendall(b'\xff{"return": "')
            chunk = b"x" * 65536
            try:
                while True:
                    conn.sendall(chunk)
            except OSError:
                return False
        raise SystemExit("fake_qemu: unknown FAKE_AGENT mode %r" % self.mode)


def main():
    argv = sys.argv[1:]
    if "-version" in argv or "--version" in argv:
        print("QEMU emulator version 7.2.0 (fake_qemu.py)")
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    chardevs = sockets_from(argv)
    agent = Agent(os.environ.get("FAKE_AGENT", "silent"))
    sel = selectors.DefaultSelector()
    keep = []
    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    console.connect(chardevs["console"][0])
    console.sendall(b"fake_qemu: a guest that only answers its agent port\r\n")
    keep.append(console)
    # The runner's monitor and the watch's (vm/qmp_watch.h), both QMP.
    for name in ("qmp", "qmpwatch", "agent", "output"):
        if name not in chardevs:
            continue
        server = listen(chardevs[name][0])
        sel.register(server, selectors.EVENT_READ, ("listen", name))
    buffers = {}
    while True:
        for key, _ in sel.select():
            kind, name = key.data
            name = "qmp" if name == "qmpwatch" else name
            if kind == "listen":
                conn, _ = key.fileobj.accept()
                buffers[conn] = b""
                sel.register(conn, selectors.EVENT_READ, ("conn", name))
                if name == "qmp":
                    conn.sendall(json.dumps({"QMP": {"version": {}, "capabilities": []}})
                                 .encode() + b"\r\n")
                continue
            conn = key.fileobj
            data = conn.recv(65536)
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            if name == "output":
                continue
            buffers[conn] += data.replace(b"\xff", b"")
            while True:
                m = re.search(rb"\{.*?\}(?=\s*(\{|$))", buffers[conn], re.S)
                if not m:
                    break
                buffers[conn] = buffers[conn][m.end():]
                try:
                    request = json.loads(m.group(0))
                except ValueError:
                    continue
                if name == "qmp" and str(request.get("execute")).startswith("migrate"):
                    # As a QEMU with a device that blocks migration answers.
                    conn.sendall(json.dumps({"error": {"class": "GenericError",
                                                       "desc": "fake_qemu cannot migrate"},
                                             "id": request.get("id")}).encode() + b"\r\n")
                elif name == "qmp":
                    conn.sendall(json.dumps({"return": {}, "id": request.get("id")}).encode()
                                 + b"\r\n")
                    if request.get("execute") == "quit":
                        time.sleep(0.05)
                        return
                elif not agent.answer(conn, request):
                    sel.unregister(conn)
                    conn.close()
                    break


if __name__ == "__main__":
    main()
