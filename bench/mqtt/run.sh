#!/usr/bin/env bash
# bench/mqtt/run.sh: MQTT load generators compared on one Debian mosquitto, in one run.
# Every figure printed is measured in this invocation; ratios are to the floor of this run.
set -u -o pipefail

usage() {
  cat <<'EOF'
usage: bench/mqtt/run.sh [FLAGS]

Starts Debian's mosquitto on a free loopback port with its own configuration, a subscriber
(mosquitto_sub on bench/#) that counts what the broker delivered, then runs two patterns for
each generator, one generator after the other, on that broker (warmed first by one
unmeasured pass of the floor's connections):

  publish   --hubs connections, one QoS 1 publish of --payload bytes per hub every
            --interval for --duration, spread evenly over the interval; PUBACKs counted
  connect   --connect-hubs connections (at most --window CONNECTs unanswered at a time),
            idle --connect-idle, then one publish per hub per --interval for
            --connect-duration (0: none)

Generators: floor (bench_mqtt_floor: hand-encoded MQTT over epoll, the lower bound),
libmosquitto (bench_mqtt_mosq: libmosquitto driven from one libuv loop), mqttjs (the npm
package `mqtt` pinned in bench/mqtt/mqttjs/package.json, installed there with npm when
missing; one node process), hubsim (hubsim_gen.py: `hubsim run --profile zigbee2mqtt`, each
hub a zigbee2mqtt bridge with one lumi.weather sensor, whose ~100-byte state message comes
about once per --interval at --hubsim-speedup; QoS 1, no discovery; its duration also covers
its connecting). hubsim does not take --payload or --window: its publishes are the
devices' state messages, sized and counted at the subscriber (state_bytes_mean,
state_per_hub_per_s in the JSON); its bridge messages are counted apart (bridge_messages),
not as publishes; its CPU includes simulating the devices.

Figures per generator and pattern (see bench/mqtt/README.md):
  CPU/publish  user+sys CPU of the generator process (getrusage) during the publish phase
               and its drain / publishes acked
  mem/hub      (VmRSS after connecting and idling - VmRSS before connecting) / connected
  conn/s       connections CONNACKed / seconds from the first CONNECT to the last CONNACK
  acked/sent   PUBACKs received / QoS 1 publishes sent; delivered: what the subscriber got

  --hubs N              publish pattern: hubs (default 1000)
  --interval D          publish interval per hub: 1s, 500ms (default 1s)
  --duration D          publish pattern: publishing time (default 30s)
  --payload N           bytes per publish (default 100)
  --connect-hubs N      connect pattern: hubs (default 10000; 0 skips the pattern)
  --connect-idle D      connect pattern: idle time before reading memory (default 3s)
  --connect-duration D  connect pattern: publishing time after the idle (default 5s)
  --window N            CONNECTs in flight per generator (default 100)
  --rounds N            run every generator and pattern N times, round robin; the table
                        shows the median of each figure (default 1; the JSON has every round)
  --generators LIST     comma-separated subset of floor,libmosquitto,mqttjs,hubsim
                        (default: all four)
  --json FILE           write the figures as JSON (default: BUILD/bench/mqtt.json)
  --build DIR           build folder holding bench/bench_mqtt_* (default: build under
                        the source tree)
  --hubsim PATH         hubsim binary (default: $HUBSIM, else BUILD/hubsim)
  --hubsim-speedup X    hubsim's --speedup (default 1150000 / interval in ms: lumi.weather
                        then sends about one state message per hub per interval)
  --keep DIR            copy the broker's configuration and log, the subscriber's output
                        and the generators' raw output to DIR
  -h, --help            this text

Needs: mosquitto and mosquitto-clients (scripts/deps.sh), python3; node and npm only for
mqttjs. Open files: the generator and the broker each hold one socket per hub, so
--connect-hubs must stay below the per-process open-file limit (ulimit -n). Runtime is
bounded: each generator is killed after its connect timeout (120 s) + idle + duration +
drain (5 s) + 30 s. Temporary files and child processes are removed on exit.
Exit status: 0 figures printed, 2 usage, 3 a step failed (broker, build, subscriber).
EOF
}

die() { echo "bench/mqtt: $*" >&2; exit 3; }
usage_err() { echo "bench/mqtt: $*" >&2; echo "try --help" >&2; exit 2; }

