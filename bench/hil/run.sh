#!/usr/bin/env bash
# bench/hil/run.sh: several zigbee2mqtt instances, each on its own coordinator of one
# `hubsim znp --coordinators N` process, for a while: how many devices each zigbee2mqtt
# recognised, the errors and warnings in its log, and the CPU and memory of hubsim and of each
# zigbee2mqtt, all measured in this invocation. docs/performance.md section M has the figures.
set -u -o pipefail

usage() {
  cat <<'EOF'
usage: bench/hil/run.sh [FLAGS]

Starts Debian's mosquitto on a free loopback port, one `hubsim znp --coordinators N` with
--devices devices on each coordinator (the catalogue's models in turn), and one zigbee2mqtt
(pinned as the tests pin it, installed into the build tree) per coordinator with joining
permitted. After --duration it reads each zigbee2mqtt's device list, counts the error and
warning lines of its log, and prints CPU and peak memory of every process.

  --coordinators N   coordinators and zigbee2mqtt instances (default 5)
  --devices N        devices per coordinator, at most 256 (default 100)
  --duration D       how long they run once started, seconds or Ns/Nm (default 10m)
  --json FILE        also write the figures as JSON to FILE
  --keep DIR         copy the logs to DIR
  -h, --help         this text

Exit status: 0 figures printed (whatever they say), 2 usage, 3 a step failed.
EOF
}

die() { echo "bench/hil: $*" >&2; exit 3; }
fail() { die "$@"; } # npm_pinned's failure hook
usage_err() { echo "bench/hil: $*" >&2; echo "try --help" >&2; exit 2; }

NCOORD=5
NDEV=100
DURATION=10m
JSON=""
KEEP=""
while [ $# -gt 0 ]; do
  case $1 in
  --coordinators) [ $# -ge 2 ] || usage_err "--coordinators needs a value"; NCOORD=$2; shift 2 ;;
  --devices) [ $# -ge 2 ] || usage_err "--devices needs a value"; NDEV=$2; shift 2 ;;
  --duration) [ $# -ge 2 ] || usage_err "--duration needs a value"; DURATION=$2; shift 2 ;;
  --json) [ $# -ge 2 ] || usage_err "--json needs a value"; JSON=$2; shift 2 ;;
  --keep) [ $# -ge 2 ] || usage_err "--keep needs a value"; KEEP=$2; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) usage_err "unknown flag '$1'" ;;
  esac
done
[[ $NCOORD =~ ^[0-9]+$ ]] && [ "$NCOORD" -ge 1 ] && [ "$NCOORD" -le 64 ] ||
  usage_err "--coordinators: expected 1 to 64, got '$NCOORD'"
[[ $NDEV =~ ^[0-9]+$ ]] && [ "$NDEV" -ge 1 ] && [ "$NDEV" -le 256 ] ||
  usage_err "--devices: expected 1 to 256, got '$NDEV'"
case $DURATION in
*m) [[ ${DURATION%m} =~ ^[0-9]+$ ]] || usage_err "--duration: '$DURATION'"; SECS=$((${DURATION%m} * 60)) ;;
*s) [[ ${DURATION%s} =~ ^[0-9]+$ ]] || usage_err "--duration: '$DURATION'"; SECS=${DURATION%s} ;;
*) [[ $DURATION =~ ^[0-9]+$ ]] || usage_err "--duration: '$DURATION'"; SECS=$DURATION ;;
esac

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build}
HUBSIM=${HUBSIM:-$BUILD/hubsim}
[ -x "$HUBSIM" ] || die "$HUBSIM not built (cmake --build build)"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || die "mosquitto not found (scripts/deps.sh installs it)"
command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null ||
  die "mosquitto_sub/mosquitto_pub not found (package mosquitto-clients)"
Z2M_VERSION=2.2.1
PINS=$SRC/tests/integration/znp/zigbee2mqtt
PREFIX=$BUILD/bench/hil/zigbee2mqtt
# shellcheck source=../../tests/integration/znp/npm_pinned.sh
. "$SRC/tests/integration/znp/npm_pinned.sh"

