#!/usr/bin/env bash
# `hubsim znp` as a process: --help; bad flags, values and NV files exit 2 naming them, and a
# malformed NV file is left as it was; --ready-file holds the bound port, a host's ping over
# TCP is answered, SIGTERM ends it with exit 0 and the NV file written.
#   test_znp_cli.sh HUBSIM
set -uo pipefail
HUBSIM=${1:?usage: test_znp_cli.sh HUBSIM}
WORK=$(mktemp -d /tmp/hubsim-znp-cli.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "test_znp_cli: FAIL: $*" >&2; exit 1; }

# refused CODE TEXT ARGS...: exit CODE, and stderr holds TEXT.
refused() {
  local code=$1 text=$2 rc=0
  shift 2
  timeout 10 "$HUBSIM" znp "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" -eq "$code" ] || fail "hubsim znp $*: exit $rc, want $code ($(cat "$WORK/err"))"
  grep -qF -- "$text" "$WORK/err" || fail "hubsim znp $*: stderr lacks '$text': $(cat "$WORK/err")"
}

# The whole text first: grep -q stops reading at the match, and the rest would fail on a
# closed pipe.
help=$("$HUBSIM" znp --help) || fail "--help exited $?"
grep -q 'tcp://127.0.0.1:PORT' <<<"$help" || fail "--help does not say how to connect"
refused 2 "--nv FILE is required"
refused 2 "flag '--bogus': unknown" --nv "$WORK/a.nv" --bogus
refused 2 "flag '--nv': needs a value" --nv
refused 2 "'localhost:1': the host is not an IPv4 address" --nv "$WORK/a.nv" --listen localhost:1
refused 2 "the port is not a number" --nv "$WORK/a.nv" --listen 127.0.0.1:65536
refused 2 "its folder '$WORK/none' does not exist" --nv "$WORK/none/a.nv"
refused 2 "--device 'lumi.nothing': no such model" --nv "$WORK/a.nv" --device lumi.nothing
printf '0001 00124b0001020304\n0021 0g\n' >"$WORK/bad.nv"
cp "$WORK/bad.nv" "$WORK/bad.orig"
refused 2 "NV file '$WORK/bad.nv': line 2" --nv "$WORK/bad.nv"
cmp -s "$WORK/bad.nv" "$WORK/bad.orig" || fail "the malformed NV file was changed"
[ ! -e "$WORK/a.nv" ] || fail "a refused start wrote the NV file"

"$HUBSIM" znp --nv "$WORK/a.nv" --ready-file "$WORK/port" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || fail "no ready file within 10 s"
PORT=$(cat "$WORK/port")
grep -q "^listening on 127.0.0.1:$PORT\$" "$WORK/out" || fail "stdout does not name the port: $(cat "$WORK/out")"
# SYS_PING over TCP (bash's /dev/tcp): the SRSP FE 02 61 01 59 06 3D must come back. $1 says
# when, for the message.
ping_port() {
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "$1: cannot connect to port $PORT"
  printf '\xfe\x00\x21\x01\x20' >&3
  local got
  got=$(timeout 5 head -c 7 <&3 | od -An -tx1 | tr -d ' \n')
  exec 3>&-
  [ "$got" = "fe02610159063d" ] || fail "$1: SYS_PING answered '$got'"
}
ping_port "first host"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM"
grep -q '^0001 ' "$WORK/a.nv" || fail "the NV file has no IEEE address"
grep -q 'frames in, .* out, 0 bad' "$WORK/err" || fail "counters: $(cat "$WORK/err")"

# --coordinators N: N networks in one process, each on its own port with its own NV file.
refused 2 "--coordinators '0': expected a whole number from 1 to 64" --nv "$WORK/m.nv" --coordinators 0
refused 2 "--coordinators '65': expected a whole number from 1 to 64" --nv "$WORK/m.nv" --coordinators 65
refused 2 "--state-file '$WORK/st': serves one coordinator only" --nv "$WORK/m.nv" --coordinators 2 --state-file "$WORK/st"
refused 2 "PORT+K for every coordinator must stay below 65536" --nv "$WORK/m.nv" --coordinators 3 --listen 127.0.0.1:65534
rm -f "$WORK/port"
"$HUBSIM" znp --nv "$WORK/m.nv" --coordinators 3 --device lumi.plug --ready-file "$WORK/port" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && [ "$(wc -l <"$WORK/port")" -eq 3 ] && break; sleep 0.1; done
[ "$(wc -l <"$WORK/port" 2>/dev/null)" = 3 ] || fail "--coordinators 3: the ready file does not hold 3 ports: $(cat "$WORK/port" 2>/dev/null)"
[ "$(sort -u "$WORK/port" | wc -l)" -eq 3 ] || fail "--coordinators 3: ports not distinct: $(cat "$WORK/port")"
while read -r PORT; do
  grep -q "^listening on 127.0.0.1:$PORT\$" "$WORK/out" || fail "--coordinators 3: stdout does not name port $PORT: $(cat "$WORK/out")"
  ping_port "coordinator on port $PORT"
done <"$WORK/port"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" -eq 0 ] || fail "--coordinators 3: exit $rc after SIGTERM"
for k in 0 1 2; do
  grep -q '^0001 ' "$WORK/m.nv.$k" || fail "--coordinators 3: NV file m.nv.$k has no IEEE address"
  grep -q "coordinator $k: .*frames in" "$WORK/err" || fail "--coordinators 3: no counters of coordinator $k: $(cat "$WORK/err")"
done
[ ! -e "$WORK/m.nv" ] || fail "--coordinators 3 wrote the plain NV file too"
echo "test_znp_cli: flags, NV file checks, ready file, a ping over TCP, SIGTERM, --coordinators: as documented"
