#!/usr/bin/python3
"""`hubsim platform --workers N`: several platform processes behind one address.

Cases (the first argument picks one; ctest registers each):

  run    `hubsim platform --workers 2` on 127.0.0.1:0 with an admin port, and `hubsim run
         --platform ... --hubs 200`: the run passes (exit 0, lost 0); both workers got sessions
         (their counters on the admin line `workers`, and rows in each store shard); the admin
         `stats` are the sum of the workers' counters and equal the run's acked counts
         (reports, device joins); a command sent through the admin port to a hub of each
         worker reaches it (the run's commands.received, the command rows of each shard) with
         cmd_ids no two workers share; SIGTERM stops the platform with exit 0 and every shard
         holds the reports the run saw acknowledged.
  kill   a worker killed with SIGKILL: the platform names it and its signal on stderr, stops
         the other worker and exits 3.
  flags  --workers out of range, with --mqtt or hubrpcs:// is refused (exit 2) naming the flag;
         --help documents it.

Environment: HUBSIM_BIN, as ctest sets it. Exit 0 passed, 1 failed.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("HUBSIM_BIN", os.path.join(os.path.dirname(__file__), "../../../build/hubsim"))
PASSED = [0]


def fail(msg):
    """Ends the case: what did not hold, then the tally."""
    sys.stdout.write("FAIL: %s\n%d passed, 1 failed\n" % (msg, PASSED[0]))
    sys.stdout.flush()
    sys.exit(1)


def check(cond, msg):
    if cond:
        PASSED[0] += 1
        sys.stdout.write("ok: %s\n" % msg)
        sys.stdout.flush()
        return
    fail(msg)


def wait_for(what, pred, timeout=20.0):
    """pred()'s first true value, asked every 50 ms for at most timeout seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout * 20) + 1):
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return fail("%s did not happen within %.0f s" % (what, timeout))


class Platform:
    """`hubsim platform --workers N ...` with its ready file read back."""

    def __init__(self, tmp, workers, db, admin=True):
        self.ready = os.path.join(tmp, "ready")
        self.errpath = os.path.join(tmp, "platform.err")
        args = [BIN, "platform", "--workers", str(workers), "--listen", "hubrpc://127.0.0.1:0",
                "--db", db, "--ready-file", self.ready]
        if admin:
            args += ["--admin", "127.0.0.1:0"]
        self.err = open(self.errpath, "w")
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for("the platform's ready file", lambda: os.path.exists(self.ready) or self.p.poll() is not None)
        if self.p.poll() is not None:
            fail("the platform ended at start: " + self.stderr())
        self.port = int(open(self.ready).read())
        self.admin = None
        if admin:
            line = wait_for("the listening line", lambda: [l for l in self.stderr().splitlines()
                                                          if "admin on port" in l])
            self.admin = int(line[0].split("admin on port ")[1].split(",")[0])
            self.sock = socket.create_connection(("127.0.0.1", self.admin), timeout=20)
            self.f = self.sock.makefile("rw")

    def stderr(self):
        return open(self.errpath).read()

    def ask(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        r = self.f.readline()
        if not r:
            fail("the admin port closed on '%s'" % line)
        return json.loads(r)

    def wait(self, timeout=30):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            fail("the platform did not end within %d s" % timeout)

    def workers_pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.p.pid)], capture_output=True,
                             text=True).stdout
        return [int(x) for x in out.split()]


