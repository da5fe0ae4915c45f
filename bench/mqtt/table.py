#!/usr/bin/env python3
"""bench/mqtt/table.py: turns the raw output of bench/mqtt/run.sh (one JSON line per generator
and pattern, the subscriber's counts, the reasons a generator was not measured) into the
printed table and one JSON file. It computes ratios only; every input figure was measured by
run.sh in the same invocation."""
import argparse
import json
import os
import sys

GENS = ["floor", "libmosquitto", "mqttjs", "hubsim"]
PATTERNS = ["publish", "connect"]


def derive(raw):
    """Per-hub and per-publish figures from one generator's JSON line; None where a divisor is 0
    or a reading failed (never a made-up figure)."""
    out = dict(raw)
    acked, conn = raw["acked"], raw["connected"]
    # hubsim's publishes of the publish phase alone (its acked counts the whole run).
    pub = raw.get("publish_acked", acked)
    out["cpu_per_publish_us"] = raw["publish_cpu_s"] * 1e6 / pub if pub else None
    ok_rss = raw["rss_idle"] >= 0 and raw["rss_before"] >= 0
    out["mem_per_hub_b"] = (raw["rss_idle"] - raw["rss_before"]) / conn if conn and ok_rss else None
    out["conn_per_s"] = conn / raw["connect_s"] if conn and raw["connect_s"] > 0 else None
    out["complete"] = (conn == raw["hubs"] and acked == raw["sent"] and raw["errors"] == 0
                       and raw["delivered"] >= acked)
    return out


def load_one(base, p):
    """One generator's run of one pattern in one round: its derived figures, or an error text."""
    rc = int(open(base + ".rc").read().strip() or -1)
    err = open(base + ".err").read().strip().splitlines()
    try:
        raw = json.loads(open(base + ".json").read())
    except (OSError, ValueError):
        return None, "%s pattern: exit %d, no figures: %s" % (p, rc, " | ".join(err[-3:]))
    raw["rc"] = rc
    raw["delivered"] = int(open(base + ".delivered").read().strip() or 0)
    if err:
        raw["stderr"] = err[-1]
    return derive(raw), None


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def aggregate(rounds):
    """The rounds of one generator and pattern: counts summed (connected: the fewest of any
    round), figures as the median of the rounds."""
    first = rounds[0]
    out = {"hubs": first["hubs"], "duration_ms": first["duration_ms"],
           "connected": min(r["connected"] for r in rounds),
           "first_error": next((r["first_error"] for r in rounds if r.get("first_error")), "")}
    for k in ("sent", "acked", "delivered", "errors"):
        out[k] = sum(r[k] for r in rounds)
    for k in ("cpu_per_publish_us", "mem_per_hub_b", "conn_per_s"):
        out[k] = median([r[k] for r in rounds])
    out["complete"] = all(r["complete"] for r in rounds)
    out["rounds"] = rounds
    return out


def load(d, gens, nrounds):
    res = {}
    for g in gens:
        skip = os.path.join(d, g + ".skip")
        if os.path.exists(skip):
            res[g] = {"status": "not measured", "reason": open(skip).read().strip()}
            continue
        entry = {"status": "measured"}
        for p in PATTERNS:
            rounds = []
            for r in range(1, nrounds + 1):
                base = os.path.join(d, "%s-%s-%d" % (g, p, r))
                if not os.path.exists(base + ".rc"):
                    continue
                one, why = load_one(base, p)
                if why:
                    entry = {"status": "failed", "reason": "round %d: %s" % (r, why)}
                    break
                rounds.append(one)
            if entry["status"] != "measured":
                break
            if rounds:
                entry[p] = aggregate(rounds)
        res[g] = entry
    return res


def add_ratios(res):
    floor = res.get("floor", {})
    for g, e in res.items():
        for p in PATTERNS:
            if p not in e:
                continue
            f = floor.get(p, {})
            e[p]["ratio_to_floor"] = {
                k: (e[p][k] / f[k] if e[p].get(k) is not None and f.get(k) else None)
                for k in ("cpu_per_publish_us", "mem_per_hub_b", "conn_per_s")}