# Duration (500ms, 1s, 2m, or plain seconds; whole numbers) -> milliseconds, or fail.
dur_ms() {
  [[ $1 =~ ^([0-9]{1,7})(ms|s|m)?$ ]] || return 1
  local n=$((10#${BASH_REMATCH[1]}))
  case ${BASH_REMATCH[2]} in
    ms) echo "$n" ;;
    m) echo $((n * 60000)) ;;
    *) echo $((n * 1000)) ;;
  esac
}
whole() {
  [ -n "$2" ] || usage_err "$1 needs a value"
  [[ $2 =~ ^[0-9]{1,9}$ ]] || usage_err "$1 $2: not a whole number"
}

SRC=$(cd "$(dirname "$0")/../.." && pwd)
HUBS=1000 INTERVAL=1s DURATION=30s PAYLOAD=100 CHUBS=10000 CIDLE=3s CDURATION=5s WINDOW=100
HUBSIM_MODEL=lumi.weather HUBSIM_SPEEDUP=
GENS=floor,libmosquitto,mqttjs,hubsim JSON= BUILD=$SRC/build HUBSIM_BIN=${HUBSIM:-} KEEP= ROUNDS=1
ARGV=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --hubs) whole "$1" "${2-}"; HUBS=$2; shift ;;
    --interval) INTERVAL=${2-}; shift ;;
    --duration) DURATION=${2-}; shift ;;
    --payload) whole "$1" "${2-}"; PAYLOAD=$2; shift ;;
    --connect-hubs) whole "$1" "${2-}"; CHUBS=$2; shift ;;
    --connect-idle) CIDLE=${2-}; shift ;;
    --connect-duration) CDURATION=${2-}; shift ;;
    --window) whole "$1" "${2-}"; WINDOW=$2; shift ;;
    --rounds) whole "$1" "${2-}"; ROUNDS=$2; shift ;;
    --generators) GENS=${2-}; shift ;;
    --json) JSON=${2-}; shift ;;
    --build) BUILD=${2-}; shift ;;
    --hubsim) HUBSIM_BIN=${2-}; shift ;;
    --hubsim-speedup) HUBSIM_SPEEDUP=${2-}; shift ;;
    --keep) KEEP=${2-}; shift ;;
    *) usage_err "unknown flag $1" ;;
  esac
  [ $# -gt 0 ] || usage_err "a flag needs a value"
  shift
done
command -v python3 >/dev/null || die "python3 not found"
INTERVAL_MS=$(dur_ms "$INTERVAL") || usage_err "--interval $INTERVAL: not a duration"
DURATION_MS=$(dur_ms "$DURATION") || usage_err "--duration $DURATION: not a duration"
CIDLE_MS=$(dur_ms "$CIDLE") || usage_err "--connect-idle $CIDLE: not a duration"
CDURATION_MS=$(dur_ms "$CDURATION") || usage_err "--connect-duration $CDURATION: not a duration"
[ "$INTERVAL_MS" -ge 1 ] || usage_err "--interval must be at least 1ms"
[ "$HUBS" -ge 1 ] && [ "$WINDOW" -ge 1 ] && [ "$ROUNDS" -ge 1 ] ||
  usage_err "--hubs, --window and --rounds must be at least 1"
[ "$PAYLOAD" -ge 16 ] && [ "$PAYLOAD" -le 65536 ] || usage_err "--payload must be 16..65536"
for g in ${GENS//,/ }; do
  case $g in floor | libmosquitto | mqttjs | hubsim) ;; *) usage_err "--generators: unknown $g" ;; esac
done
[ -z "$HUBSIM_SPEEDUP" ] || [[ $HUBSIM_SPEEDUP =~ ^[0-9]{1,7}(\.[0-9]{1,3})?$ ]] ||
  usage_err "--hubsim-speedup $HUBSIM_SPEEDUP: not a number"
# lumi.weather sends ~93 frames a simulated day (hubsim devices sample lumi.weather
# --duration 1d), and ~80 % of them change its state: 1150 x faster than real time brings
# about one state message a second.
HUBSIM_SPEEDUP=${HUBSIM_SPEEDUP:-$((1150000 / INTERVAL_MS))}
JSON=${JSON:-$BUILD/bench/mqtt.json}
HUBSIM_BIN=${HUBSIM_BIN:-$BUILD/hubsim}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || die "mosquitto not found (scripts/deps.sh installs it)"
command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null ||
  die "mosquitto_sub/mosquitto_pub not found (package mosquitto-clients)"

