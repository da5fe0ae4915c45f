#!/usr/bin/env python3
"""bench/platform/watch.py: samples the reference platform while `hubsim run` drives it.

Usage: watch.py ADMIN_PORT FRONT_PID RUN_PID HUBS DEVICES OUT_JSON [INTERVAL_S]

Every INTERVAL_S (default 0.5 s) until RUN_PID has ended, it asks the admin port for `stats`
and reads utime+stime of every platform process (FRONT_PID and its children, the workers of
--workers N) from /proc/PID/stat. It keeps three samples:

  start: the first sample at which every hub has a session open (sessions_open = HUBS), every
         device has joined (joined = HUBS x DEVICES) and two more commits followed the last
         join, so that the group holding it has committed: steady state starts here;
  last:  the last sample taken while RUN_PID was still running and every session still open
         (steady state ends here, before the hubs close their sessions);
  end:   one sample after RUN_PID ended (the platform still runs; the caller stops it later).

The output JSON holds the three samples (cpu_s, cpu_per_pid, stats) and the sample count.
Nothing is estimated: a sample that could not be taken is absent, and the caller says so.
"""
import json
import os
import socket
import sys
import time


def admin(port, line, timeout=10.0):
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(line.encode() + b'\n')
        buf = b''
        while not buf.endswith(b'\n'):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf.decode())


def children(pid):
    out = []
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            out = [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def cpu_of(pid, hz):
    with open(f'/proc/{pid}/stat') as f:
        stat = f.read()
    fields = stat[stat.rindex(')') + 2:].split()  # from field 3 (state) on
    return (int(fields[11]) + int(fields[12])) / hz  # utime, stime


def running(pid):
    # The run is our child's child; a zombie counts as ended.
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(')') + 2] != 'Z'


def sample(port, front, hz):
    pids = [front] + children(front)
    per = {}
    for p in pids:
        try:
            per[str(p)] = cpu_of(p, hz)
        except OSError:
            pass
    st = admin(port, 'stats')
    return {'t': time.time(), 'cpu_s': sum(per.values()), 'cpu_per_pid': per, 'stats': st}


def main():
    if len(sys.argv) not in (7, 8):
        print(__doc__, file=sys.stderr)
        return 2
    port, front, run = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    hubs, devs, out = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    interval = float(sys.argv[7]) if len(sys.argv) == 8 else 0.5
    hz = os.sysconf('SC_CLK_TCK')
    res = {'samples': 0, 'start': None, 'last': None, 'end': None, 'errors': 0}
    joined_commits = None
    while running(run):
        try:
            s = sample(port, front, hz)
        except (OSError, ValueError) as e:
            res['errors'] += 1
            res['last_error'] = str(e)
            time.sleep(interval)
            continue
        res['samples'] += 1
        st = s['stats']
        full = st.get('sessions_open', 0) >= hubs
        if res['start'] is None and full and st.get('joined', 0) >= hubs * devs:
            if joined_commits is None:
                joined_commits = st.get('commits', 0)
            elif st.get('commits', 0) >= joined_commits + 2:
                res['start'] = s
        if res['start'] is not None and full and running(run):
            res['last'] = s
        time.sleep(interval)
    try:
        res['end'] = sample(port, front, hz)
    except (OSError, ValueError) as e:
        res['errors'] += 1
        res['last_error'] = str(e)
    with open(out, 'w') as f:
        json.dump(res, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
