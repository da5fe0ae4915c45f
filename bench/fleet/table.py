#!/usr/bin/env python3
"""Markdown table of bench/fleet/run.sh --json results, one column per file.

usage: bench/fleet/table.py NAME=FILE.json [NAME=FILE.json ...]
Rows absent from every file are left out; a missing value prints as '-'.
"""
import json
import sys

ROWS = [
    ('hubs', 'hubs', '{}'),
    ('devices', 'devices', '{}'),
    ('speedup', '--speedup', '{:g}'),
    ('run_exit_code', 'hubsim run exit code', '{}'),
    ('reports_sent', 'reports sent', '{}'),
    ('reports_acked', 'reports acked', '{}'),
    ('lost', 'reports lost', '{}'),
    ('reports_per_s', 'reports sent / s (whole run)', '{:.0f}'),
    ('heartbeats_sent', 'hub heartbeats sent', '{}'),
    ('gen_cpu_s', 'generator CPU, fleet thread (s)', '{:.2f}'),
    ('gen_cpu_us_per_report', '**generator CPU / report sent (us)**', '**{:.2f}**'),
    ('gen_cpu_us_per_message', 'generator CPU / message sent (us)', '{:.2f}'),
    ('proc_cpu_s', 'hubsim run process CPU (s)', '{:.2f}'),
    ('rss_bytes', 'peak RSS hubsim run (B)', '{}'),
    ('rss_baseline_bytes', 'peak RSS baseline 1x1 (B)', '{}'),
    ('rss_raw_per_device', 'RSS raw / device (B)', '{:.0f}'),
    ('rss_raw_per_hub', 'RSS raw / hub (B)', '{:.0f}'),
    ('rss_delta_per_device', '**RSS delta / device (B)**', '**{:.0f}**'),
    ('rss_delta_per_hub', '**RSS delta / hub (B)**', '**{:.0f}**'),
    ('rss_end_delta_per_device', 'RSS delta / device at end of traffic (B)', '{:.0f}'),
    ('all_online_s', 'all hubs online after (s)', '{:.3f}'),
    ('ramp_hubs_per_s', '**connection ramp (hubs/s)**', '**{:.0f}**'),
    ('handshake_p99_ms', 'handshake p99 (ms)', '{:.1f}'),
    ('send_lag_p50_ms', 'send lag p50 (ms)', '{:.3f}'),
    ('send_lag_p99_ms', '**send lag p99 (ms)**', '**{:.3f}**'),
    ('tick_lag_p99_ms', '**tick lag p99 (ms)**', '**{:.3f}**'),
    ('ack_p50_ms', 'ack latency p50 (ms)', '{:.1f}'),
    ('ack_p99_ms', 'ack latency p99 (ms)', '{:.1f}'),
    ('platform_cpu_s', 'platform CPU (s)', '{:.2f}'),
    ('platform_cpu_us_per_report', 'platform CPU / report sent (us)', '{:.2f}'),
    ('platform_rss_bytes', 'platform peak RSS (B)', '{}'),
    ('other_cpu_s', 'CPU of other processes meanwhile (s)', '{:.1f}'),
    ('elapsed_s', 'elapsed (s)', '{:.1f}'),
]


def main(argv):
    if len(argv) < 2 or argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    cols = []
    for a in argv[1:]:
        name, _, path = a.partition('=')
        with open(path) as f:
            cols.append((name, json.load(f)))
    print('| figure | ' + ' | '.join(n for n, _ in cols) + ' |')
    print('|---|' + '---:|' * len(cols))
    for key, label, fmt in ROWS:
        if not any(d.get(key) is not None for _, d in cols):
            continue
        cells = ['-' if d.get(key) is None else fmt.format(d[key]) for _, d in cols]
        print(f'| {label} | ' + ' | '.join(cells) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
