#!/usr/bin/python3
"""Runs the Python platform of docs/protocol.md section 15, exactly as printed there.

The sketch's code block is taken from the document, completed with what it leaves abstract (an
in-memory store with a group-commit thread that sends the capped Acks the sketch's comment
describes, and a thread per connection), and then:

  1. its framing and decoding are checked at the limits of section 3.4: five length bytes with
     the continuation bit are refused at once, a declared 65537 is refused, Attributes nested 9
     levels deep (and 8,800, the frame that overflowed protobuf-c) are refused, 8 are accepted;
  2. its Error reasons stay within 256 bytes, cut between UTF-8 characters;
  3. it serves a fleet of hubsim's hubs (`hubsim run --platform hubrpc://127.0.0.1:PORT`): the
     run must end with exit 0, every report acknowledged, and the sketch's store must hold each
     report exactly once.

Needs the Debian packages python3-protobuf and protobuf-compiler (scripts/deps.sh). Environment:
HUBSIM_BIN (the hubsim binary) and HUBSIM_SOURCE_DIR (the source tree), as ctest sets them.
Exit 0: passed; 1: failed (the reason is printed); 77: a dependency is missing (skipped).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("HUBSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
BIN = os.environ.get("HUBSIM_BIN", os.path.join(SRC, "build", "hubsim"))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def load_sketch(tmp):
    """The sketch's module: the section 15 code block run against generated classes."""
    if shutil.which("protoc") is None:
        print("SKIP: protoc not found (Debian package protobuf-compiler, scripts/deps.sh)")
        sys.exit(77)
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        print("SKIP: python3-protobuf is not installed (scripts/deps.sh)")
        sys.exit(77)
    subprocess.run(["protoc", "--python_out=" + tmp, "-I", SRC,
                    os.path.join(SRC, "proto", "hubrpc.proto")], check=True)
    sys.path.insert(0, tmp)
    with open(os.path.join(SRC, "docs", "protocol.md"), encoding="utf-8") as f:
        doc = f.read()
    sec = doc[doc.index("## 15. Writing a platform in Python"):]
    m = re.search(r"```python\n(.*?)```", sec, re.S)
    if not m:
        fail("no python block in section 15 of docs/protocol.md")
    ns = {"__name__": "sketch"}
    exec(compile(m.group(1), "docs/protocol.md section 15", "exec"), ns)
    return ns


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def deep_report(levels):
    """Envelope{report{attributes=[A]}} with A nesting `levels` Attribute levels."""
    a = b""
    for _ in range(levels - 1):
        a = b"\x4a" + varint(len(a)) + a
    rep = b"\x2a" + varint(len(a)) + a
    return b"\x32" + varint(len(rep)) + rep


def expect_fail(sk, fn, code, what):
    try:
        fn()
    except sk["Fail"] as f:
        check(f.code == code, "%s: Fail(%d), got %d" % (what, code, f.code))
        return
    fail("%s: no Fail raised" % what)


def check_limits(sk):
    pb = sk["pb"]
    frames = sk["frames"]
    # Five continuation bytes: refused without waiting for a sixth (3.4, check 1).
    expect_fail(sk, lambda: list(frames(bytearray(b"\x80" * 5))), pb.ERROR_MALFORMED_FRAME,
                "five length bytes with bit 7 set")
    check(list(frames(bytearray(b"\x80" * 4))) == [], "four length bytes: wait for more")
    expect_fail(sk, lambda: list(frames(bytearray(b"\x81\x80\x04"))), pb.ERROR_FRAME_TOO_LARGE,
                "declared length 65537")
    body = bytes(65536)
    buf = bytearray(varint(len(body)) + body)
    check(list(frames(buf)) == [body] and not buf, "a 65536-byte body is a frame")
    # Nesting (3.4): 8 levels decode, 9 and 8,800 are malformed.
    kind, msg = sk["decode"](deep_report(8))
    check(kind == "report" and len(msg.attributes) == 1, "8 levels of Attributes decode")
    expect_fail(sk, lambda: sk["decode"](deep_report(9)), pb.ERROR_MALFORMED_FRAME,
                "9 levels of Attributes")
    big = deep_report(8800)
    check(25000 < len(big) < 35000, "the 8,800-level body is %d bytes" % len(big))
    expect_fail(sk, lambda: sk["decode"](big), pb.ERROR_MALFORMED_FRAME, "8,800 levels")


class FakeSock:
    """A socket that hands serve() fixed bytes and keeps what it sends."""

    def __init__(self, data):
        self.data, self.out = data, bytearray()

    def settimeout(self, t):
        pass

    def recv(self, n):
        d, self.data = self.data[:n], self.data[n:]
        return d

    def sendall(self, b):
        self.out += b

    def close(self):
        pass


