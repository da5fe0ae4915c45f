#!/usr/bin/python3
"""hubsim conform against real platforms, one check per ctest test:

  plain            the reference platform (`hubsim platform`, hubrpc://) passes every case,
                   ack.survives_restart included (--restart-cmd kills it with SIGKILL and starts
                   it again on the same port and database) and the command cases
                   (--command-cmd asks its admin port for a Command: `--command` below);
                   the platform's result deadline is 2 s (--command-timeout 2, and
                   --command-deadline 2s to the suite), so cmd.result_late waits 3 s;
                   session.shutdown stops it with SIGTERM (--stop-cmd: `--stop` below) and
                   starts it again with --restart-cmd;
  late             cmd.result_late alone, past the reference platform's 2 s deadline: the
                   late result is acknowledged, and the platform counted it as late;
  tls              the same over hubrpcs:// with the test PKI of tests/integration/tls;
  defect NAME      `hubsim platform --defect NAME` fails exactly the cases expected of NAME and
                   passes every other (the sets are asserted, not "some failed");
  sketch           the Python platform of docs/protocol.md section 15 (the code block as printed,
                   served as tests/integration/protocol_doc does); its results are compared with
                   the set recorded below, so a change either way is noticed;
  flags            bad flags exit 2 with a message naming the flag; an unreachable platform 3.

Environment: HUBSIM_BIN, HUBSIM_SOURCE_DIR (ctest sets both). Exit 0 passed, 1 failed, 77
skipped (a missing dependency of the sketch).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

SRC = os.environ.get("HUBSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
BIN = os.environ.get("HUBSIM_BIN", os.path.join(SRC, "build", "hubsim"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "protocol_doc"))
import test_sketch_platform as tsp  # noqa: E402  (its helpers; protobuf is loaded only by load_sketch)
from test_sketch_platform import check, fail  # noqa: E402

# What each defect must fail (and skip); every other case must pass. ack-before-commit and
# no-dedup run with --commit-ms 1000, so that what they break is visible every time: data
# acknowledged before its commit is still uncommitted when the hub reconnects, and the resent
# seqs of resend.after_reconnect are still duplicates of uncommitted data.
DEFECTS = {
    "ack-before-commit": ({"ack.after_store", "ack.survives_restart", "resend.after_reconnect"},
                          # An Ack per Report moves the window with every message: it cannot
                          # be overrun, and the case says so rather than pass.
                          {"window.exceeded"}),
    "no-dedup": ({"dedup.resend", "resend.after_reconnect"}, set()),
    "accept-bad-mac": ({"auth.bad_mac", "auth.replay"}, set()),
    "ignore-window": ({"window.exceeded"}, set()),
    "no-timeout": ({"timeout.handshake", "timeout.idle", "timeout.idle_drip"}, set()),
}
SLOW_COMMIT = {"ack-before-commit", "no-dedup"}

# The Python sketch of docs/protocol.md section 15 against the suite: what it fails, and why
# (docs/conformance.md, "The Python sketch"). Recorded so that a change in either is seen.
SKETCH_FAILS = {
    # Section 15's read loop moves the idle deadline on any bytes ("any bytes" in its code),
    # where section 8 says only a complete frame resets the idle timer: a peer that drips one
    # byte at a time keeps its session there.
    "timeout.idle_drip": "the sketch resets its idle timer on any bytes, not on complete frames",
    # The sketch leaves "end an older session of the same hub_id with Error{DUPLICATE_SESSION}"
    # to store.open_session (its comment says so); the store that tests/integration/protocol_doc
    # completes it with does not do it, so the first session stays until its idle timeout.
    "session.duplicate": "the store the sketch is completed with never ends the older session",
}
# The sketch has no way to be asked for a Command: every case that needs one is skipped.
CMD_CASES = {"cmd.delivered", "cmd.id_unique", "cmd.result_late", "cmd.result_left"}
SKETCH_SKIPS = {"ack.survives_restart", "session.shutdown"} | CMD_CASES
# The reference platform's runs give it a result deadline of 2 s (--command-timeout) and tell
# the suite so (--command-deadline), so that cmd.result_late waits 3 s instead of 31.
MAX_WAIT = ["--max-wait", "20s"]
DEADLINE_PLATFORM = ["--command-timeout", "2"]
DEADLINE_CONFORM = ["--command-deadline", "2s"]
LONG_SKIPS = set()
ADMIN_TOKEN = "conform-admin-token"


def die_with_parent():
    """The platform dies with the test (PR_SET_PDEATHSIG), so a failed test leaves nothing."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
    except OSError:
        pass


