#!/usr/bin/env bash
# bench/mqtt/smoke.sh BUILD: a few seconds of bench/mqtt/run.sh so that a broken benchmark
# shows up in ctest (test_bench_mqtt_smoke): 20 hubs for 2 s, the floor, libmosquitto and
# hubsim (no npm), then the JSON is checked: its shape, every hub connected, for the floor and
# libmosquitto acked == sent == what the schedule asks for, for hubsim (whose publishes are its
# devices' state messages) sent > 0 and acked == sent, the subscriber got at least what was
# acked, and each generator exited 0 (in the ASan build: without a sanitizer report). Speed is
# never checked.
# Exit: 0 pass, 1 a check failed, 77 mosquitto is not installed (ctest: skipped).
set -u -o pipefail
BUILD=${1:?usage: smoke.sh BUILD}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] ||
  { echo "smoke: mosquitto not installed (scripts/deps.sh)"; exit 77; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
timeout --kill-after=5 100 "$SRC/bench/mqtt/run.sh" --build "$BUILD" --hubs 20 --interval 1s \
  --duration 2s --connect-hubs 20 --connect-idle 0s --connect-duration 0s \
  --generators floor,libmosquitto,hubsim --json "$D/out.json" >"$D/table" 2>"$D/log"
rc=$?
cat "$D/table"
[ $rc -eq 0 ] || { echo "smoke: run.sh exited $rc"; cat "$D/log"; exit 1; }
python3 - "$D/out.json" "$D/table" <<'PY'
import json, sys

doc = json.load(open(sys.argv[1]))
table = open(sys.argv[2]).read()
bad = []


def check(cond, what):
    if not cond:
        bad.append(what)


for k in ("date", "command", "broker", "cpus", "rounds", "interval_ms", "payload", "generators"):
    check(k in doc, "top level: no %r" % k)
gens = doc.get("generators", {})
for g in ("floor", "libmosquitto"):
    e = gens.get(g, {})
    check(e.get("status") == "measured", "%s: status %r, reason %r" % (g, e.get("status"), e.get("reason")))
    for p, sent in (("publish", 40), ("connect", 0)):
        r = e.get(p)
        if r is None:
            check(False, "%s: no %s pattern" % (g, p))
            continue
        check(r["hubs"] == 20 and r["connected"] == 20, "%s %s: %d of %d connected" % (g, p, r["connected"], r["hubs"]))
        check(r["sent"] == sent, "%s %s: sent %d, the schedule asks for %d" % (g, p, r["sent"], sent))
        check(r["acked"] == r["sent"], "%s %s: acked %d != sent %d" % (g, p, r["acked"], r["sent"]))
        check(r["delivered"] >= r["acked"], "%s %s: delivered %d < acked %d" % (g, p, r["delivered"], r["acked"]))
        check(r["errors"] == 0 and r["complete"], "%s %s: errors %d, complete %r" % (g, p, r["errors"], r["complete"]))
        check(isinstance(r["conn_per_s"], float) and r["conn_per_s"] > 0, "%s %s: conn_per_s %r" % (g, p, r["conn_per_s"]))
        check(isinstance(r["mem_per_hub_b"], (int, float)), "%s %s: mem_per_hub_b %r" % (g, p, r["mem_per_hub_b"]))
        if sent:
            check(isinstance(r["cpu_per_publish_us"], float) and r["cpu_per_publish_us"] > 0,
                  "%s %s: cpu_per_publish_us %r" % (g, p, r["cpu_per_publish_us"]))
        else:
            check(r["cpu_per_publish_us"] is None, "%s %s: a CPU per publish without publishes" % (g, p))
        check(set(r["ratio_to_floor"]) == {"cpu_per_publish_us", "mem_per_hub_b", "conn_per_s"},
              "%s %s: ratio_to_floor %r" % (g, p, r["ratio_to_floor"]))
        check(len(r["rounds"]) == 1, "%s %s: %d rounds" % (g, p, len(r["rounds"])))
        for x in r["rounds"]:
            check(x["rc"] == 0, "%s %s: the generator exited %d: %s" % (g, p, x["rc"], x.get("stderr", "")))
    check(("\n  %s " % g) in table, "%s: not in the printed table" % g)
check(gens.get("floor", {}).get("publish", {}).get("ratio_to_floor", {}).get("cpu_per_publish_us") == 1.0,
      "floor: ratio to itself is not 1")
# hubsim (hubsim run --profile zigbee2mqtt, one lumi.weather per hub): what it sends depends on
# the devices, so the checks are that every hub connected, sent > 0 in the publish pattern,
# acked == sent, the subscriber got every acked state message, and the figures are there.
h = gens.get("hubsim", {})
check(h.get("status") == "measured", "hubsim: status %r, reason %r" % (h.get("status"), h.get("reason")))
for p in ("publish", "connect"):
    r = h.get(p)
    if r is None:
        check(False, "hubsim: no %s pattern" % p)
        continue
    check(r["hubs"] == 20 and r["connected"] == 20, "hubsim %s: %d of %d connected" % (p, r["connected"], r["hubs"]))
    check(r["acked"] == r["sent"], "hubsim %s: acked %d != sent %d" % (p, r["acked"], r["sent"]))
    check(r["delivered"] >= r["acked"], "hubsim %s: delivered %d < acked %d" % (p, r["delivered"], r["acked"]))
    check(r["errors"] == 0 and r["complete"], "hubsim %s: errors %d, complete %r" % (p, r["errors"], r["complete"]))
    check(isinstance(r["conn_per_s"], float) and r["conn_per_s"] > 0, "hubsim %s: conn_per_s %r" % (p, r["conn_per_s"]))
    check(isinstance(r["mem_per_hub_b"], (int, float)), "hubsim %s: mem_per_hub_b %r" % (p, r["mem_per_hub_b"]))
    for x in r["rounds"]:
        check(x["rc"] == 0 and x["exit"] == 0, "hubsim %s: exit %d/%d: %s" % (p, x["rc"], x["exit"], x.get("stderr", "")))
        check(x["rss_before"] > 0 and x["rss_idle"] > 0, "hubsim %s: rss %r %r" % (p, x["rss_before"], x["rss_idle"]))
        check(x["bridge_messages"] >= 20, "hubsim %s: %d bridge messages for 20 hubs" % (p, x["bridge_messages"]))
        check(x["state_messages"] == r["delivered"], "hubsim %s: state messages %d != delivered %d" % (p, x["state_messages"], r["delivered"]))
        for k in ("publish_acked", "state_bytes_mean", "state_per_hub_per_s", "speedup", "model", "phase_ms"):
            check(k in x, "hubsim %s: no %r" % (p, k))
pub = h.get("publish", {})
check(pub.get("sent", 0) > 0, "hubsim publish: nothing sent")
check(isinstance(pub.get("cpu_per_publish_us"), float), "hubsim publish: cpu_per_publish_us %r" % pub.get("cpu_per_publish_us"))
check("\n  hubsim " in table, "hubsim: not in the printed table")
check("INCOMPLETE" not in table, "the table says INCOMPLETE")
for b in bad:
    print("smoke: FAIL: " + b)
print("smoke: %s (%d checks failed)" % ("PASS" if not bad else "FAIL", len(bad)))
sys.exit(1 if bad else 0)
PY
