# Sourced by the tests here that run `hubsim znp` as a process; needs HUBSIM, WORK and the
# caller's fail function.
#   znp_start NV_FILE [FLAG...]  starts it on NV_FILE with -v (stdout and stderr appended to
#                                $WORK/znp.out and $WORK/znp.err), waits at most 10 s for its
#                                ready file, and sets ZNP_PID, PORT (the ready file) and
#                                TARGET (its first line: the port, or the --pty path)
#   znp_stop                     SIGTERM, and fails unless it exits 0
znp_start() {
  local nv=$1
  shift
  rm -f "$WORK/port"
  "$HUBSIM" znp -v --nv "$nv" --ready-file "$WORK/port" "$@" >>"$WORK/znp.out" 2>>"$WORK/znp.err" &
  ZNP_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$WORK/port" ] && break
    kill -0 "$ZNP_PID" 2>/dev/null || { cat "$WORK/znp.err" >&2; fail "hubsim znp exited at start"; }
    sleep 0.1
  done
  [ -s "$WORK/port" ] || fail "hubsim znp wrote no ready file within 10 s"
  PORT=$(cat "$WORK/port")
  TARGET=$(head -1 "$WORK/port")
}

znp_stop() {
  kill -TERM "$ZNP_PID"
  local rc=0
  wait "$ZNP_PID" || rc=$?
  ZNP_PID=
  [ "$rc" -eq 0 ] || { cat "$WORK/znp.err" >&2; fail "hubsim znp exited $rc on SIGTERM"; }
}