def wait_file(path, what, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                return f.read().strip()
        time.sleep(0.05)
    fail("%s: no %s within %d s" % (path, what, timeout))


def platform_argv(state):
    return [BIN, "platform", "--listen", "%s://127.0.0.1:%d" % (state["scheme"], state["port"]),
            "--db", state["db"], "--ready-file", state["ready"]] + state["extra"]


def admin_port(log_path, timeout=30):
    """The admin port the platform bound (127.0.0.1:0), from its start line in the log."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(log_path) as f:
            m = re.search(r"admin on port (\d+)", f.read())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    fail("%s: no admin port within %d s" % (log_path, timeout))


def start_platform(tmp, scheme="hubrpc", extra=()):
    """Starts `hubsim platform` on a free port with an admin port (its token in a file of the
    test's own); returns its state (saved for --restart-cmd and --command)."""
    token = os.path.join(tmp, "admin.token")
    fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, ADMIN_TOKEN.encode())
    os.close(fd)
    state = {"scheme": scheme, "port": 0, "db": os.path.join(tmp, "platform.db"),
             "ready": os.path.join(tmp, "ready"),
             "extra": ["--heartbeat", "1", "--admin-token-file", token] + list(extra),
             "log": os.path.join(tmp, "platform.log"), "file": os.path.join(tmp, "state.json")}
    with open(state["log"], "ab") as log:
        p = subprocess.Popen(platform_argv(state) + ["--admin", "127.0.0.1:0"], stdout=log,
                             stderr=log, preexec_fn=die_with_parent)
    state["pid"] = p.pid
    state["port"] = int(wait_file(state["ready"], "port"))
    # A restart listens on the same admin port, so that --command finds it again.
    state["admin"] = admin_port(state["log"])
    state["extra"] += ["--admin", "127.0.0.1:%d" % state["admin"]]
    with open(state["file"], "w") as f:
        json.dump(state, f)
    return state, p


def wait_gone(pid, timeout=10):
    """Waits until pid ended (a zombie of this test counts: it is the test's to reap)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1][0] in "ZX":
                    return True
        except (FileNotFoundError, IndexError):
            return True
        time.sleep(0.02)
    return False


def stop(state_file):
    """--stop-cmd: SIGTERM, the platform's orderly stop (a final commit, its Acks, then
    Error{SHUTTING_DOWN}); returns once the process ended."""
    with open(state_file) as f:
        state = json.load(f)
    os.kill(state["pid"], signal.SIGTERM)
    if not wait_gone(state["pid"]):
        fail("the platform (pid %d) did not stop within 10 s of SIGTERM" % state["pid"])


def restart(state_file):
    """--restart-cmd: SIGKILL (no final commit, the harshest stop), then the same platform on
    the same port and database; returns once it listens again. A platform that --stop-cmd
    stopped already is only started."""
    with open(state_file) as f:
        state = json.load(f)
    try:
        os.kill(state["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_gone(state["pid"])
    os.unlink(state["ready"])
    with open(state["log"], "ab") as log:
        p = subprocess.Popen(platform_argv(state), stdout=log, stderr=log, start_new_session=True)
    state["pid"] = p.pid
    wait_file(state["ready"], "port after the restart")
    with open(state_file, "w") as f:
        json.dump(state, f)


def admin(state, lines, timeout=10):
    """Sends the admin lines after `auth TOKEN`; returns the reply to each, parsed."""
    with socket.create_connection(("127.0.0.1", state["admin"]), timeout=timeout) as s:
        s.sendall(("auth %s\n" % ADMIN_TOKEN + "".join(line + "\n" for line in lines)).encode())
        f = s.makefile("r")
        replies = [json.loads(f.readline()) for _ in range(len(lines) + 1)]
    if replies[0] != {"auth": "ok"}:
        fail("admin port: auth refused: %s" % replies[0])
    return replies[1:]


def command(state_file, hub, eui64):
    """--command-cmd: asks the reference platform's admin port for an on/off Toggle (cluster
    0x0006, command 0x02) to eui64 behind hub; exits 0 once the platform sent it."""
    with open(state_file) as f:
        state = json.load(f)
    reply = admin(state, ["command %s %s 1 0006 02" % (hub, eui64)])[0]
    print(json.dumps(reply))
    sys.exit(0 if "cmd_id" in reply else 1)


def stop_platform(state, p):
    with open(state["file"]) as f:
        pid = json.load(f)["pid"]
    for q in {pid, p.pid}:
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait(timeout=10)


def conform(url, tmp, extra=(), restart_state=None, timeout=150):
    """Runs hubsim conform; returns (exit code, {case: verdict}, output). With restart_state:
    the reference platform's --restart-cmd and --command-cmd (this file as its own hooks)."""
    junit = os.path.join(tmp, "conform.xml")
    argv = [BIN, "conform", "--platform", url, "--junit", junit] + list(extra)
    if restart_state:
        me = "%s %s" % (sys.executable, os.path.abspath(__file__))
        argv += ["--restart-cmd", "%s --restart %s" % (me, restart_state["file"]),
                 "--command-cmd", "%s --command %s {hub} {eui64}" % (me, restart_state["file"]),
                 "--stop-cmd", "%s --stop %s" % (me, restart_state["file"])]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    print(r.stdout, flush=True)
    results = {}
    if os.path.exists(junit):
        for tc in ET.parse(junit).getroot().iter("testcase"):
            v = "pass"
            if tc.find("failure") is not None:
                v = "fail"
            elif tc.find("skipped") is not None:
                v = "skipped"
            results[tc.get("name")] = v
    return r.returncode, results, r.stdout + r.stderr


