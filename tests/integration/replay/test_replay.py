#!/usr/bin/python3
"""`hubsim replay` of a `hubsim run --record` capture against a fresh `hubsim platform`.

Cases (the first argument picks one; ctest registers each):

  counts     30 hubs for 3 s against the embedded reference platform (background commands
             off), recorded; a fresh platform on 127.0.0.1:0; the capture replayed at --speed
             50: exit 0, and the replay's acknowledged Reports and DeviceJoined equal the run
             summary's acked counts, none lost, no difference from the capture.
  commands   a recorded run whose platform sent Commands (--command-rate 20), replayed against
             a fresh platform that sends none: the Reports are still all acknowledged, but
             every Command of the capture is a difference ("sent by the platform in the
             capture only", with its hub), the hubs' CommandResults are left out (they answer
             the old platform's cmd_ids), and the replay fails (exit 1) naming the differences.
  truncated  the capture cut inside a block (a killed run, a cut copy): replay says the file was
             cut short at the end of its last whole block, re-sends what those blocks hold
             (fewer Reports than the whole capture, every one acknowledged) and still runs.
  refused    a file that is not a capture, a capture with a damaged block, one with a block
             longer than the reader's 128 KiB bound, one of another link type, an MQTT run's
             capture (the broker on port 1883) and bad flags: exit 2, the message naming the
             file (and the byte offset, for bad bytes) or the flag; nothing is sent.
  flush      a quiet recorded run (3 hubs whose traffic is the first burst, then nothing for
             seconds) has its packets on disk while it runs, not only at its end: within 3 s
             of their being sent (the writer flushes at least every 200 ms of real time), the
             file holds every hub's handshake and a replay of that prefix finds every hub; a
             writer that waited for its next packet would hold them in memory until the run
             ends 8 s later.
  gone       the platform is gone (started, then stopped: its port refuses): exit 1, and the
             reason names the sessions that never opened, the refused connects and the lost
             messages.

Environment: HUBSIM_BIN and HUBSIM_SOURCE_DIR, as ctest sets them. Exit 0 passed, 1 failed.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("HUBSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
BIN = os.environ.get("HUBSIM_BIN", os.path.join(SRC, "build", "hubsim"))
TMP = None
PASSED = 0


class Failed(Exception):
    """A check that did not hold: main() prints it and exits 1."""


def fail(msg):
    raise Failed(msg)


def check(cond, msg):
    """One check: printed as ok when it holds, else the case stops here."""
    global PASSED
    if not cond:
        raise Failed(msg)
    print("ok: " + msg, flush=True)
    PASSED += 1


def hubsim(args, timeout=60):
    """hubsim with args; (exit code, stdout, stderr). Past timeout the test fails."""
    try:
        p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("hubsim %s did not end within %d s" % (" ".join(args), timeout))
    return p.returncode, p.stdout, p.stderr


def record(name, hubs, seconds, command_rate=0, mix=None):
    """A recorded run against the embedded platform: (capture path, its summary)."""
    cap = os.path.join(TMP, name + ".pcapng")
    js = os.path.join(TMP, name + ".json")
    rc, out, err = hubsim(["run", "--hubs", str(hubs), "--devices-per-hub", "3", "--duration",
                           str(seconds), "--command-rate", str(command_rate), "--allow-lag", "-q",
                           "--ui", "none", "--record", cap, "--summary", js] +
                          (["--mix", mix] if mix else []))
    check(rc == 0, "the recorded run of %d hubs passes (exit %d: %s)" % (hubs, rc,
                                                                       (out + err)[-300:]))
    with open(js) as f:
        return cap, json.load(f)


class Platform:
    """A fresh `hubsim platform` on 127.0.0.1:0 with its own store; port read from its ready
    file."""

    def __init__(self, name):
        ready = os.path.join(TMP, name + ".ready")
        self.p = subprocess.Popen([BIN, "platform", "--listen", "hubrpc://127.0.0.1:0", "--db",
                                   os.path.join(TMP, name + ".db"), "--ready-file", ready],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not (os.path.exists(ready) and open(ready).read().strip()):
            if time.monotonic() > deadline or self.p.poll() is not None:
                self.stop()
                fail("hubsim platform did not write its ready file")
            time.sleep(0.05)  # polling the ready file: the platform signals nothing else
        self.url = "hubrpc://127.0.0.1:%d" % int(open(ready).read().strip())

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(timeout=30)


def blocks(data):
    """[(offset, type, length)] of the whole pcapng blocks of data."""
    out, off = [], 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        out.append((off, btype, blen))
        off += blen
    return out


def replay(cap, url, *extra):
    js = os.path.join(TMP, "replay.json")
    if os.path.exists(js):
        os.unlink(js)
    rc, out, err = hubsim(["replay", cap, "--platform", url, "--json", js] + list(extra))
    r = None
    if os.path.exists(js):
        with open(js) as f:
            r = json.load(f)
    return rc, out, err, r


def case_counts():
    cap, s = record("counts", 30, 3)
    plat = Platform("counts")
    try:
        rc, out, err, r = replay(cap, plat.url, "--speed", "50")
    finally:
        plat.stop()
    check(r is not None, "replay wrote its --json file (%s)" % (out + err)[-300:])
    check(rc == 0, "replay passes against a fresh platform (exit %d: %s)" % (rc, out[-400:]))
    acked = s["counts"]["reports"]["acked"]
    check(acked > 0, "the run acknowledged reports (%d)" % acked)
    check(r["replay"]["reports"]["acked"] == acked,
          "replay's acked reports %d = the run's acked reports %d" %
          (r["replay"]["reports"]["acked"], acked))
    check(r["replay"]["device_joined"]["acked"] == s["counts"]["device_joined"]["acked"],
          "replay's acked device_joined %d = the run's %d" %
          (r["replay"]["device_joined"]["acked"], s["counts"]["device_joined"]["acked"]))
    lost = sum(r["replay"][k]["lost"] for k in ("reports", "device_joined", "device_left"))
    check(lost == 0, "nothing lost (%d)" % lost)
    check(r["replay"]["sessions_opened"] == 30, "one fresh session per hub (%d)" %
          r["replay"]["sessions_opened"])
    check(r["differences"]["total"] == 0 and r["verdict"] == "pass",
          "no difference from the capture (%s)" % r["differences"])
    check("verdict        PASS" in out, "the human summary says PASS")


def case_commands():
    # Plugs: the reference platform's background commands toggle plugs.
    cap, s = record("cmds", 10, 3, command_rate=20, mix="lumi.plug.maeu01")
    sent = s["commands"]["received"]
    check(sent > 0, "the run's platform sent commands (%d)" % sent)
    plat = Platform("cmds")
    try:
        rc, out, err, r = replay(cap, plat.url, "--speed", "50")
    finally:
        plat.stop()
    check(rc == 1 and r is not None, "the replay fails (exit %d: %s)" % (rc, (out + err)[-300:]))
    check(r["replay"]["reports"]["acked"] == s["counts"]["reports"]["acked"],
          "the reports are still all acknowledged (%d)" % r["replay"]["reports"]["acked"])
    d = r["differences"]
    check(d["commands"] == sent and d["total"] == sent,
          "each of the %d commands is a difference, nothing else is (total %d, commands %d)" %
          (sent, d["total"], d["commands"]))
    first = d["first"][0]
    check(first["kind"] == "commands" and first["hub"].startswith("hub-") and
          "command device=" in first["what"] and "in the capture only" in first["what"],
          "the first is named with its hub (%s)" % first)
    results = s["counts"]["command_results"]["sent"] + s["counts"]["command_results"]["resent"]
    check(r["capture"]["command_results_left_out"] == results,
          "the %d CommandResults of the capture are left out" % results)
    check("%d differences from the capture" % sent in r["reason"] and
          "hub-" in out and "in the capture only" in out,
          "the reason and stdout name the differences (%s)" % r["reason"])


def case_truncated():
    cap, s = record("trunc", 5, 1)
    data = open(cap, "rb").read()
    bl = blocks(data)
    check(bl and bl[-1][0] + bl[-1][2] == len(data), "the capture is whole blocks")
    # Cut inside a block two thirds into the file: its own start is the end of the prefix.
    off, _, blen = bl[len(bl) * 2 // 3]
    cut = os.path.join(TMP, "cut.pcapng")
    with open(cut, "wb") as f:
        f.write(data[:off + blen // 2])
    plat = Platform("trunc")
    try:
        rc, out, err, r = replay(cut, plat.url, "--speed", "0")
        rc_full, out_full, _, r_full = replay(cap, plat.url, "--speed", "0")
    finally:
        plat.stop()
    check(rc in (0, 1) and r is not None, "a cut capture is replayed (exit %d: %s)" % (rc, err))
    check("%s appears to have been cut short in the middle of a block at byte %d" % (cut, off)
          in err, "stderr says where the file was cut (%s)" % err.strip())
    check(r["capture"]["truncated"] and r["capture"]["read_bytes"] == off,
          "the JSON says truncated, read up to byte %d (%s)" % (off, r["capture"]))
    rep = r["replay"]["reports"]
    whole = r_full["capture"]["reports"]["messages"]
    check(0 < r["capture"]["reports"]["messages"] < whole,
          "the prefix holds fewer reports (%d) than the whole capture (%d)" %
          (r["capture"]["reports"]["messages"], whole))
    check(rep["resent"] == r["capture"]["reports"]["messages"] and rep["acked"] == rep["resent"]
          and rep["lost"] == 0, "every report of the prefix re-sent and acknowledged (%s)" % rep)


def case_refused():
    cap, _ = record("refused", 3, 1)
    data = bytearray(open(cap, "rb").read())
    garbage = os.path.join(TMP, "garbage.pcapng")
    with open(garbage, "wb") as f:
        f.write(b"this is not a capture at all, only text\n" * 20)
    rc, out, err = hubsim(["replay", garbage, "--platform", "hubrpc://127.0.0.1:1"])
    check(rc == 2 and garbage in err and "at byte 0" in err,
          "a file that is not a capture: exit 2 naming it (%d: %s)" % (rc, err.strip()))
    # A block in the middle whose trailing length disagrees with its leading one.
    bl = blocks(bytes(data))
    off, _, blen = bl[len(bl) // 2]
    bad = bytearray(data)
    struct.pack_into("<I", bad, off + blen - 4, blen + 4)
    damaged = os.path.join(TMP, "damaged.pcapng")
    with open(damaged, "wb") as f:
        f.write(bad)
    rc, out, err = hubsim(["replay", damaged, "--platform", "hubrpc://127.0.0.1:1"])
    check(rc == 2 and damaged in err and "at byte %d" % (off + blen - 4) in err,
          "a damaged block: exit 2 naming the file and the offset %d (%d: %s)" %
          (off + blen - 4, rc, err.strip()))
    # A block declaring more than the 128 KiB the reader accepts (the file is shorter than that:
    # the bound is checked before the length is believed), and an interface of another link type.
    big, other = bytearray(data), bytearray(data)
    struct.pack_into("<I", big, off + 4, 200 * 1024)
    idb = next(b for b in bl if b[1] == 1)
    struct.pack_into("<H", other, idb[0] + 8, 1)  # LINKTYPE_ETHERNET
    for name, content, at, what in (("big", big, off + 4, "longer than 128 KiB"),
                                    ("ether", other, idb[0] + 8, "link type")):
        path = os.path.join(TMP, name + ".pcapng")
        with open(path, "wb") as f:
            f.write(content)
        rc, out, err = hubsim(["replay", path, "--platform", "hubrpc://127.0.0.1:1"])
        check(rc == 2 and path in err and "at byte %d" % at in err and what in err,
              "%s: exit 2 naming the file, offset %d and the problem (%d: %s)" %
              (name, at, rc, err.strip()))
    # The same capture with the server side on port 1883: what an MQTT run's capture looks like.
    mq = bytearray(data)
    sport = None
    for off, btype, blen in blocks(bytes(data)):
        if btype != 6:
            continue
        pkt = off + 28
        ihl = (mq[pkt] & 15) * 4
        tcp = pkt + ihl
        src, dst = struct.unpack_from(">HH", mq, tcp)
        if sport is None:
            sport = dst  # the first packet is a hub's SYN to the server
        if src == sport:
            struct.pack_into(">H", mq, tcp, 1883)
        if dst == sport:
            struct.pack_into(">H", mq, tcp + 2, 1883)
    mqtt = os.path.join(TMP, "mqtt.pcapng")
    with open(mqtt, "wb") as f:
        f.write(mq)
    rc, out, err = hubsim(["replay", mqtt, "--platform", "hubrpc://127.0.0.1:1"])
    check(rc == 2 and mqtt in err and "MQTT" in err and "hubrpc" in err,
          "an MQTT run's capture: exit 2, replay reads hubrpc captures (%d: %s)" %
          (rc, err.strip()))
    for flags, name in ((["--speed", "fast"], "--speed"), (["--wait", "-1"], "--wait"),
                        (["--platform", "mqtt://127.0.0.1:1883"], "--platform"),
                        (["--bogus"], "--bogus")):
        args = ["replay", cap] + (["--platform", "hubrpc://127.0.0.1:1"]
                                  if name != "--platform" else []) + flags
        rc, out, err = hubsim(args)
        check(rc == 2 and name in err, "bad %s: exit 2 naming it (%d: %s)" %
              (name, rc, err.strip()))
    missing = os.path.join(TMP, "missing.pcapng")
    rc, out, err = hubsim(["replay", missing, "--platform", "hubrpc://127.0.0.1:1"])
    check(rc == 2 and missing in err, "a missing file: exit 2 naming it (%s)" % err.strip())


def case_flush():
    cap = os.path.join(TMP, "live.pcapng")
    run = subprocess.Popen([BIN, "run", "--hubs", "3", "--devices-per-hub", "1", "--duration", "8",
                            "--command-rate", "0", "--allow-lag", "-q", "--ui", "none", "--record",
                            cap], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Every hub's SYN, SYN/ACK, ACK, Hello, Challenge, Auth and Welcome: 21 packets.
        deadline, epbs = time.monotonic() + 3, 0
        while time.monotonic() < deadline and run.poll() is None:
            data = open(cap, "rb").read() if os.path.exists(cap) else b""
            epbs = sum(1 for b in blocks(data) if b[1] == 6)
            if epbs >= 21:
                break
            time.sleep(0.05)  # polling the file: the writer signals nothing else
        check(run.poll() is None, "the run is still going while its file is read")
        check(epbs >= 21, "the handshakes of 3 hubs are on disk within 3 s (%d packets)" % epbs)
        snap = os.path.join(TMP, "snap.pcapng")
        shutil.copyfile(cap, snap)
        rc, out, err = hubsim(["replay", snap, "--platform", "hubrpc://127.0.0.1:1", "--wait",
                               "0", "-q"])
        check("capture        3 hubs, 3 connections" in out,
              "the file read while the run goes on holds its 3 hubs (%s)" % (out + err)[-300:])
    finally:
        run.terminate()
        run.wait(timeout=30)


def case_gone():
    cap, _ = record("gone", 5, 1)
    plat = Platform("gone")
    url = plat.url
    plat.stop()
    rc, out, err, r = replay(cap, url, "--speed", "0", "--wait", "1")
    check(rc == 1, "a platform that is gone fails the replay (exit %d)" % rc)
    check(r is not None and r["verdict"] == "fail", "the JSON verdict is fail")
    reason = r["reason"]
    check("no hub's session opened" in reason and "ECONNREFUSED" in reason and url in reason,
          "the reason names the sessions, the refusal and the platform (%s)" % reason)
    lost = r["replay"]["reports"]["lost"]
    check(lost == r["replay"]["reports"]["resent"] and lost > 0 and
          "not acknowledged" in reason, "every re-sent report counts as lost (%d)" % lost)
    check("FAIL: no hub's session opened" in out, "the human summary says FAIL and why")


def main():
    global TMP
    cases = {"counts": case_counts, "commands": case_commands, "truncated": case_truncated, "refused": case_refused,
             "flush": case_flush, "gone": case_gone}
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: test_replay.py %s" % "|".join(cases))
        return 2
    TMP = tempfile.mkdtemp(prefix="hubsim-replay-")
    try:
        cases[sys.argv[1]]()
    except Failed as e:
        print("FAIL: %s\n%d passed, 1 failed" % (e, PASSED), flush=True)
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, 0 failed" % PASSED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