def fmt(v, unit, ratio, digits=1):
    if v is None:
        return "-"
    s = "%.*f %s" % (digits, v, unit)
    return s + (" (x%.2f)" % ratio if ratio is not None else "")


def print_pattern(res, p, title):
    print(title)
    print("  %-13s %-13s %-23s %-22s %-22s %s" % (
        "generator", "connected", "sent/acked/delivered", "CPU/publish", "mem/hub", "conn/s"))
    for g, e in res.items():
        if p not in e:
            continue
        r, x = e[p], e[p]["ratio_to_floor"]
        print("  %-13s %-13s %-23s %-22s %-22s %s" % (
            g, "%d/%d" % (r["connected"], r["hubs"]),
            "%d/%d/%d" % (r["sent"], r["acked"], r["delivered"]),
            fmt(r["cpu_per_publish_us"], "us", x["cpu_per_publish_us"], 2),
            fmt(r["mem_per_hub_b"], "B", x["mem_per_hub_b"], 0),
            fmt(r["conn_per_s"], "/s", x["conn_per_s"], 0)))
        if not r["complete"]:
            why = []
            if r["connected"] < r["hubs"]:
                why.append("%d of %d hubs did not connect (%s)" % (
                    r["hubs"] - r["connected"], r["hubs"], r.get("first_error") or "no reason given"))
            if r["acked"] != r["sent"]:
                why.append("%d publishes not acked" % (r["sent"] - r["acked"]))
            if r["delivered"] < r["acked"]:
                why.append("the subscriber got %d fewer than acked" % (r["acked"] - r["delivered"]))
            if r["errors"]:
                why.append("%d errors" % r["errors"])
            print("  %-13s INCOMPLETE: %s" % ("", "; ".join(why)))


def main():
    ap = argparse.ArgumentParser()
    for a in ("--dir", "--generators", "--json", "--date", "--command", "--broker"):
        ap.add_argument(a, required=True)
    ap.add_argument("--interval-ms", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--payload", type=int, required=True)
    ap.add_argument("--open-files", required=True)
    a = ap.parse_args()
    gens = [g for g in a.generators.split(",") if g in GENS]
    res = load(a.dir, gens, a.rounds)
    add_ratios(res)
    doc = {"date": a.date, "command": a.command, "broker": a.broker, "cpus": os.cpu_count(),
           "kernel": os.uname().release, "open_files": a.open_files,
           "interval_ms": a.interval_ms, "payload": a.payload, "rounds": a.rounds,
           "generators": res}
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.json)

    print("bench/mqtt  %s  %s  %d cpus" % (a.date, a.broker, os.cpu_count()))
    print("command: %s" % a.command)
    if a.rounds > 1:
        print("figures: median of %d rounds; counts: summed over the rounds" % a.rounds)
    any_p = next((e[p] for e in res.values() for p in PATTERNS if p in e), None)
    for p, name in (("publish", "publish"), ("connect", "connect")):
        r = next((e[p] for e in res.values() if p in e), None)
        if r is None:
            continue
        print_pattern(res, p, "%s: %d hubs, QoS 1, %d B every %d ms for %d ms%s" % (
            name, r["hubs"], a.payload, a.interval_ms, r["duration_ms"],
            ", after connecting and idling" if p == "connect" else ""))
    for g, e in res.items():
        if e["status"] != "measured":
            print("%s: %s: %s" % (g, e["status"], e["reason"]))
    if any_p is None:
        print("no generator was measured")
    has_floor = res.get("floor", {}).get("status") == "measured"
    print("%s; figures: bench/mqtt/README.md; JSON: %s" % (
        "ratios (x) are to the floor of this run" if has_floor else "no floor measured: no ratios",
        a.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