def listed():
    r = subprocess.run([BIN, "conform", "--list"], capture_output=True, text=True, timeout=30)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def assert_sets(results, fails, skips, who):
    cases = listed()
    check(sorted(results) == sorted(cases), "%s: the JUnit file holds every case (%d)" %
          (who, len(cases)))
    got_f = {c for c, v in results.items() if v == "fail"}
    got_s = {c for c, v in results.items() if v == "skipped"}
    check(got_f == fails, "%s fails exactly %s (got %s)" % (who, sorted(fails) or "nothing",
                                                             sorted(got_f) or "nothing"))
    check(got_s == skips, "%s skips exactly %s (got %s)" % (who, sorted(skips) or "nothing",
                                                             sorted(got_s) or "nothing"))


def run_reference(scheme, defect=None):
    with tempfile.TemporaryDirectory(prefix="hubsim-conform-") as tmp:
        extra, cextra = [], []
        if scheme == "hubrpcs":
            mk = os.path.join(SRC, "tests", "integration", "tls", "mkcerts.sh")
            subprocess.run(["sh", mk, tmp], check=True, timeout=120)
            extra = ["--cert", os.path.join(tmp, "server.pem"), "--key",
                     os.path.join(tmp, "server.key")]
            cextra = ["--ca", os.path.join(tmp, "ca.pem")]
        if defect:
            extra += ["--defect", defect]
            if defect in SLOW_COMMIT:
                extra += ["--commit-ms", "1000"]
            if defect == "no-timeout":
                cextra += ["--timeout", "3s"]
        state, p = start_platform(tmp, scheme, extra + DEADLINE_PLATFORM)
        try:
            url = "%s://127.0.0.1:%d" % (scheme, state["port"])
            rc, results, out = conform(url, tmp, cextra + MAX_WAIT + DEADLINE_CONFORM,
                                       restart_state=state)
        finally:
            stop_platform(state, p)
        who = "hubsim platform" + (" --defect " + defect if defect else "") + " over " + scheme
        fails, skips = DEFECTS[defect] if defect else (set(), set())
        skips = skips | LONG_SKIPS
        assert_sets(results, fails, skips, who)
        check(rc == (1 if fails else 0), "%s: hubsim conform exits %d" % (who, rc))


