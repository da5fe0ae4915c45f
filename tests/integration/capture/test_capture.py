#!/usr/bin/python3
"""`hubsim run --record FILE.pcapng` read back by tshark (Debian package tshark).

Cases (the first argument picks one; ctest registers each):

  counts  100 hubs against the embedded reference platform, commands on: tshark reads the capture
          without a complaint, its packets are the summary's record.frames, and, decoded with
          tools/wireshark/hubrpc.lua, the hubrpc messages are the run's counts exactly:
            hub -> platform, less the Goodbye of each session open at the stop (sent after
              the summary's final snapshot, docs/recorders.md) = traffic.frames_out;
            platform -> hub = traffic.frames_in;
            TCP payload bytes each way = traffic.bytes_out (+ those Goodbyes) and bytes_in;
            Report = counts.reports.sent + resent; DeviceJoined = counts.device_joined.sent +
              resent; CommandResult = counts.command_results.sent + resent; Command =
              commands.received; Hello = sessions.connects; Welcome = sessions.opened;
          every message is named (no "Unknown" in the Info column, no malformed frame), and
          each Report shows its raw ZCL frame and at least one decoded attribute as fields.
  kill    20 runs killed with SIGKILL at random times (0 to 1 s after their first packets
          reached the file): each capture reads in tshark up to its last whole block (its
          packets = the whole Enhanced Packet Blocks in the file), and 20 random cuts of a
          capture read up to the last block before the cut.
  limit   --record-limit: the file stays within it, the summary says truncated and stderr
          says why; --record-hubs: only the listed hubs' connections are in the file.
  mqtt    an mqtt:// run through mosquitto: Wireshark's own MQTT dissector decodes the
          recording, its PUBLISH packets from the hubs are the summary's mqtt.frames_sent (plus
          the empty close of each hub), and hubrpc.lua names the Envelope in each of their payloads.
  workers --workers 2: one file per worker (FILE.w0.pcapng, FILE.w1.pcapng), each holding its
          own shard's hubs, their packets adding up to the summary's record.frames; mergecap
          merges them.
  tls     hubrpcs:// with --hub-certs against `hubsim platform --auth cert`: every hub still
          presents its own certificate through the capture (the run passes: the platform
          accepts no hub without one), and the capture holds the plaintext hubrpc of each
          session (Hello = sessions.connects, Report = reports sent + resent).
  flags   bad --record, --record-limit and --record-hubs values are refused (exit 2) naming
          the flag; a virtual-clock run records the same bytes twice for the same seed, and
          its summary (frames and bytes included) is the same with --record as without.

Environment: HUBSIM_BIN and HUBSIM_SOURCE_DIR, as ctest sets them. Exit 0 passed, 1 failed,
77 skipped (tshark or mosquitto missing).
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("HUBSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
BIN = os.environ.get("HUBSIM_BIN", os.path.join(SRC, "build", "hubsim"))
LUA = os.path.join(SRC, "tools", "wireshark", "hubrpc.lua")
TMP = None
PASSED = 0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    print("0 passed, 1 failed", flush=True)
    sys.exit(1)


def check(cond, msg):
    global PASSED
    if not cond:
        fail(msg)
    PASSED += 1
    print("ok: " + msg, flush=True)


def run(args, timeout=120, env=None):
    """hubsim with args; (exit code, stdout, stderr). A run past timeout fails the test."""
    try:
        p = subprocess.run([BIN, "run"] + args, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        fail("hubsim %s did not end within %d s" % (" ".join(args), timeout))
    return p.returncode, p.stdout, p.stderr


def tshark(path, *args, lua=False):
    """tshark over a file, reading only (no name lookups, a private HOME so that no personal
    profile or plugin of this machine takes part). (exit code, stdout, stderr less the warning
    tshark prints when it runs as root)."""
    cmd = ["tshark", "-n", "-r", path]
    if lua:
        cmd += ["-X", "lua_script:" + LUA]
    env = dict(os.environ, HOME=TMP)
    try:
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        fail("tshark on %s did not end within 120 s" % path)
    err = "\n".join(l for l in p.stderr.splitlines()
                    if l.strip() and "This could be dangerous" not in l)
    return p.returncode, p.stdout, err


def whole_blocks(data):
    """The pcapng blocks of data up to the last whole one: (Enhanced Packet Blocks, bytes)."""
    off, epbs = 0, 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or blen % 4 or off + blen > len(data):
            break
        if struct.unpack_from("<I", data, off + blen - 4)[0] != blen:
            break
        if btype == 6:
            epbs += 1
        off += blen
    return epbs, off


def summary(path):
    with open(path) as f:
        return json.load(f)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- counts ----

# The Envelope's body field numbers (proto/hubrpc.proto).
TYPES = {1: "Hello", 2: "Challenge", 3: "Auth", 4: "Welcome", 5: "Heartbeat", 6: "Report",
         7: "Ack", 8: "DeviceJoined", 9: "DeviceLeft", 10: "Command", 11: "CommandResult",
         12: "PermitJoin", 13: "Error", 14: "Goodbye"}


def decoded(path):
    """Per packet of the capture: (upstream?, TCP payload length, [message type names], Info)."""
    rc, out, err = tshark(path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
                          "-e", "ip.src", "-e", "tcp.len", "-e", "hubrpc.type", "-e",
                          "_ws.col.Info", lua=True)
    check(rc == 0 and err == "", "tshark with hubrpc.lua reads %s without a complaint (%s)"
          % (os.path.basename(path), err[:300]))
    rows = []
    for line in out.splitlines():
        src, tlen, types, info = line.split("|", 3)
        names = [TYPES.get(int(t), "Unknown") for t in types.split(",") if t]
        rows.append((src.startswith("10."), int(tlen or 0), names, info))
    return rows


def case_counts():
    cap = os.path.join(TMP, "counts.pcapng")
    js = os.path.join(TMP, "counts.json")
    rc, out, err = run(["--hubs", "100", "--devices-per-hub", "3", "--duration", "4",
                        "--command-rate", "20", "--seed", "7", "--allow-lag", "-q", "--ui",
                        "none", "--record", cap, "--summary", js])
    if rc != 0:
        print(out + err)
    check(rc == 0, "the 100-hub run passes (exit %d)" % rc)
    s = summary(js)
    rec, tr = s["record"], s["traffic"]
    check(rec["file"] == cap and not rec["truncated"] and rec["dropped"] == 0,
          "the summary's record names the file, not truncated")
    data = open(cap, "rb").read()
    epbs, whole = whole_blocks(data)
    check(whole == len(data) == rec["bytes"], "the file is whole blocks, record.bytes long")
    check(epbs == rec["frames"], "its packet blocks are record.frames (%d)" % epbs)
    rc, out, err = tshark(cap, "-T", "fields", "-e", "frame.number")
    check(rc == 0 and err == "", "tshark reads it without a complaint (%s)" % err[:300])
    check(len(out.split()) == rec["frames"], "tshark counts record.frames packets (%d)"
          % len(out.split()))

    rows = decoded(cap)
    types = {}
    up = down = up_bytes = down_bytes = goodbye_up = goodbye_bytes = 0
    for is_up, tlen, names, info in rows:
        if is_up:
            up_bytes += tlen
        else:
            down_bytes += tlen
        for n in names:
            types[n] = types.get(n, 0) + 1
            if is_up:
                up += 1
                goodbye_up += n == "Goodbye"
            else:
                down += 1
    check("Unknown" not in types and not any("Unknown" in r[3] for r in rows),
          "every hubrpc message is named: %s" % sorted(types))
    infos = set()
    for r in rows:
        infos.update(n.strip() for n in r[3].split(",") if r[2])
    check(set(types) <= infos, "the Info column names them: %s" % sorted(infos))
    # The Goodbye frames: the fleet sends one per open session after the final snapshot.
    rc, out, err = tshark(cap, "-Y", "hubrpc.goodbye && ip.src == 10.0.0.0/8", "-T", "fields",
                          "-e", "tcp.len", "-e", "hubrpc.type", lua=True)
    check(rc == 0 and err == "", "tshark filters hubrpc.goodbye (%s)" % err[:200])
    alone = True
    for l in out.splitlines():
        tlen, kinds = l.split("\t")
        alone = alone and kinds == "14"
        goodbye_bytes += int(tlen)
    check(alone, "each Goodbye travels alone in its write")
    check(goodbye_up == s["sessions"]["online_at_end"],
          "one Goodbye per hub online at the stop (%d)" % goodbye_up)
    check(up - goodbye_up == tr["frames_out"],
          "hub -> platform messages less the Goodbyes = frames_out (%d)" % tr["frames_out"])
    check(down == tr["frames_in"], "platform -> hub messages = frames_in (%d)" % tr["frames_in"])
    check(up_bytes == tr["bytes_out"] + goodbye_bytes,
          "upstream TCP payload = bytes_out + the Goodbyes' (%d)" % up_bytes)
    check(down_bytes == tr["bytes_in"], "downstream TCP payload = bytes_in (%d)" % down_bytes)
    c = s["counts"]
    expect = {
        "Report": c["reports"]["sent"] + c["reports"]["resent"],
        "DeviceJoined": c["device_joined"]["sent"] + c["device_joined"]["resent"],
        "CommandResult": c["command_results"]["sent"] + c["command_results"]["resent"],
        "Command": s["commands"]["received"],
        "Hello": s["sessions"]["connects"],
        "Welcome": s["sessions"]["opened"],
    }
    for name, n in expect.items():
        check(types.get(name, 0) == n, "%s messages in the capture = the summary's %d (saw %d)"
              % (name, n, types.get(name, 0)))
    check(expect["Command"] > 0 and expect["Report"] > 100, "the run had commands and reports")
    rc, out, err = tshark(cap, "-Y", "hubrpc.report", "-T", "fields", "-E", "occurrence=a",
                          "-E", "aggregator=;", "-e", "hubrpc.report.zcl_frame", "-e",
                          "hubrpc.attribute.id", "-e", "hubrpc.report.cluster", lua=True)
    check(rc == 0 and err == "", "tshark filters hubrpc.report (%s)" % err[:200])
    frames = attrs = 0
    for line in out.splitlines():
        z, a, _ = line.split("\t")
        frames += len([x for x in z.split(";") if x])
        attrs += len([x for x in a.split(";") if x])
    check(frames == expect["Report"], "each Report shows its raw ZCL frame as a field (%d)" % frames)
    check(attrs >= expect["Report"], "decoded attributes are fields (%d hubrpc.attribute.id)" % attrs)
    rc, out, err = tshark(cap, "-Y", "_ws.malformed || _ws.expert.severity >= error", lua=True)
    check(rc == 0 and err == "", "tshark filters malformed frames (%s)" % err[:200])
    check(out.strip() == "", "no malformed frame, no error in the decode (%s)" % out[:300])


# ---- kill ----

def case_kill():
    rng = random.Random(int(os.environ.get("HUBSIM_TEST_SEED", "0")) or None)
    for i in range(20):
        cap = os.path.join(TMP, "kill%d.pcapng" % i)
        p = subprocess.Popen([BIN, "run", "--hubs", "50", "--devices-per-hub", "3",
                              "--duration", "30", "--allow-lag", "-q", "--ui", "none",
                              "--record", cap], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # The event to wait for: the first packets written (the file beyond its ~100-byte
        # header). Written at least every 200 ms of traffic, so a run whose file never grows
        # fails here. Then a random time more, then the kill.
        deadline = time.monotonic() + 30
        while not (os.path.exists(cap) and os.path.getsize(cap) > 200):
            if time.monotonic() > deadline or p.poll() is not None:
                p.kill()
                p.wait(timeout=30)
                fail("kill %d: the run wrote no packet within 30 s" % i)
            time.sleep(0.01)  # polling the file: the run signals nothing else
        delay = rng.uniform(0.0, 1.0)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pass
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        data = open(cap, "rb").read()
        epbs, whole = whole_blocks(data)
        rc, out, err = tshark(cap, "-T", "fields", "-e", "frame.number")
        n = len(out.split())
        cut = whole < len(data)
        ok = n == epbs and (rc == 0 and err == "" if not cut else "cut short" in err)
        check(ok and epbs > 0, "kill %d, %.2f s after the first write: tshark reads the %d whole "
              "packet blocks of %d bytes (read %d, exit %d%s)"
              % (i, delay, epbs, len(data), n, rc, ", " + err[:200] if err else ""))
    src = open(os.path.join(TMP, "kill19.pcapng"), "rb").read()
    if len(src) < 2000:
        src = None
        for i in range(20):
            d = open(os.path.join(TMP, "kill%d.pcapng" % i), "rb").read() if os.path.exists(
                os.path.join(TMP, "kill%d.pcapng" % i)) else b""
            if len(d) >= 2000:
                src = d
        check(src is not None, "some killed run left more than 2000 bytes to cut")
    for i in range(20):
        at = rng.randrange(200, len(src))
        cap = os.path.join(TMP, "cut%d.pcapng" % i)
        with open(cap, "wb") as f:
            f.write(src[:at])
        epbs, whole = whole_blocks(src[:at])
        rc, out, err = tshark(cap, "-T", "fields", "-e", "frame.number")
        n = len(out.split())
        check(n == epbs and (whole == at or "cut short" in err),
              "cut at byte %d: tshark reads the %d packets before it and says it was cut (%s)"
              % (at, epbs, err[:120]))


# ---- limit ----

def case_limit():
    cap = os.path.join(TMP, "limit.pcapng")
    js = os.path.join(TMP, "limit.json")
    rc, out, err = run(["--hubs", "20", "--devices-per-hub", "3", "--duration", "2",
                        "--allow-lag", "-q", "--ui", "none", "--record", cap,
                        "--record-limit", "20k", "--summary", js])
    check(rc == 0, "a run with --record-limit 20k passes (exit %d: %s)" % (rc, err[-300:]))
    size = os.path.getsize(cap)
    check(size <= 20 * 1024, "the file stays within 20 KiB (%d bytes)" % size)
    rec = summary(js)["record"]
    check(rec["truncated"] and rec["dropped"] > 0 and rec["bytes"] == size,
          "the summary says truncated, %d packets not written" % rec["dropped"])
    check("--record-limit" in err and "recording stopped" in err, "stderr says why: " + err[:200])
    check("truncated by --record-limit" in out, "the human summary says so")
    rc, o2, e2 = tshark(cap, "-T", "fields", "-e", "frame.number")
    check(rc == 0 and e2 == "" and len(o2.split()) == rec["frames"],
          "tshark reads the %d packets of the limited file" % rec["frames"])

    cap = os.path.join(TMP, "hubs.pcapng")
    rc, out, err = run(["--hubs", "12", "--devices-per-hub", "2", "--duration", "2",
                        "--allow-lag", "-q", "--ui", "none", "--record", cap,
                        "--record-hubs", "0-4,7"])
    check(rc == 0, "a run with --record-hubs 0-4,7 passes")
    rc, out, err = tshark(cap, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                          "-e", "frame.comment", "-e", "ip.src")
    hubs = sorted(l.split("\t")[0] for l in out.splitlines())
    want = ["hub-%06d" % g for g in (0, 1, 2, 3, 4, 7)]
    check(hubs == want, "only hubs 0-4 and 7 are recorded: %s" % hubs)
    srcs = sorted(l.split("\t")[1] for l in out.splitlines())
    check(srcs == sorted("10.0.0.%d" % (g + 1) for g in (0, 1, 2, 3, 4, 7)),
          "hub g is 10.0.0.(g + 1): %s" % srcs)


# ---- mqtt ----

def case_mqtt():
    mosq = os.environ.get("HUBSIM_MOSQUITTO", "/usr/sbin/mosquitto")
    if not os.path.exists(mosq):
        print("SKIP: mosquitto not found (scripts/deps.sh)")
        sys.exit(77)
    port = free_port()
    conf = os.path.join(TMP, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
    broker = subprocess.Popen([mosq, "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if broker.poll() is not None:
                    fail("mosquitto ended at once")
                time.sleep(0.05)  # polling the port: mosquitto says nothing when it listens
        cap = os.path.join(TMP, "mqtt.pcapng")
        js = os.path.join(TMP, "mqtt.json")
        rc, out, err = run(["--platform", "mqtt://127.0.0.1:%d" % port, "--embedded-platform",
                            "--hubs", "10", "--devices-per-hub", "2", "--duration", "3",
                            "--allow-lag", "-q", "--ui", "none", "--record", cap,
                            "--summary", js])
        check(rc == 0, "the mqtt:// run passes (exit %d: %s)" % (rc, err[-300:]))
    finally:
        broker.kill()
        broker.wait(timeout=10)
    s = summary(js)
    rc, out, err = tshark(cap, "-Y", "mqtt", "-T", "fields", "-e", "ip.src", "-e",
                          "mqtt.msgtype", "-E", "occurrence=a")
    check(rc == 0 and err == "", "tshark reads the MQTT capture (%s)" % err[:200])
    pubs = 0
    kinds = set()
    for line in out.splitlines():
        src, types = line.split("\t")
        for t in types.split(","):
            kinds.add(int(t))
            pubs += src.startswith("10.") and int(t) == 3
    check({1, 2, 3, 8, 9} <= kinds, "Wireshark's MQTT dissector names CONNECT, CONNACK, PUBLISH, "
          "SUBSCRIBE, SUBACK: %s" % sorted(kinds))
    sent = s["mqtt"]["frames_sent"]
    gb = s["sessions"]["online_at_end"]
    # A hub's close publishes an empty uplink payload (docs/mqtt.md section 6), after its
    # Goodbye, which frames_sent counts as the frame it is.
    check(pubs == sent + gb, "hubs' PUBLISH packets = mqtt.frames_sent + the empty close of each "
          "hub online at the stop (%d = %d + %d)" % (pubs, sent, gb))
    rc, out, err = tshark(cap, "-Y", "hubrpc", "-T", "fields", "-e", "ip.src", "-e",
                          "hubrpc.type", "-E", "occurrence=a", lua=True)
    check(rc == 0 and err == "", "tshark with hubrpc.lua reads the MQTT capture (%s)" % err[:200])
    kinds = {}
    for line in out.splitlines():
        src, types = line.split("\t")
        for t in types.split(","):
            key = (src.startswith("10."), TYPES[int(t)])
            kinds[key] = kinds.get(key, 0) + 1
    c = s["counts"]["reports"]
    check(kinds.get((True, "Report"), 0) == c["sent"] + c["resent"],
          "hubrpc.lua decodes the PUBLISH payloads: %d Reports = reports sent + resent"
          % kinds.get((True, "Report"), 0))
    named = sum(n for (up, _), n in kinds.items() if up)
    check(named == sent and kinds.get((True, "Goodbye"), 0) == gb,
          "every non-empty hub PUBLISH payload is a named hubrpc message (%d of %d, %d Goodbyes)"
          % (named, sent, kinds.get((True, "Goodbye"), 0)))


# ---- workers ----

def case_workers():
    cap = os.path.join(TMP, "w.pcapng")
    js = os.path.join(TMP, "w.json")
    rc, out, err = run(["--hubs", "20", "--devices-per-hub", "2", "--duration", "3",
                        "--workers", "2", "--allow-lag", "-q", "--ui", "none", "--record", cap,
                        "--summary", js])
    check(rc == 0, "a run over 2 workers with --record passes (exit %d: %s)" % (rc, err[-300:]))
    rec = summary(js).get("record")
    check(rec is not None, "the summary of a run over workers has a record")
    check(rec["file"] == os.path.join(TMP, "w.w*.pcapng"), "record.file is the files' pattern")
    total = 0
    for k in (0, 1):
        f = os.path.join(TMP, "w.w%d.pcapng" % k)
        check(os.path.exists(f), "worker %d wrote %s" % (k, os.path.basename(f)))
        rc, o, e = tshark(f, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                          "-e", "frame.comment")
        hubs = [int(h[4:]) for h in o.split()]
        check(len(hubs) == 10 and all(g % 2 == k for g in hubs),
              "worker %d's file holds its own shard's 10 hubs: %s" % (k, hubs))
        rc, o, e = tshark(f, "-T", "fields", "-e", "frame.number")
        check(rc == 0 and e == "", "tshark reads worker %d's file" % k)
        total += len(o.split())
    check(total == rec["frames"], "the files' packets add up to record.frames (%d)" % total)
    merged = os.path.join(TMP, "all.pcapng")
    p = subprocess.run(["mergecap", "-w", merged, os.path.join(TMP, "w.w0.pcapng"),
                        os.path.join(TMP, "w.w1.pcapng")], capture_output=True, timeout=60)
    rc, o, e = tshark(merged, "-T", "fields", "-e", "frame.number")
    check(p.returncode == 0 and len(o.split()) == total, "mergecap merges them into one capture")


# ---- tls ----

def case_tls():
    fleet = os.path.join(TMP, "fleet")
    p = subprocess.run([BIN, "provision", "--hubs", "5", "--out", fleet], capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 0, "hubsim provision makes 5 hubs' identities (%s)" % p.stderr[-200:])
    ready = os.path.join(TMP, "ready")
    plat = subprocess.Popen([BIN, "platform", "--listen", "hubrpcs://127.0.0.1:0", "--cert",
                             os.path.join(fleet, "server.crt"), "--key",
                             os.path.join(fleet, "server.key"), "--client-ca",
                             os.path.join(fleet, "ca.crt"), "--auth", "cert", "--db",
                             os.path.join(TMP, "tls.db"), "--ready-file", ready],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (os.path.exists(ready) and open(ready).read().strip()):
            if time.monotonic() > deadline or plat.poll() is not None:
                fail("hubsim platform did not write its ready file")
            time.sleep(0.05)  # polling the ready file: the platform signals nothing else
        port = int(open(ready).read().strip())
        cap = os.path.join(TMP, "tls.pcapng")
        js = os.path.join(TMP, "tls.json")
        env = {k: v for k, v in os.environ.items() if k != "HUBSIM_FLEET_KEY"}
        rc, out, err = run(["--platform", "hubrpcs://127.0.0.1:%d" % port, "--ca",
                            os.path.join(fleet, "ca.crt"), "--hub-certs", fleet, "--hubs", "5",
                            "--devices-per-hub", "2", "--duration", "2", "--allow-lag", "-q",
                            "--ui", "none", "--record", cap, "--summary", js], env=env)
        check(rc == 0, "hubs authenticated by certificate alone pass with --record (exit %d: "
              "%s)" % (rc, (out + err)[-400:]))
    finally:
        plat.terminate()
        plat.wait(timeout=30)
    s = summary(js)
    rows = decoded(cap)
    types = {}
    for _, _, names, _ in rows:
        for n in names:
            types[n] = types.get(n, 0) + 1
    check(types.get("Hello", 0) == s["sessions"]["connects"] == 5,
          "the capture holds each session's plaintext Hello (%d)" % types.get("Hello", 0))
    n = s["counts"]["reports"]["sent"] + s["counts"]["reports"]["resent"]
    check(types.get("Report", 0) == n, "and the run's %d Reports" % n)


# ---- flags ----

def case_flags():
    bad = [
        (["--record", os.path.join(TMP, "no/such/dir/x.pcapng")], "--record"),
        (["--record", os.path.join(TMP, "a.pcapng"), "--record-limit", "lots"], "--record-limit"),
        (["--record", os.path.join(TMP, "a.pcapng"), "--record-limit", "0"], "--record-limit"),
        (["--record", os.path.join(TMP, "a.pcapng"), "--record-hubs", "5-2"], "--record-hubs"),
        (["--record", os.path.join(TMP, "a.pcapng"), "--record-hubs", "1,,2"], "--record-hubs"),
        (["--record-limit", "1M"], "--record-limit"),
        (["--platform", "mqtt://127.0.0.1:1", "--profile", "zigbee2mqtt", "--record",
          os.path.join(TMP, "a.pcapng")], "--record"),
    ]
    for args, flag in bad:
        rc, out, err = run(["--hubs", "2", "--duration", "1", "-q", "--ui", "none"] + args)
        check(rc == 2 and flag in err, "%s is refused with exit 2 naming %s (%s)"
              % (" ".join(args[-2:]), flag, err.strip()[:160]))
    check(not os.path.exists(os.path.join(TMP, "a.pcapng")), "a refused run leaves no file")
    caps = []
    for i in range(2):
        cap = os.path.join(TMP, "virt%d.pcapng" % i)
        rc, out, err = run(["--clock", "virtual", "--hubs", "5", "--devices-per-hub", "2",
                            "--duration", "10m", "--seed", "3", "-q", "--ui", "none",
                            "--record", cap])
        check(rc == 0, "a virtual-clock run with --record passes")
        caps.append(open(cap, "rb").read())
    check(caps[0] == caps[1] and len(caps[0]) > 1000,
          "the same seed records the same %d bytes on the virtual clock" % len(caps[0]))
    sums = []
    for i, rec in enumerate(([], ["--record", os.path.join(TMP, "virt-on.pcapng")])):
        js = os.path.join(TMP, "virt-s%d.json" % i)
        rc, out, err = run(["--clock", "virtual", "--hubs", "5", "--devices-per-hub", "2",
                            "--duration", "10m", "--seed", "3", "-q", "--ui", "none",
                            "--summary", js] + rec)
        s = summary(js)
        s.pop("record", None)
        for k in ("generator", "elapsed_s"):
            s.pop(k, None)
        sums.append(s)
    check(sums[0] == sums[1], "a virtual run's summary is the same with --record as without "
          "(the same frames, the same bytes: recording changes nothing on the wire)")
    rc, out, err = tshark(os.path.join(TMP, "virt0.pcapng"), "-T", "fields", "-e",
                          "frame.time_epoch")
    first = float(out.split()[0])
    check(abs(first - 1767225600.0) < 60, "virtual-clock stamps start at 2026-01-01 (%.3f)" % first)


def main():
    global TMP
    if shutil.which("tshark") is None:
        print("SKIP: tshark not found (Debian package tshark, scripts/deps.sh)")
        sys.exit(77)
    cases = {"counts": case_counts, "kill": case_kill, "limit": case_limit,
             "mqtt": case_mqtt, "workers": case_workers, "tls": case_tls,
             "flags": case_flags}
    names = sys.argv[1:] or list(cases)
    TMP = tempfile.mkdtemp(prefix="hubsim-capture-")
    try:
        for n in names:
            cases[n]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, 0 failed" % PASSED, flush=True)


if __name__ == "__main__":
    main()
