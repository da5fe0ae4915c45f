#!/usr/bin/env bash
# zigbee-herdsman's zstack adapter against `hubsim znp` over tcp://: a fresh NV file forms a
# network (start() = 'reset'); the same host reconnecting finds it running ('resumed'); hubsim
# restarted on the same NV file restores it without forming again ('resumed'); permit join
# succeeds every time; two catalogue devices join and the host interviews them (descriptors,
# genBasic model id). zigbee-herdsman (pinned: package.json, package-lock.json here) is
# installed from npm into the build tree, never globally; without node, npm or the registry
# the test fails and says so. With CASE "nv", it runs herdsman_nv_case.sh instead: joined
# devices kept across a restart and restored from the host's backup onto a new NV file.
#   test_znp_herdsman.sh BUILD_DIR [CASE]
set -euo pipefail

BUILD=${1:?usage: test_znp_herdsman.sh BUILD_DIR}
HUBSIM=${HUBSIM_BIN:-$BUILD/hubsim}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/hubsim-znp-it.XXXXXX)
TEST=test_znp_herdsman
. "$HERE/herdsman_lib.sh" # fail, cleanup at exit, start_znp, stop_znp, host

herdsman_install

if [ "${2:-}" = nv ]; then
  . "$HERE/herdsman_nv_case.sh"
  exit 0
fi

mkdir -p "$WORK/host"
start_znp
host reset 1-fresh-nv
host resumed 2-reconnect
stop_znp
[ -s "$WORK/nv.txt" ] || fail "no NV file after the first runs"
grep -q '^0060 55$' "$WORK/nv.txt" || fail "the NV file lacks zigbee-herdsman's configured flag"
nib=$(grep '^0021 ' "$WORK/nv.txt") || fail "the NV file has no NIB after formation"
start_znp
host resumed 3-hubsim-restarted
stop_znp
[ "$(grep '^0021 ' "$WORK/nv.txt")" = "$nib" ] || fail "the network was formed again after the restart (NIB changed)"
# Two catalogue devices (a sleepy end device, a router) join when the host opens the network,
# and the host interviews them to the end: descriptors, then genBasic's model id.
start_znp --device lumi.weather --device lumi.curtain
host resumed 4-devices 2
stop_znp
grep -q 'RESULT device 0x00158d.* model=lumi.weather .*type=EndDevice manufacturer=4151 endpoints=1:260/' \
  "$WORK/host-4-devices.log" || fail "lumi.weather was not interviewed as the catalogue describes it"
grep -q 'RESULT device .* model=lumi.curtain .*type=Router' "$WORK/host-4-devices.log" ||
  fail "lumi.curtain was not interviewed as a router with its model id"
formed=$(grep -c 'formed network' "$WORK/znp.err" || true)
[ "$formed" -eq 1 ] || fail "hubsim znp formed a network $formed times in four host starts, not once"
grep 'hubsim znp:' "$WORK/znp.err" || true
echo "test_znp_herdsman: zigbee-herdsman $HERDSMAN_VERSION: reset, resumed, resumed after a restart; permit join each time; two devices joined and interviewed"