def run_late():
    """cmd.result_late alone against the reference platform with its 2 s deadline: the late
    result is acknowledged, and the platform's own counters show that it was late there, so
    the case did wait past the deadline."""
    with tempfile.TemporaryDirectory(prefix="hubsim-conform-late-") as tmp:
        state, p = start_platform(tmp, extra=DEADLINE_PLATFORM)
        try:
            rc, results, out = conform("hubrpc://127.0.0.1:%d" % state["port"], tmp,
                                       ["--only", "cmd.result_late"] + DEADLINE_CONFORM,
                                       restart_state=state)
            stats = admin(state, ["stats"])[0]
        finally:
            stop_platform(state, p)
        check(results == {"cmd.result_late": "pass"} and rc == 0,
              "cmd.result_late passes against the reference platform (got %s, exit %d)" %
              (results, rc))
        check(stats.get("command_results_late") == 1 and stats.get("commands_timed_out") == 1,
              "the platform counted the command as timed out and its result as late "
              "(commands_timed_out %s, command_results_late %s)" %
              (stats.get("commands_timed_out"), stats.get("command_results_late")))


def run_sketch():
    with tempfile.TemporaryDirectory(prefix="hubsim-conform-sketch-") as tmp:
        sk = tsp.load_sketch(tmp)  # exits 77 when protoc or python3-protobuf is missing
        # Its module globals: a heartbeat of 1 s, so that the idle cases take 3 s, not 90.
        sk["HEARTBEAT_S"] = 1
        port, end = tsp.start_server(sk, tsp.Store(sk))
        try:
            rc, results, out = conform("hubrpc://127.0.0.1:%d" % port, tmp)
        finally:
            end()
        assert_sets(results, set(SKETCH_FAILS), SKETCH_SKIPS, "the Python sketch platform")
        check(rc == (1 if SKETCH_FAILS else 0), "the sketch: hubsim conform exits %d" % rc)


def run_flags():
    def bad(argv, code, word):
        r = subprocess.run([BIN, "conform"] + argv, capture_output=True, text=True, timeout=30)
        check(r.returncode == code and word in r.stderr,
              "hubsim conform %s exits %d naming %s (got %d: %s)" %
              (" ".join(argv), code, word, r.returncode, r.stderr.strip()))
    bad([], 2, "--platform")
    bad(["--platform", "http://127.0.0.1:1"], 2, "--platform")
    bad(["--platform", "hubrpc://127.0.0.1:0"], 2, "--platform")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--only", "frame.nope"], 2, "--only")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--timeout", "soon"], 2, "--timeout")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--max-wait", "0"], 2, "--max-wait")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--command-cmd", ""], 2, "--command-cmd")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--stop-cmd", ""], 2, "--stop-cmd")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--command-deadline", "0s"], 2,
        "--command-deadline")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--ca", "x.pem"], 2, "--ca")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--bogus"], 2, "--bogus")
    bad(["--platform", "hubrpc://127.0.0.1:7800", "--fleet-key-file", "/nonexistent/key"], 2,
        "--fleet-key-file")
    bad(["--platform", "hubrpcs://127.0.0.1:7800", "--ca", "/nonexistent/ca.pem"], 2,
        "/nonexistent/ca.pem")
    # A port nobody listens on: bound and closed at once, so it is free.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    bad(["--platform", "hubrpc://127.0.0.1:%d" % port], 3, "cannot reach")
    r = subprocess.run([BIN, "conform", "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "--restart-cmd" in r.stdout and "--command-cmd" in r.stdout
          and "exit codes" in r.stdout,
          "hubsim conform --help describes the flags and exit codes")
    r = subprocess.run([BIN, "platform", "--defect", "sloppy"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 2 and "--defect" in r.stderr,
          "hubsim platform --defect sloppy exits 2 naming --defect")
    check(len(listed()) >= 40, "hubsim conform --list names %d cases" % len(listed()))


def main():
    args = sys.argv[1:]
    if args[:1] == ["--restart"]:
        restart(args[1])
        return
    if args[:1] == ["--stop"]:
        stop(args[1])
        return
    if args[:1] == ["--command"] and len(args) == 4:
        command(*args[1:])
        return
    if args == ["plain"]:
        run_reference("hubrpc")
    elif args == ["tls"]:
        run_reference("hubrpcs")
    elif len(args) == 2 and args[0] == "defect" and args[1] in DEFECTS:
        run_reference("hubrpc", args[1])
    elif args == ["late"]:
        run_late()
    elif args == ["sketch"]:
        run_sketch()
    elif args == ["flags"]:
        run_flags()
    else:
        fail("usage: test_conform.py plain|tls|late|defect NAME|sketch|flags")
    print("PASS")


if __name__ == "__main__":
    main()
