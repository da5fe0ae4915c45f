#!/usr/bin/env bash
# `make run MQTT=1`: the demo through a broker. Starts Debian's mosquitto on a free loopback port
# (its configuration and log in a private temporary folder), runs `hubsim run --platform
# mqtt://127.0.0.1:PORT --embedded-platform` with the arguments given (the embedded reference
# platform serves the hubs behind the broker: the hubrpc profile, docs/mqtt.md), then stops
# mosquitto and removes the folder, whatever the run's outcome. Exit code: the run's.
# usage: scripts/run-mqtt.sh HUBSIM [RUN ARGS...]
set -u
hubsim=$1
shift
mosquitto=${HUBSIM_MOSQUITTO:-/usr/sbin/mosquitto}
if [ ! -x "$mosquitto" ]; then
  echo "run-mqtt: $mosquitto not found (apt-get install mosquitto, or scripts/deps.sh)" >&2
  exit 3
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-mqtt-run-XXXXXX") || exit 3
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port: bound to 127.0.0.1:0 and released; another program may take it before mosquitto
# does, so a failed start is tried again on another (five times at most).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for attempt in 1 2 3 4 5; do
  port=$(free_port) || exit 3
  # set_tcp_nodelay: without it every hop through mosquitto waits for a delayed ACK (~40 ms).
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\nset_tcp_nodelay true\n' \
    "$port" >"$dir/mosquitto.conf"
  "$mosquitto" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  pid=$!
  # Up to 5 s for it to accept a connection (or to die).
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      break 2
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
done
if [ -z "$pid" ]; then
  echo "run-mqtt: mosquitto did not start; its log:" >&2
  cat "$dir/mosquitto.log" >&2
  exit 3
fi
echo "run-mqtt: mosquitto on mqtt://127.0.0.1:$port" >&2
"$hubsim" run --platform "mqtt://127.0.0.1:$port" --embedded-platform "$@"