# One socket per hub in the generator and one in the broker, plus a margin for each.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
BIG=$((HUBS > CHUBS ? HUBS : CHUBS))
[ "$NOFILE" = unlimited ] || [ $((BIG + 64)) -le "$NOFILE" ] ||
  usage_err "$BIG hubs need more open files than one process may hold here (ulimit -n: $NOFILE)"

D=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp -r "$D"/. "$KEEP"/; fi
  rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to $1 tenths of a second for the command after it to succeed.
wait_for() {
  local n=$1
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

start_broker() {
  local try
  for try in 1 2 3; do
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$D/mosquitto.conf" <<EOF
# bench/mqtt's broker: loopback only, nothing kept on disk, no limit on connections, and
# queues large enough that no QoS 1 message to the subscriber is dropped.
listener $PORT 127.0.0.1
allow_anonymous true
max_connections -1
persistence false
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
log_dest stderr
log_type error
log_type warning
log_type information
connection_messages false
EOF
    : >"$D/mosquitto.log"
    "$MOSQUITTO" -c "$D/mosquitto.conf" 2>"$D/mosquitto.log" &
    BROKER=$!
    if wait_for 50 grep -qs " running" "$D/mosquitto.log"; then
      PIDS+=("$BROKER")
      return 0
    fi
    kill "$BROKER" 2>/dev/null
    wait "$BROKER" 2>/dev/null
  done
  die "mosquitto did not start: $(tail -n 3 "$D/mosquitto.log")"
}

# The subscriber at QoS 1 on bench/#; ready once a probe it was sent comes back.
start_subscriber() {
  mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-observer -q 1 -v -t 'bench/#' >"$D/sub.out" \
    2>"$D/sub.err" &
  PIDS+=("$!")
  probe() {
    mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t bench/probe -m probe 2>/dev/null &&
      grep -qs '^bench/probe probe$' "$D/sub.out"
  }
  wait_for 100 probe || die "the subscriber got nothing from the broker in 10 s"
}

# hubsim's runs count only its state messages (bench/NAME/HUB/0xIEEE), not its bridge messages.
delivered() {
  case $1 in
    hubsim-*) grep -cE "^bench/$1/[^/ ]+/0x[0-9a-f]{16} " "$D/sub.out" || true ;;
    *) grep -c "^bench/$1/" "$D/sub.out" || true ;;
  esac
}
delivered_at_least() { [ "$(delivered "$1")" -ge "$2" ]; }

# Established TCP sockets at either end of connections to the broker: once a generator has
# exited, only the subscriber's two ends remain when the broker has closed its side as well.
open_conns() { ss -Htn state established "( dport = :$PORT or sport = :$PORT )" 2>/dev/null | wc -l; }
only_subscriber_left() { [ "$(open_conns)" -le 2 ]; }

# run_gen GEN PATTERN ROUND: runs one generator in one pattern; leaves its JSON in
# $D/GEN-PATTERN-ROUND.json and the subscriber's count in $D/GEN-PATTERN-ROUND.delivered.
run_gen() {
  local g=$1 pat=$2 round=$3 hubs dur idle cmd=() out="$D/$1-$2-$3"
  if [ "$pat" = publish ]; then hubs=$HUBS dur=$DURATION_MS idle=1000; else
    hubs=$CHUBS dur=$CDURATION_MS idle=$CIDLE_MS
  fi
  case $g in
    floor) cmd=("$BUILD/bench/bench_mqtt_floor") ;;
    libmosquitto) cmd=("$BUILD/bench/bench_mqtt_mosq") ;;
    mqttjs) cmd=(node "$SRC/bench/mqtt/mqttjs/gen.js") ;;
    hubsim) cmd=(python3 "$SRC/bench/mqtt/hubsim_gen.py" --hubsim "$HUBSIM_BIN" --sub-out "$D/sub.out"
      --summary "$out.summary" --model "$HUBSIM_MODEL" --speedup "$HUBSIM_SPEEDUP") ;;
  esac
  local name="$g-${pat:0:1}$round" bound=$(((120000 + idle + dur + 5000) / 1000 + 30))
  timeout --kill-after=5 "$bound" "${cmd[@]}" --port "$PORT" --hubs "$hubs" --window "$WINDOW" \
    --interval-ms "$INTERVAL_MS" --duration-ms "$dur" --idle-ms "$idle" --payload "$PAYLOAD" \
    --name "$name" >"$out.json" 2>"$out.err"
  echo "$?" >"$out.rc"
  # What the broker delivered of this run: wait until the subscriber has seen as many
  # messages as were acked, at most 15 s.
  local acked
  acked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["acked"])' \
    "$out.json" 2>/dev/null || echo 0)
  wait_for 150 delivered_at_least "$name" "$acked" || true
  delivered "$name" >"$out.delivered"
  # The next run starts once the broker has let go of this one's connections.
  wait_for 300 only_subscriber_left || echo "bench/mqtt: $g: connections still open" >&2
}

