#!/usr/bin/env python3
"""hubsim run --report DIR opened in headless Chromium.

A scenario run (power-cut, virtual clock) writes DIR/index.html. Chromium loads it from the
file system and dumps the DOM it rendered; the test checks that:
  - the page is self-contained: no script, nothing loaded from elsewhere;
  - every chart is an <svg data-chart> in the rendered DOM with its lines (<path data-series>,
    each with drawn points), and the generator chart has the --max-lag threshold;
  - a line has a gap where an interval had no sample (the Ack latency has fewer points than
    the throughput, and its path restarts), never a 0 in its place;
  - the verdict and the counts on the page are the summary's;
and takes a screenshot (the one in docs/img/metrics-report.png is made the same way, with
--screenshot-to). Exit 77 (skipped) when chromium is not installed (scripts/deps.sh installs it).

Usage: test_report_chromium.py HUBSIM_BIN [--screenshot-to FILE.png]
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
SHOT_TO = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--screenshot-to" else None


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


class Dom(html.parser.HTMLParser):
    """The charts of the rendered DOM: {chart: {series: (points, d)}} and the threshold lines."""

    def __init__(self):
        super().__init__()
        self.charts, self.thresholds, self.chart = {}, {}, None
        self.tags, self.verdict, self.in_verdict = [], "", False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "svg" and "data-chart" in a:
            self.chart = a["data-chart"]
            self.charts[self.chart] = {}
        elif tag == "path" and self.chart and "data-series" in a:
            self.charts[self.chart][a["data-series"]] = (int(a.get("data-points", "0")),
                                                         a.get("d", ""))
        elif tag == "line" and self.chart and "threshold" in a.get("class", ""):
            self.thresholds[self.chart] = a.get("data-series")
        elif tag == "div" and a.get("id") == "verdict":
            self.in_verdict = True

    def handle_endtag(self, tag):
        if tag == "svg":
            self.chart = None
        if tag == "div":
            self.in_verdict = False

    def handle_data(self, data):
        if self.in_verdict:
            self.verdict += data


def chromium(args, tmp):
    env = dict(os.environ, HOME=tmp)
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--user-data-dir=" + os.path.join(tmp, "profile")] + args
    p = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    if p.returncode != 0:
        fail("chromium %s exited %d: %s" % (args, p.returncode, p.stderr.decode()[-2000:]))
    return p.stdout.decode()


def main():
    if not shutil.which("chromium"):
        print("chromium not installed (scripts/deps.sh): skipped")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="hubsim-report-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1 passed, 0 failed")


def run(tmp):
    rep = os.path.join(tmp, "report")
    summary = os.path.join(tmp, "summary.json")
    p = subprocess.run([BIN, "run", "power-cut", "--clock", "virtual", "--hubs", "30",
                        "--report", rep, "--summary", summary, "-q"],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        fail("hubsim exited %d: %s" % (p.returncode, p.stderr.decode()[-2000:]))
    index = os.path.join(rep, "index.html")
    text = open(index, encoding="utf-8").read()

    # Self-contained: no script, and no address but the SVG namespace.
    if re.search(r"<script", text, re.I):
        fail("the page has a script")
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", text)) - {"http://www.w3.org/2000/svg"}
    if urls or re.search(r"\b(src|href)\s*=", text, re.I) or "@import" in text:
        fail("the page refers to something outside itself: %s" % sorted(urls))

    dom = Dom()
    dom.feed(chromium(["--dump-dom", "file://" + index], tmp))
    want = {
        "throughput": ["generated", "sent", "acked", "resent"],
        "latency": ["ack p50", "ack p90", "ack p99"],
        "hubs": ["hubs", "online"],
        "generator": ["tick lag p99", "send lag p99"],
        "expectations": ["passed", "failed", "pending"],
    }
    for chart, series in want.items():
        if chart not in dom.charts:
            fail("chart %s is not in the rendered DOM (charts: %s)" % (chart, list(dom.charts)))
        for s in series:
            if s not in dom.charts[chart]:
                fail("chart %s has no line %s" % (chart, s))
            points, d = dom.charts[chart][s]
            if points < 2 or not d.startswith("M"):
                fail("line %s of chart %s draws %d points" % (s, chart, points))
    if dom.thresholds.get("generator") != "max lag":
        fail("the generator chart has no max-lag line")

    thr = dom.charts["throughput"]["acked"][0]
    p50, d50 = dom.charts["latency"]["ack p50"]
    online = dom.charts["hubs"]["online"][0]
    if thr != online or thr < 300:
        fail("throughput draws %d points, hubs %d: one per interval expected" % (thr, online))
    if not p50 < thr or d50.count("M") < 2:
        fail("the Ack latency line has no gap (%d points of %d intervals, %d segments): "
             "intervals without an Ack must not be drawn" % (p50, thr, d50.count("M")))

    s = json.load(open(summary))
    if s["verdict"]["text"] not in dom.verdict:
        fail("the page's verdict %r is not the summary's %r" % (dom.verdict, s["verdict"]["text"]))
    acked = s["counts"]["reports"]["acked"]
    if not re.search(r"<th>acknowledged</th><td>%d</td>" % acked, text):
        fail("the page does not show the summary's %d acknowledged reports" % acked)
    print("rendered: %d charts, %d lines; verdict %r" % (
        len(dom.charts), sum(len(v) for v in dom.charts.values()), dom.verdict.strip()))

    shot = SHOT_TO or os.path.join(tmp, "report.png")
    chromium(["--window-size=900,3200", "--screenshot=" + shot, "file://" + index], tmp)
    with open(shot, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n" or os.path.getsize(shot) < 20000:
            fail("the screenshot is not a PNG of the page")


if __name__ == "__main__":
    main()
