#!/usr/bin/env bash
# Installs every Debian package hubsim needs to build, run and test.
# Idempotent: when everything is present it does nothing and asks no registry.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev          # libFuzzer and the ASan/UBSan runtimes
  libuv1-dev                        # event loop, timers, processes
  libprotobuf-c-dev protobuf-c-compiler
  libssl-dev                        # TLS (hubrpcs://), HMAC-SHA256, random bytes
  openssl                           # tests: certificates made at test time, s_client
  libsqlite3-dev                    # reference platform store
  libjansson-dev                    # JSON summaries
  libyaml-dev                       # device catalogue files
  liblua5.4-dev                     # scenario scripts
  libncurses-dev                    # the terminal dashboard (--ui tui)
  libsdl2-dev libsdl2-ttf-dev       # the graphical dashboard (--ui gui)
  libsdl2-image-dev                 # its --screenshot PNG files
  fonts-dejavu-core                 # its text
  tmux                              # tests: the dashboard driven as an operator would
  python3-junitparser               # tests: a JUnit consumer reads --junit files
  libcmocka-dev                     # unit tests
  python3                           # bench/fleet/run.sh reads summaries with it
  python3-yaml                      # scripts/devices-doc.py regenerates docs/devices.md
  python3-protobuf protobuf-compiler  # tests: the Python platform of docs/protocol.md runs
  time                              # bench/fleet/run.sh: whole-process CPU and peak RSS
  mosquitto mosquitto-clients       # tests and bench/mqtt: the broker, mosquitto_passwd, mosquitto_sub
  libmosquitto-dev                  # bench/mqtt: the libmosquitto generator (bench_mqtt_mosq)
  liburing-dev                      # bench/syscall: the loopback floor with io_uring (bench_loopback_uring)
  iproute2                          # bench/mqtt/run.sh: ss counts the broker's open connections
  nodejs                            # tests: deploy/k8s validated with kubernetes-models; bench/mqtt: MQTT.js
  tshark                            # tests: --record captures read as Wireshark reads them
  prometheus                        # tests: a real Prometheus scrapes --prometheus; promtool
  chromium                          # tests: headless Chromium renders the --report page
)

# npm for the same (packages pinned in their package-lock.json, installed under the build tree or
# bench/mqtt/mqttjs): Debian's npm package, unless the nodejs installed already carries npm (a
# nodejs built elsewhere conflicts with Debian's npm).
if ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (or install them with sudo apt-get install)" >&2
  exit 2
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture: answered (no) before apt asks.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
