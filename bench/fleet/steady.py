#!/usr/bin/env python3
"""Steady-state view of a run from hubsim run's once-a-second progress lines.

usage: bench/fleet/steady.py PROGRESS_FILE [FROM_S [TO_S]]
PROGRESS_FILE: stderr of `hubsim run` without -q (bench/fleet/run.sh --progress --keep DIR
keeps it as DIR/main.run.err). Lines of seconds FROM_S..TO_S (default 10..duration-1) are
summarised: the medians and maxima of the per-second figures. The whole-run percentiles of
the summary include the start-up burst (every device joins and reports at once); these do not.
"""
import re
import statistics as st
import sys

LINE = re.compile(r'\[\s*(\d+)s\] hubs (\d+)/(\d+) online .*?\| sent (\d+)/s acked (\d+)/s \| '
                  r'(?:ack p50 ([\d.]+)ms p99 ([\d.]+)ms|ack -) \| (?:lag p99 ([\d.]+)ms|lag -) \| '
                  r'in flight (\d+) queued (\d+)(.*)$')


def main(argv):
    if len(argv) < 2 or argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    rows = []
    with open(argv[1]) as f:
        for line in f:
            m = LINE.match(line.strip())
            if m and 'draining' not in m.group(11):
                rows.append(m.groups())
    if not rows:
        print('no progress lines found')
        return 1
    lo = int(argv[2]) if len(argv) > 2 else 10
    hi = int(argv[3]) if len(argv) > 3 else int(rows[-1][0])
    sel = [r for r in rows if lo <= int(r[0]) <= hi]
    if not sel:
        print(f'no progress lines between {lo} s and {hi} s')
        return 1

    def col(i):
        return [float(r[i]) for r in sel if r[i] is not None]

    def show(name, vals, unit):
        if vals:
            print(f'  {name:<28} median {st.median(vals):.2f} {unit}  max {max(vals):.2f} {unit}'
                  f'  (n={len(vals)})')
        else:
            print(f'  {name:<28} no samples')

    print(f'steady state, seconds {lo}..{hi} ({len(sel)} progress lines)')
    show('sent per second', col(3), '/s')
    show('acked per second', col(4), '/s')
    show('tick lag p99 of each second', col(7), 'ms')
    show('ack p50 of each second', col(5), 'ms')
    show('ack p99 of each second', col(6), 'ms')
    show('in flight', col(8), 'frames')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
