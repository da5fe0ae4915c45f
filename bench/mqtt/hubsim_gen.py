#!/usr/bin/env python3
"""bench/mqtt/hubsim_gen.py: runs `hubsim run --profile zigbee2mqtt` as bench/mqtt's hubsim
generator and prints one JSON line with the fields of gen.c's, measured from outside.

Each hub is a zigbee2mqtt bridge with one lumi.weather sensor (a state message of ~100 bytes)
whose behaviour runs --speedup times faster than real time, so that it changes state about once
per --interval-ms. What hubsim publishes is measured, not assumed:

- sent, acked: state messages, from hubsim's own summary (counts.reports; at QoS 1 acked means
  a PUBACK from the broker, docs/summary.md 4.2).
- rss_before: VmRSS of the hubsim process (/proc/PID/status, sampled every 10 ms) at the last
  sample in which it held no socket (/proc/PID/fd), i.e. before its first hub connected. The
  fleet's hubs and devices may already be allocated then (they are created before the first
  connect); their memory is then not in mem/hub.
- rss_idle: VmRSS once every hub's bridge/state online has reached the subscriber, plus
  --idle-ms.
- connect_s: hubsim's own ramp.all_online_s (run start to the last hub online); connected:
  ramp.hubs_ever_online; reconnects: sessions.opened beyond those (a connection lost and made
  again, e.g. when the broker drops some of 10,000 connections arriving at once).
- hubsim's --duration: connecting (an allowance of 2 s, or 1 ms a hub) + --idle-ms +
  --duration-ms; the publish phase runs from every hub online + --idle-ms to the end of that
  duration (phase_ms, at least --duration-ms when the hubs connected within the allowance).
- publish_cpu_s: user+sys CPU of the process (os.wait4 at its exit minus /proc/PID/stat at the
  start of the publish phase), so it includes the drain, the orderly disconnect and the summary.
  publish_acked: state messages the subscriber received after the start of the publish phase
  (each one was acked: the run checks delivered >= acked and acked == sent); table.py divides
  by it. The CPU includes simulating the devices and turning their frames into JSON: hubsim
  does more work per publish than the other generators.
- bridge: the other messages the subscriber got (bridge/state, info, devices, availability),
  reported apart and not counted as the pattern's publishes.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    f = open("/proc/%d/stat" % pid).read()
    rest = f[f.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def proc_rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return -1


def proc_sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


class Sub:
    """Counts this run's messages in the subscriber's output (mosquitto_sub -v), read as it
    grows."""

    def __init__(self, path, name):
        self.f = open(path, "rb")
        self.pre = ("bench/%s/" % name).encode()
        self.state_re = re.compile(rb"^bench/[^/ ]+/[^/ ]+/0x[0-9a-f]{16} ")
        self.online = self.state = self.bridge = 0
        self.state_bytes = 0
        self.buf = b""

    def poll(self):
        self.buf += self.f.read()
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if not line.startswith(self.pre):
                continue
            if self.state_re.match(line):
                self.state += 1
                self.state_bytes += len(line) - line.index(b" ") - 1
            else:
                self.bridge += 1
                if line.endswith(b'/bridge/state {"state":"online"}'):
                    self.online += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubsim", required=True)
    ap.add_argument("--sub-out", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--model", default="lumi.weather")
    ap.add_argument("--speedup", default="1150")
    for a in ("--port", "--hubs", "--window", "--interval-ms", "--duration-ms", "--idle-ms",
              "--payload"):
        ap.add_argument(a, type=int, required=True)
    ap.add_argument("--name", required=True)
    a = ap.parse_args()
    sub = Sub(a.sub_out, a.name)
    # Only what comes after this point belongs to this run (its name is new); reading the
    # earlier rounds' output would cost this process memory and CPU beside hubsim.
    sub.f.seek(0, os.SEEK_END)
    # hubsim's --duration counts from its start, connecting included: it gets an allowance for
    # connecting (2 s, or 1 ms a hub when more) on top of the idle and the publishing time, and
    # the publish phase is measured from the moment every hub is online plus the idle to the end
    # of hubsim's duration.
    allow_ms = max(2000, a.hubs)
    run_ms = allow_ms + a.idle_ms + a.duration_ms
    cmd = [a.hubsim, "run", "--profile", "zigbee2mqtt", "--platform",
           "mqtt://127.0.0.1:%d" % a.port, "--hubs", str(a.hubs), "--devices-per-hub", "1",
           "--mix", a.model, "--speedup", a.speedup, "--no-discovery", "--base-topic",
           "bench/%s/{hub}" % a.name, "--duration", "%dms" % run_ms, "--drain", "5s",
           "--allow-lag", "--ui", "none", "-q", "--summary", a.summary]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    rss_before, rss_idle, cpu_start, t_all, t_phase = -1, -1, None, None, None
    state_at_phase, first_error = 0, ""
    sockets_seen = False
    while True:
        # os.wait4 rather than p.poll(): the rusage of the child comes with its exit status.
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        try:
            if not sockets_seen:
                rss = proc_rss(p.pid)
                if proc_sockets(p.pid) == 0:
                    rss_before = rss
                else:
                    sockets_seen = True
            sub.poll()
            now = time.monotonic()
            if t_all is None and sub.online >= a.hubs:
                t_all = now
            if t_all is not None and t_phase is None and now - t_all >= a.idle_ms / 1000:
                rss_idle, cpu_start, t_phase = proc_rss(p.pid), proc_cpu(p.pid), now
                state_at_phase = sub.state
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.01)
    rc = os.waitstatus_to_exitcode(status)
    cpu_end = ru.ru_utime + ru.ru_stime
    try:
        s = json.load(open(a.summary))
        rep = s["counts"]["reports"]
        sent, acked = rep["sent"], rep["acked"]
        # Hubs that came online at least once; sessions.opened also counts reconnects.
        connected = s["ramp"]["hubs_ever_online"]
        reconnects = s["sessions"]["opened"] - connected
        connect_s = s["ramp"]["all_online_s"] or 0.0
        if s["verdict"]["exit_code"] != 0:
            first_error = "hubsim verdict exit %s" % s["verdict"]["exit_code"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("hubsim_gen: no summary from hubsim (exit %d): %s" % (rc, e),
              file=sys.stderr)
        return 1
    # What the broker delivered of this run: at most 15 s for the subscriber to catch up.
    deadline = time.monotonic() + 15
    while sub.state < acked and time.monotonic() < deadline:
        time.sleep(0.05)
        sub.poll()
    sub.poll()
    if t_phase is None:
        first_error = first_error or "not every hub came online (%d of %d)" % (sub.online, a.hubs)
    pub_acked = sub.state - state_at_phase if t_phase is not None else 0
    # From the start of the phase to the end of hubsim's duration (started just after t0).
    pub_s = max(t0 + run_ms / 1000 - t_phase, 0.0) if t_phase is not None else 0.0
    print(json.dumps({
        "generator": "hubsim", "hubs": a.hubs, "window": 0, "interval_ms": a.interval_ms,
        "duration_ms": a.duration_ms, "phase_ms": round(pub_s * 1000), "payload": a.payload, "connected": connected,
        "connect_failed": a.hubs - connected, "closed": 0, "reconnects": reconnects,
        "errors": 0 if not first_error else 1,
        "connect_s": connect_s, "rss_before": rss_before, "rss_idle": rss_idle,
        "sent": sent, "acked": acked,
        "publish_cpu_s": (cpu_end - cpu_start) if cpu_start is not None else 0.0,
        "publish_acked": pub_acked, "publish_s": pub_s, "first_error": first_error,
        "model": a.model, "speedup": float(a.speedup), "exit": rc,
        "state_messages": sub.state,
        "state_bytes_mean": sub.state_bytes / sub.state if sub.state else None,
        "state_per_hub_per_s": pub_acked / a.hubs / pub_s if pub_s > 0 else None,
        "bridge_messages": sub.bridge, "cpu_total_s": cpu_end,
        "wall_s": time.monotonic() - t0}))
    return 0 if not first_error and acked == sent else 1


if __name__ == "__main__":
    sys.exit(main())