def check_reason(sk):
    """serve() cuts a long reason to 256 bytes between characters (4.15)."""
    pb = sk["pb"]
    original = sk["check_hello"]

    def long_reason(m):
        raise sk["Fail"](pb.ERROR_INVALID_FIELD, "\u20ac" * 100)  # 300 bytes of UTF-8

    sk["check_hello"] = long_reason
    hello = pb.Envelope(hello=pb.Hello(proto_version=1, hub_id="x", client_nonce=bytes(16)))
    data = hello.SerializeToString()
    sock = FakeSock(varint(len(data)) + data)
    sk["serve"](sock, None)
    sk["check_hello"] = original
    out = list(sk["frames"](sock.out))
    env = pb.Envelope()
    env.ParseFromString(out[0])
    r = env.error.reason.encode()
    check(env.error.code == pb.ERROR_INVALID_FIELD and len(r) <= 256 and len(r) > 250,
          "a 300-byte reason is sent as %d bytes of UTF-8" % len(r))


class Hub:
    def __init__(self):
        self.boot, self.received, self.stored, self.duplicates = None, 0, 0, 0


class Session:
    def __init__(self, hub, sock):
        self.hub, self.sock, self.rx_top, self.last_ack_sent = hub, sock, 0, 0


class LockedSock:
    """One writer at a time: the read loop and the commit thread share the socket."""

    def __init__(self, sock):
        self.sock, self.lock = sock, threading.Lock()

    def sendall(self, b):
        with self.lock:
            self.sock.sendall(b)

    def __getattr__(self, name):
        return getattr(self.sock, name)


class Store:
    """What the sketch leaves abstract: hubs, sessions, reports, a 5 ms group commit."""

    def __init__(self, sk):
        self.sk, self.lock = sk, threading.Lock()
        self.hubs, self.live, self.rows = {}, {}, set()
        self.errors = []

    def open_session(self, hub_id, boot_id, sock):
        with self.lock:
            h = self.hubs.setdefault(hub_id, Hub())
            if h.boot != boot_id:
                h.boot, h.received, h.stored = boot_id, 0, 0
            s = Session(h, sock)
            self.live[hub_id] = s
            return s

    def queue(self, s, kind, msg):
        if kind == "report":
            with self.lock:
                key = (s.hub.boot, msg.seq)
                if key in self.rows:
                    self.errors.append("report %r stored twice" % (key,))
                self.rows.add(key)

    def commit_forever(self, stop):
        pb = self.sk["pb"]
        while not stop.is_set():
            time.sleep(0.005)
            with self.lock:
                sessions = list(self.live.values())
            for s in sessions:
                s.hub.stored = s.hub.received
                up = min(s.hub.stored, s.rx_top)
                if up > s.last_ack_sent:
                    try:
                        self.sk["send"](s.sock, ack=pb.Ack(up_to_seq=up))
                        s.last_ack_sent = up
                    except OSError:
                        pass


def start_server(sk, store):
    """Serves the sketch on a free loopback port: (port, stop), stop() ends it."""
    stop = threading.Event()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    port = lsock.getsockname()[1]

    def accept_forever():
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=sk["serve"], args=(LockedSock(c), store), daemon=True).start()

    threading.Thread(target=accept_forever, daemon=True).start()
    threading.Thread(target=store.commit_forever, args=(stop,), daemon=True).start()

    def end():
        stop.set()
        lsock.close()
    return port, end


def check_fleet(sk, tmp):
    store = Store(sk)
    port, end = start_server(sk, store)
    summary = os.path.join(tmp, "summary.json")
    run = subprocess.run([BIN, "run", "--platform", "hubrpc://127.0.0.1:%d" % port,
                          "--hubs", "50", "--devices-per-hub", "4", "--duration", "3s",
                          "--speedup", "60", "--drain", "10s", "--allow-lag", "--ui", "none",
                          "--summary", summary], stdout=subprocess.DEVNULL, timeout=120)
    end()
    check(run.returncode == 0, "hubsim run against the sketch exits %d" % run.returncode)
    with open(summary) as f:
        s = json.load(f)
    reports = s["counts"]["reports"]
    print("sketch platform: %d hubs online at the end, %d reports generated, %d acknowledged, "
          "%d stored, %d duplicates" % (s["sessions"]["online_at_end"], reports["generated"],
                                         reports["acked"], len(store.rows),
                                         sum(h.duplicates for h in store.hubs.values())))
    check(reports["generated"] > 0 and reports["acked"] == reports["generated"],
          "every report acknowledged")
    check(s["counts"]["lost"] == 0, "nothing lost")
    check(len(store.rows) == reports["generated"], "each report stored once")
    check(not store.errors, "; ".join(store.errors) or "no report stored twice")


def main():
    tmp = tempfile.mkdtemp(prefix="hubsim-sketch-")
    try:
        sk = load_sketch(tmp)
        check_limits(sk)
        check_reason(sk)
        check_fleet(sk, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