# Why a generator cannot run here, or nothing when it can.
why_not() {
  case $1 in
    floor) [ -x "$BUILD/bench/bench_mqtt_floor" ] || echo "$BUILD/bench/bench_mqtt_floor not built" ;;
    libmosquitto) [ -x "$BUILD/bench/bench_mqtt_mosq" ] ||
      echo "$BUILD/bench/bench_mqtt_mosq not built (libmosquitto-dev missing at configure time?)" ;;
    mqttjs)
      command -v node >/dev/null || { echo "node not found"; return; }
      [ -d "$SRC/bench/mqtt/mqttjs/node_modules/mqtt" ] && return
      command -v npm >/dev/null || { echo "npm not found"; return; }
      (cd "$SRC/bench/mqtt/mqttjs" && timeout 300 npm ci --no-audit --no-fund >"$D/npm.log" 2>&1) ||
        echo "npm ci in bench/mqtt/mqttjs failed: $(tail -2 "$D/npm.log" | tr '\n' ' ')"
      ;;
    hubsim)
      [ -x "$HUBSIM_BIN" ] || { echo "no hubsim binary at $HUBSIM_BIN"; return; }
      # The help is read whole first: grep -q stopping early would break the pipe (pipefail).
      local help
      help=$("$HUBSIM_BIN" run --help 2>&1)
      [[ $help == *zigbee2mqtt* ]] || echo "hubsim run has no zigbee2mqtt profile (its --help names none)"
      ;;
  esac
}

DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_broker
start_subscriber
echo "bench/mqtt: mosquitto $("$MOSQUITTO" -h 2>&1 | awk 'NR==1 {print $3}') on 127.0.0.1:$PORT, $(nproc) cpus, open files $NOFILE" >&2
# A fresh mosquitto accepts its first thousands of clients markedly slower than later ones
# (its own allocations): one unmeasured pass of the floor's connections warms it, so the first
# generator measured does not pay for that.
if [ -x "$BUILD/bench/bench_mqtt_floor" ]; then
  echo "bench/mqtt: broker warm-up (not measured): $BIG connections" >&2
  timeout --kill-after=5 150 "$BUILD/bench/bench_mqtt_floor" --port "$PORT" --hubs "$BIG" \
    --window "$WINDOW" --duration-ms 0 --idle-ms 0 --name warmup >/dev/null 2>&1
  wait_for 300 only_subscriber_left || echo "bench/mqtt: warm-up: connections still open" >&2
fi
RUN=()
for g in ${GENS//,/ }; do
  reason=$(why_not "$g")
  if [ -n "$reason" ]; then
    echo "$reason" >"$D/$g.skip"
    echo "bench/mqtt: $g: not measured: $reason" >&2
  else
    RUN+=("$g")
  fi
done
for round in $(seq "$ROUNDS"); do
  for g in "${RUN[@]}"; do
    for pat in publish connect; do
      [ "$pat" = connect ] && [ "$CHUBS" -eq 0 ] && continue
      echo "bench/mqtt: round $round/$ROUNDS: $g: $pat" >&2
      run_gen "$g" "$pat" "$round"
    done
  done
done
mkdir -p "$(dirname "$JSON")"
python3 "$SRC/bench/mqtt/table.py" --dir "$D" --generators "$GENS" --rounds "$ROUNDS" --json "$JSON" \
  --date "$DATE" --command "bench/mqtt/run.sh ${ARGV[*]}" --broker "$("$MOSQUITTO" -h 2>&1 | head -1)" \
  --interval-ms "$INTERVAL_MS" --payload "$PAYLOAD" --open-files "$NOFILE" ||
  die "could not tabulate the figures"