def shard_rows(path, sql):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def case_run(tmp):
    db = os.path.join(tmp, "p.db")
    plat = Platform(tmp, 2, db)
    summary = os.path.join(tmp, "summary.json")
    run = subprocess.Popen([BIN, "run", "--platform", "hubrpc://127.0.0.1:%d" % plat.port,
                            "--hubs", "200", "--duration", "4s", "--summary", summary],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for("200 open sessions", lambda: plat.ask("stats")["sessions_open"] == 200)
    per = plat.ask("workers")["workers"]
    check(len(per) == 2 and all(w["counters"]["sessions_open"] > 0 for w in per),
          "both workers hold sessions: %s" % [w["counters"]["sessions_open"] for w in per])
    # One device of a hub of each worker, from that worker's own shard (WAL: read while it runs).
    targets = []
    for i in range(2):
        rows = wait_for("a device in shard %d" % i, lambda: shard_rows(
            "%s.w%d" % (db, i), "SELECT hub_id, eui64 FROM devices LIMIT 1"))
        targets.append(rows[0])
    ids = []
    for hub, eui in targets:
        r = plat.ask("command %s %016x 1 0006 02" % (hub, eui & 0xFFFFFFFFFFFFFFFF))
        check("cmd_id" in r, "command to %s through the admin port: %s" % (hub, r))
        ids.append(r["cmd_id"])
    check(ids[0] % 2 == 1 and ids[1] % 2 == 0, "each worker issues its own cmd_ids: %s" % ids)
    r = plat.ask("command hub-nosuch 0000000000000001 1 0006 02")
    check(r.get("error") == "hub 'hub-nosuch' is not online", "a hub no worker holds: %s" % r)
    wait_for("both command results", lambda: (lambda s: s["commands_ok"] + s["commands_failed"] == 2)(plat.ask("stats")))
    out, err = run.communicate(timeout=60)
    check(run.returncode == 0, "hubsim run exits 0 (%d): %s" % (run.returncode, err[-300:]))
    s = json.load(open(summary))
    c = s["counts"]
    check(c["lost"] == 0 and c["reports"]["acked"] == c["reports"]["generated"] > 0,
          "lost 0, every report acked (%d)" % c["reports"]["acked"])
    check(s["commands"]["received"] == 2, "the hubs received both commands: %s" % s["commands"])
    st = plat.ask("stats")
    per = [w["counters"] for w in plat.ask("workers")["workers"]]
    for k in ("sessions_accepted", "reports_new", "reports_committed", "joined", "commands_sent",
              "acks_sent", "frames_in", "hubs_known"):
        check(st[k] == per[0][k] + per[1][k], "stats %s %d = %d + %d" % (k, st[k], per[0][k], per[1][k]))
    check(all(w["sessions_accepted"] > 0 and w["commands_sent"] == 1 for w in per),
          "both workers got sessions and one command each")
    check(st["reports_committed"] == c["reports"]["acked"],
          "stats reports_committed %d = the run's acked reports" % st["reports_committed"])
    check(st["joined"] == c["device_joined"]["acked"],
          "stats joined %d = the run's acked joins" % st["joined"])
    plat.p.send_signal(signal.SIGTERM)
    check(plat.wait() == 0, "SIGTERM: exit 0")
    rows = [shard_rows("%s.w%d" % (db, i), "SELECT count(*) FROM reports")[0][0] for i in range(2)]
    check(all(n > 0 for n in rows) and sum(rows) == c["reports"]["acked"],
          "the shards hold %s reports, the run's acked %d" % (rows, c["reports"]["acked"]))
    cmds = [shard_rows("%s.w%d" % (db, i), "SELECT count(*) FROM commands")[0][0] for i in range(2)]
    check(cmds == [1, 1], "each shard holds its worker's command: %s" % cmds)
    check("platform: counters {" in plat.stderr(), "the summed counters are printed at exit")


def case_kill(tmp):
    plat = Platform(tmp, 2, ":memory:", admin=False)
    pids = wait_for("two workers", lambda: (lambda p: p if len(p) == 2 else None)(plat.workers_pids()))
    os.kill(pids[1], signal.SIGKILL)
    rc = plat.wait()
    err = plat.stderr()
    check(rc == 3, "a worker killed: the platform exits 3 (%d)" % rc)
    check("(pid %d) was killed by signal 9" % pids[1] in err, "stderr names the worker and signal: "
          + [l for l in err.splitlines() if "hubsim platform:" in l].__repr__())
    alive = [p for p in pids if os.path.exists("/proc/%d" % p) and
             open("/proc/%d/stat" % p).read().split()[2] != "Z"]
    check(alive == [], "no worker is left running: %s" % alive)


def case_flags(tmp):
    for args, why in ((["--workers", "0"], "whole number from 1 to 64"),
                      (["--workers", "65"], "whole number from 1 to 64"),
                      (["--workers", "2", "--mqtt", "mqtt://127.0.0.1:1883"], "broker"),
                      (["--workers", "2", "--listen", "hubrpcs://127.0.0.1:0", "--cert", "a",
                        "--key", "b"], "plain hubrpc://")):
        try:
            p = subprocess.run([BIN, "platform", "--db", ":memory:"] + args, capture_output=True,
                               text=True, timeout=20)
        except subprocess.TimeoutExpired:
            fail("%s was not refused: the platform ran" % " ".join(args))
        check(p.returncode == 2 and "--workers" in p.stderr and why in p.stderr,
              "%s: exit 2 naming --workers (%s)" % (" ".join(args), p.stderr.strip()))
    h = subprocess.run([BIN, "platform", "--help"], capture_output=True, text=True, timeout=20).stdout
    check("--workers N" in h, "--help documents --workers")


def main():
    cases = {"run": case_run, "kill": case_kill, "flags": case_flags}
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: test_platform_workers.py run|kill|flags")
        return 2
    with tempfile.TemporaryDirectory(prefix="hubsim-workers-") as tmp:
        cases[sys.argv[1]](tmp)
    print("%d passed, 0 failed" % PASSED[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
