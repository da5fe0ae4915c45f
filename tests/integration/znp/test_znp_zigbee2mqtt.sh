#!/usr/bin/env bash
# zigbee2mqtt against `hubsim znp`: one device per catalogue model joins, is interviewed and
# recognised as its real model; the state zigbee2mqtt publishes matches hubsim's devices; a /set
# on the plug, the light and the curtain reaches the device; a restarted zigbee2mqtt resumes the
# network with its devices, none paired again (z2m_check.js does the checking). zigbee2mqtt
# (pinned: zigbee2mqtt/package.json and package-lock.json here) is installed from npm into the
# build tree, never globally, again only when the lock file changed; Debian's mosquitto is the
# broker. Without node, npm, mosquitto or the registry the test fails and says which.
# Under AddressSanitizer (HUBSIM_SANITIZE=1) it is skipped (exit 77): there it takes more than
# the 30 s a test may take.
#   test_znp_zigbee2mqtt.sh BUILD_DIR
set -euo pipefail

Z2M_VERSION=2.2.1
MOSQUITTO=${HUBSIM_MOSQUITTO:-/usr/sbin/mosquitto}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: test_znp_zigbee2mqtt.sh BUILD_DIR}
PREFIX=$BUILD/tests/integration/znp/zigbee2mqtt
HUBSIM=${HUBSIM_BIN:-$BUILD/hubsim}

fail() {
  echo "test_znp_zigbee2mqtt: FAIL: $*" >&2
  exit 1
}

if [ "${HUBSIM_SANITIZE:-0}" = 1 ]; then
  echo "test_znp_zigbee2mqtt: SKIP: zigbee2mqtt's 22 interviews take over 30 s under AddressSanitizer"
  exit 77
fi
[ -x "$MOSQUITTO" ] || fail "$MOSQUITTO is not installed (scripts/deps.sh installs Debian's mosquitto)"

WORK=$(mktemp -d /tmp/hubsim-znp-z2m.XXXXXX)
keep() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    for f in "$WORK"/zigbee2mqtt-*.log "$WORK"/znp.log; do
      [ -f "$f" ] && { echo "--- $(basename "$f") (last 30 lines)" >&2; tail -30 "$f" >&2; }
    done
  fi
  if [ -n "${HUBSIM_KEEP_WORK:-}" ]; then echo "test_znp_zigbee2mqtt: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap keep EXIT

# The pinned version (zigbee2mqtt/package.json, and every dependency in its package-lock.json).
. "$HERE/npm_pinned.sh"
npm_pinned zigbee2mqtt "$Z2M_VERSION" "$HERE/zigbee2mqtt" "$PREFIX" "$WORK/npm.log" 600

# One device per catalogue model: model id and the real model (the vendor's) it must be known as.
"$HUBSIM" devices list | awk 'NR > 1 && $0 == "" { exit } NR > 1 { print $1, $2 }' >"$WORK/models.txt"
[ "$(wc -l <"$WORK/models.txt")" -ge 1 ] || fail "hubsim devices list printed no models"

export NODE_PATH=$PREFIX/node_modules
timeout 280 node "$HERE/z2m_check.js" "$HUBSIM" "$PREFIX/node_modules/zigbee2mqtt" "$WORK" "$WORK/models.txt" ||
  fail "zigbee2mqtt $Z2M_VERSION against hubsim znp: see the lines above"
echo "test_znp_zigbee2mqtt: zigbee2mqtt $Z2M_VERSION: $(wc -l <"$WORK/models.txt") devices joined, recognised, state matched, /set obeyed, restart resumed"
