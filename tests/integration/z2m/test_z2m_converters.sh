#!/usr/bin/env bash
# zigbee2mqtt's own converters over the frames of hubsim's catalogue devices (z2m_converters.js):
# the climate sensors' pressure, the plug's power after off, the light's moveToLevelWithOnOff
# and the read of a /get color_temp. The converters come from zigbee2mqtt's pinned install in
# the build tree (tests/integration/znp/zigbee2mqtt: package.json and package-lock.json), the
# one test_znp_zigbee2mqtt uses; installed here, never globally, only when it is missing or its
# lock file changed. Without node, npm or the registry the test fails and says which.
#   test_z2m_converters.sh BUILD_DIR ZFRAMES
set -euo pipefail

Z2M_VERSION=2.2.1
HERE=$(cd "$(dirname "$0")" && pwd)
ZNP=$(cd "$HERE/../znp" && pwd)
BUILD=${1:?usage: test_z2m_converters.sh BUILD_DIR ZFRAMES}
ZFRAMES=${2:?usage: test_z2m_converters.sh BUILD_DIR ZFRAMES}
PREFIX=$BUILD/tests/integration/znp/zigbee2mqtt

fail() {
  echo "test_z2m_converters: FAIL: $*" >&2
  exit 1
}

LOG=$(mktemp /tmp/hubsim-z2m-conv.XXXXXX)
trap 'rm -f "$LOG"' EXIT
. "$ZNP/npm_pinned.sh"
npm_pinned zigbee2mqtt "$Z2M_VERSION" "$ZNP/zigbee2mqtt" "$PREFIX" "$LOG" 600

timeout 60 node "$HERE/z2m_converters.js" "$ZFRAMES" "$PREFIX/node_modules" ||
  fail "zigbee2mqtt $Z2M_VERSION's converters over hubsim's frames: see the lines above"
echo "test_z2m_converters: zigbee2mqtt $Z2M_VERSION's converters decoded hubsim's frames as the devices hold them"