W=$(mktemp -d /tmp/hubsim-bench-hil.XXXXXX) || die "mktemp failed"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp "$W"/*.log "$KEEP"/ 2>/dev/null; fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench/hil: installing zigbee2mqtt $Z2M_VERSION (once)..." >&2
npm_pinned zigbee2mqtt "$Z2M_VERSION" "$PINS" "$PREFIX" "$W/npm.log" 900
Z2M=$PREFIX/node_modules/zigbee2mqtt/index.js

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQ=$(free_port)
cat >"$W/mosquitto.conf" <<EOF
listener $MQ 127.0.0.1
allow_anonymous true
persistence false
EOF
"$MOSQUITTO" -c "$W/mosquitto.conf" >"$W/mosquitto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -qs " running" "$W/mosquitto.log" && break; sleep 0.1; done
grep -qs " running" "$W/mosquitto.log" || die "mosquitto did not start: $(tail -3 "$W/mosquitto.log")"

mapfile -t MODELS < <("$HUBSIM" devices list | awk 'NR > 1 && $0 == "" { exit } NR > 1 { print $1 }')
[ "${#MODELS[@]}" -ge 1 ] || die "hubsim devices list printed no models"
DEVARGS=()
for ((i = 0; i < NDEV; i++)); do DEVARGS+=(--device "${MODELS[$((i % ${#MODELS[@]}))]}"); done
"$HUBSIM" znp --nv "$W/c.nv" --coordinators "$NCOORD" "${DEVARGS[@]}" --ready-file "$W/ports" \
  >"$W/znp.log" 2>&1 &
ZNP=$!
PIDS+=($ZNP)
for _ in $(seq 100); do [ "$({ wc -l <"$W/ports"; } 2>/dev/null)" = "$NCOORD" ] && break; sleep 0.1; done
[ "$({ wc -l <"$W/ports"; } 2>/dev/null)" = "$NCOORD" ] || die "hubsim znp did not start: $(tail -3 "$W/znp.log")"
mapfile -t PORTS <"$W/ports"

Z2MPIDS=()
for ((k = 0; k < NCOORD; k++)); do
  d=$W/z2m-$k
  mkdir -p "$d"
  cat >"$d/configuration.yaml" <<EOF
version: 4
homeassistant:
  enabled: false
frontend:
  enabled: false
mqtt:
  base_topic: z2m-$k
  server: mqtt://127.0.0.1:$MQ
serial:
  port: tcp://127.0.0.1:${PORTS[$k]}
  adapter: zstack
advanced:
  log_level: info
  log_output: [console]
  network_key: [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, $((13 + k % 2))]
  pan_id: $((6754 + k))
  ext_pan_id: [221, 221, 221, 221, 221, 221, 221, $((221 - k))]
  channel: 15
EOF
  # Started from the bench's own folder: inside a git checkout zigbee2mqtt would take the
  # checkout's commit for its own.
  (cd "$W" && ZIGBEE2MQTT_DATA=$d exec node "$Z2M") >"$W/z2m-$k.log" 2>&1 &
  Z2MPIDS+=($!)
  PIDS+=($!)
done
# zigbee2mqtt subscribes to its requests around the time it says it is online, so a request
# sent once may find nobody: it is sent again each second until answered (30 times at most).
# The answers are read by one subscriber started before any request (line-buffered: its
# file is read while it runs).
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQ" -t '+/bridge/response/permit_join' -v >"$W/permits" 2>/dev/null &
PIDS+=($!)
for ((k = 0; k < NCOORD; k++)); do
  timeout 120 mosquitto_sub -h 127.0.0.1 -p "$MQ" -t "z2m-$k/bridge/state" -C 1 -W 120 >"$W/state-$k" 2>/dev/null ||
    die "zigbee2mqtt $k did not come online: $(tail -5 "$W/z2m-$k.log")"
  grep -q online "$W/state-$k" || die "zigbee2mqtt $k: bridge state $(cat "$W/state-$k")"
  for ((i = 0; i < 30; i++)); do
    mosquitto_pub -h 127.0.0.1 -p "$MQ" -t "z2m-$k/bridge/request/permit_join" -m '{"time":254}' ||
      die "cannot publish permit_join to zigbee2mqtt $k"
    for ((j = 0; j < 10; j++)); do
      grep -q "^z2m-$k/bridge/response/permit_join .*\"ok\"" "$W/permits" && break 2
      sleep 0.1
    done
  done
  grep -q "^z2m-$k/bridge/response/permit_join .*\"ok\"" "$W/permits" ||
    die "zigbee2mqtt $k did not permit joining within 30 s: $(grep "^z2m-$k/" "$W/permits")"
done
T0=$(date +%s)
echo "bench/hil: $NCOORD zigbee2mqtt x $NDEV devices running for $SECS s..." >&2

# CPU (utime+stime ticks) and VmHWM of a process.
cpu_ticks() { awk '{ r = $0; sub(/^.*\) /, "", r); split(r, f, " "); print f[12] + f[13] }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
declare -A C0
for p in "$ZNP" "${Z2MPIDS[@]}"; do C0[$p]=$(cpu_ticks "$p"); done
sleep "$SECS"
ELAPSED=$(($(date +%s) - T0))
declare -A CPU HWM
for p in "$ZNP" "${Z2MPIDS[@]}"; do
  kill -0 "$p" 2>/dev/null || die "process $p ended during the run"
  CPU[$p]=$(($(cpu_ticks "$p") - ${C0[$p]}))
  HWM[$p]=$(hwm_kib "$p")
done
for ((k = 0; k < NCOORD; k++)); do
  timeout 20 mosquitto_sub -h 127.0.0.1 -p "$MQ" -t "z2m-$k/bridge/devices" -C 1 -W 20 >"$W/devices-$k.json" 2>/dev/null ||
    die "no device list from zigbee2mqtt $k"
done

{
  echo "znp $ZNP ${CPU[$ZNP]} ${HWM[$ZNP]}"
  for ((k = 0; k < NCOORD; k++)); do
    p=${Z2MPIDS[$k]}
    echo "z2m $k ${CPU[$p]} ${HWM[$p]}"
  done
} >"$W/procs"
python3 - "$W" "$NCOORD" "$NDEV" "$ELAPSED" "$(getconf CLK_TCK)" "$JSON" "$Z2M_VERSION" "$(node --version)" <<'EOF'
import json, re, sys
w, n, ndev, elapsed, hz, json_out, ver, nodev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8]
procs = [l.split() for l in open(w + '/procs')]
out = {'coordinators': n, 'devices_per_coordinator': ndev, 'elapsed_s': elapsed,
       'zigbee2mqtt': ver, 'node': nodev, 'instances': []}
znp = procs[0]
out['hubsim_cpu_s'] = int(znp[2]) / hz
out['hubsim_peak_rss_bytes'] = int(znp[3]) * 1024
print('bench/hil: %d zigbee2mqtt %s (node %s), each on one of %d coordinators of one hubsim znp with %d devices, %d s'
      % (n, ver, nodev, n, ndev, elapsed))
print('  %-3s %-8s %-12s %-10s %-7s %-9s %-12s %s' % ('k', 'devices', 'interviewed', 'supported', 'errors', 'warnings', 'CPU (s)', 'peak RSS'))
for k in range(n):
    devs = [d for d in json.load(open('%s/devices-%d.json' % (w, k))) if d.get('type') != 'Coordinator']
    # The console log colours its level names: without the colour codes a line reads
    # "[DATE TIME] LEVEL: \tNAMESPACE: message".
    log = [re.sub(r'\x1b\[[0-9;]*m', '', l)
           for l in open('%s/z2m-%d.log' % (w, k), errors='replace').read().splitlines()]
    errs = [l for l in log if re.match(r'\[[^]]*\] error:', l)]
    warns = [l for l in log if re.match(r'\[[^]]*\] warning:', l)]
    p = procs[1 + k]
    inst = {'k': k, 'devices': len(devs),
            'interviewed': sum(1 for d in devs if d.get('interview_completed')),
            'supported': sum(1 for d in devs if d.get('supported')),
            'errors': len(errs), 'warnings': len(warns), 'first_errors': errs[:5],
            'cpu_s': int(p[2]) / hz, 'peak_rss_bytes': int(p[3]) * 1024}
    out['instances'].append(inst)
    print('  %-3d %-8d %-12d %-10d %-7d %-9d %-12.1f %d MiB' % (k, inst['devices'], inst['interviewed'], inst['supported'], inst['errors'], inst['warnings'], inst['cpu_s'], inst['peak_rss_bytes'] >> 20))
    for e in errs[:3]:
        print('      ' + e[:200])
print('  hubsim znp: CPU %.1f s over %d s (%.2f%% of one core), peak RSS %d MiB (%d devices)'
      % (out['hubsim_cpu_s'], elapsed, 100 * out['hubsim_cpu_s'] / elapsed if elapsed else 0,
         out['hubsim_peak_rss_bytes'] >> 20, n * ndev))
if json_out:
    json.dump(out, open(json_out, 'w'), indent=2, sort_keys=True)
EOF
[ $? -eq 0 ] || die "could not compute the figures"
