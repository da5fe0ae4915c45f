# test_znp_herdsman.sh's case "nv" (sourced by it, after its setup): joined devices kept in the
# coordinator's NV tables. Two catalogue devices join a new network and the host's coordinator
# backup lists both with their link keys; hubsim znp restarted on the same NV file ('resumed')
# has them in the network again with no join, no announcement and no permit join, the router
# answers a read and the network map lists them; then a new NV file under the same host data is
# restored from the backup ('restored'), with the same results.
DEVICES=(--device lumi.weather --device lumi.curtain)

# hubsim znp on NV file $1 with the two devices; what it logs from then on is in znp.err from
# line $ERR_FROM.
start_nv() {
  ERR_FROM=$(($(wc -l <"$WORK/znp.err" 2>/dev/null || echo 0) + 1))
  znp_start "$1" "${DEVICES[@]}"
}
# Whether a device joined since the last start.
joined_again() { tail -n +"$ERR_FROM" "$WORK/znp.err" | grep -q 'joined as'; }

# One host run: a name, then herdsman_nv.js's arguments after PORT DIR.
host_nv() {
  local name=$1 log=$WORK/host-$1.log rc=0
  shift
  timeout 150 node "$HERE/herdsman_nv.js" "$1" "$PORT" "$WORK/host" "${@:2}" >"$log" 2>&1 || rc=$?
  grep "^RESULT" "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -30 "$log" >&2
    fail "run $name: zigbee-herdsman: $* did not hold (exit $rc)"
  fi
}

mkdir -p "$WORK/host"
start_nv "$WORK/a.nv"
host_nv 1-join join 2
znp_stop
start_nv "$WORK/a.nv"
host_nv 2-restarted known resumed 2 lumi.curtain
if joined_again; then fail "a device joined again after hubsim znp restarted"; fi
znp_stop
start_nv "$WORK/b.nv"
host_nv 3-restored known restored 2 lumi.curtain
if joined_again; then fail "a device joined again after the restore"; fi
znp_stop
# The used address manager entries (user 03): zigbee-herdsman writes the free ones as zeros.
used() { grep -E '^01\.0001\.[0-9a-f]{4} 03' "$1" | sort; }
[ "$(used "$WORK/a.nv" | wc -l)" -eq 2 ] || fail "the NV file does not list the two devices"
[ "$(used "$WORK/a.nv")" = "$(used "$WORK/b.nv")" ] ||
  fail "the restored address manager table differs from the one the devices joined into"
echo "test_znp_herdsman nv: zigbee-herdsman $HERDSMAN_VERSION: 2 devices in the backup with link keys; resumed after a restart and restored onto a new NV file, with no joins; the router answered and the network map listed them each time"
