#!/usr/bin/env python3
"""hubsim run --prometheus scraped by a real Prometheus.

A run of two worker processes serves /metrics; a Prometheus started here with a generated
configuration scrapes it every 250 ms. The test checks that:
  - `promtool check metrics` accepts a page scraped while the run goes on;
  - clients that misbehave (more connections than the cap, a head over 8 KiB, a request that
    never ends, an unknown path or method) get refused or closed, and neither stall the run
    nor stop Prometheus from scraping it;
  - once the run has ended (the endpoint lingers with the final figures), Prometheus' latest
    samples of the counters equal the summary's counts;
  - every metric deploy/grafana/hubsim.json queries is one the page exposes.
Exit 77 (skipped) when prometheus or promtool is not installed (scripts/deps.sh installs them).

Usage: test_prometheus.py HUBSIM_BIN SOURCE_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

BIN, SRC = sys.argv[1], sys.argv[2]


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def wait_for(what, fn, timeout):
    """fn() until it returns something true, at most timeout seconds: that value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out after %.0f s waiting for %s" % (timeout, what))


def free_port():
    # Prometheus cannot report a port it chose itself: take a free one from the kernel.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def raw(port, data, timeout=3.0):
    """Sends data on a new connection and returns what the server answers before closing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def hostile_clients(port):
    # An unknown path and a method other than GET.
    if not raw(port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 404"):
        fail("GET /nope is not 404")
    if not raw(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 405"):
        fail("POST /metrics is not 405")
    if not raw(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400"):
        fail("a malformed request line is not 400")
    # A head that never ends within the bound.
    big = b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n"
    if not raw(port, big).startswith(b"HTTP/1.1 431"):
        fail("a head over 8 KiB is not 431")
    # More idle connections than the cap: the ones above it are closed at once.
    idle = [socket.create_connection(("127.0.0.1", port), timeout=3) for _ in range(16)]
    t0 = time.monotonic()
    extra = raw(port, b"GET /metrics HTTP/1.1\r\n\r\n")
    if extra != b"" or time.monotonic() - t0 > 2.5:
        fail("a connection over the cap was served or held: %r" % extra[:40])
    # A request that never ends holds its slot until the timeout, not longer.
    t0 = time.monotonic()
    idle[0].sendall(b"GET /metr")
    idle[0].settimeout(10)
    if idle[0].recv(100) != b"":
        fail("an unfinished request got an answer")
    if time.monotonic() - t0 > 8:
        fail("an unfinished request was held more than 8 s")
    for s in idle:
        s.close()


def promtool_check(page, what):
    chk = subprocess.run(["promtool", "check", "metrics"], input=page.encode(),
                         capture_output=True)
    if chk.returncode != 0:
        fail("promtool check metrics (%s): %s" % (what, (chk.stdout + chk.stderr).decode()))


def prom_query(pport, q):
    u = "http://127.0.0.1:%d/api/v1/query?query=%s" % (pport, urllib.parse.quote(q))
    try:
        r = json.loads(http_get(u))
    except OSError:
        return None
    res = r.get("data", {}).get("result", [])
    return [(x["metric"], float(x["value"][1])) for x in res]


def main():
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        print("prometheus or promtool not installed (scripts/deps.sh): skipped")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="hubsim-prom-")
    procs = []
    try:
        run(tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("1 passed, 0 failed")


def run(tmp, procs):
    summary = os.path.join(tmp, "summary.json")
    err = open(os.path.join(tmp, "hubsim.err"), "w+")
    hub = subprocess.Popen([BIN, "run", "--hubs", "8", "--workers", "2", "--duration", "10s",
                            "--prometheus", "127.0.0.1:0", "--prometheus-linger", "60s",
                            "--summary", summary, "--allow-lag", "-q"],
                           stdout=subprocess.DEVNULL, stderr=err)
    procs.append(hub)

    def addr():
        err.seek(0)
        m = re.search(r"Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics", err.read())
        return int(m.group(1)) if m else None
    hport = wait_for("hubsim's endpoint address", addr, 15)

    # Before Prometheus starts, so that the connection cap is the test's alone to fill.
    hostile_clients(hport)

    pport = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 250ms\n  scrape_timeout: 250ms\n"
                "scrape_configs:\n  - job_name: hubsim\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % hport)
    prom = subprocess.Popen(["prometheus", "--config.file", cfg,
                             "--storage.tsdb.path", os.path.join(tmp, "data"),
                             "--web.listen-address", "127.0.0.1:%d" % pport],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prom.err"), "w"))
    procs.append(prom)

    # A page while the run goes on, checked by promtool. The server may not have seen the
    # test's idle connections close yet (they count against the cap until it does).
    def try_get():
        try:
            return http_get("http://127.0.0.1:%d/metrics" % hport)
        except OSError:
            return None
    page = wait_for("a page once the idle connections are gone", try_get, 15)
    promtool_check(page, "a live page")
    if not re.search(r"^hubsim_run_ended 0$", page, re.M):
        fail("the run was already over at the first scrape: the test saw nothing live")

    wait_for("Prometheus scraping hubsim (up == 1)",
             lambda: (prom_query(pport, 'up{job="hubsim"}') or [(0, 0)])[0][1] == 1, 30)
    wait_for("the end of the run (its summary)", lambda: os.path.exists(summary), 60)
    wait_for("a scrape of the final figures",
             lambda: (prom_query(pport, "hubsim_run_ended") or [(0, 0)])[0][1] == 1, 30)

    s = json.load(open(summary))
    if s["verdict"]["exit_code"] != 0:
        fail("the run did not pass: " + json.dumps(s.get("verdict")))
    kinds = {"report": "reports", "device_joined": "device_joined",
             "device_left": "device_left", "command_result": "command_results"}
    compared = 0
    for field in ("generated", "sent", "resent", "acked", "dropped"):
        got = {m["kind"]: v for m, v in prom_query(pport, "hubsim_messages_%s_total" % field)}
        for kind, key in kinds.items():
            want = s["counts"][key][field]
            if got.get(kind) != want:
                fail("hubsim_messages_%s_total{kind=%s}: Prometheus %s, summary %s"
                     % (field, kind, got.get(kind), want))
            compared += 1
    if s["counts"]["reports"]["acked"] == 0:
        fail("no report was acknowledged: nothing was compared")
    lost = prom_query(pport, "hubsim_messages_lost")[0][1]
    if lost != s["counts"]["lost"]:
        fail("hubsim_messages_lost %s, summary %s" % (lost, s["counts"]["lost"]))
    print("Prometheus' last samples equal the summary (%d counters; %d reports acked)"
          % (compared, s["counts"]["reports"]["acked"]))

    hub.send_signal(signal.SIGTERM)  # ends the linger
    try:
        rc = hub.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fail("hubsim did not end within 10 s of SIGTERM during its linger")
    if rc != 0:
        err.seek(0)
        fail("hubsim exited %d: %s" % (rc, err.read()[-2000:]))
    dashboard(tmp, procs)


def dashboard(tmp, procs):
    """The final page of a scenario run (which adds the expectations; a scenario runs in one
    process): promtool, then every metric the dashboard queries against it."""
    lua = os.path.join(tmp, "prom.lua")
    with open(lua, "w") as f:
        f.write('scenario{name = "prom", duration = "2s", seed = 1}\n'
                'fleet{hubs = 2, devices_per_hub = 4}\n'
                'expect("report.rtt.p99", "<", "10s")\n')
    err = open(os.path.join(tmp, "hubsim2.err"), "w+")
    hub = subprocess.Popen([BIN, "run", lua, "--prometheus", "127.0.0.1:0",
                            "--prometheus-linger", "60s", "--allow-lag", "-q"],
                           stdout=subprocess.PIPE, stderr=err)
    procs.append(hub)

    def final_page():
        err.seek(0)
        m = re.search(r"Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics", err.read())
        if not m:
            return None
        try:
            page = http_get("http://127.0.0.1:%s/metrics" % m.group(1))
        except OSError:
            return None
        return page if re.search(r"^hubsim_run_ended 1$", page, re.M) else None
    page = wait_for("the final page of the scenario run", final_page, 60)
    promtool_check(page, "the final page")
    if not re.search(r'^hubsim_expectations\{state="passed"\} 1$', page, re.M):
        fail("the scenario's expectation is not shown as passed: " +
             "\n".join(l for l in page.splitlines() if "expectations" in l))
    exposed = set(re.findall(r"^([a-z_:][a-z0-9_:]*)[{ ]", page, re.M))
    dash = json.load(open(os.path.join(SRC, "deploy", "grafana", "hubsim.json")))
    queried = set()
    for p in dash["panels"]:
        for t in p.get("targets", []):
            queried.update(re.findall(r"\b(hubsim_[a-z0-9_]+)", t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if isinstance(v.get("query"), str):
            queried.update(re.findall(r"\b(hubsim_[a-z0-9_]+)", v["query"]))
    missing = sorted(queried - exposed)
    if missing:
        fail("deploy/grafana/hubsim.json queries metrics hubsim does not expose: %s" % missing)
    if len(queried) < 10:
        fail("the dashboard queries only %d metrics" % len(queried))
    print("the dashboard's %d metrics are all exposed" % len(queried))
    hub.send_signal(signal.SIGINT)  # ends the linger too
    if hub.wait(timeout=10) != 0:
        fail("the scenario run did not pass")


if __name__ == "__main__":
    main()
