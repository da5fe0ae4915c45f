#!/usr/bin/env bash
# `hubsim znp --script` as a process: a missing file, a syntax error, an error at load, a fleet
# global, radio.* at the top level, a bad argument, an error in a callback, an endless loop in
# one: each ends with exit 2 and a message naming the file (and the line where there is one);
# a script that finishes prints "script done" and the coordinator keeps serving until SIGTERM.
#   test_znp_script_cli.sh HUBSIM
set -uo pipefail

HUBSIM=${1:?usage: test_znp_script_cli.sh HUBSIM}
WORK=$(mktemp -d /tmp/hubsim-znp-script-cli.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
FAILS=0

fail() {
  echo "test_znp_script_cli: FAIL: $*" >&2
  FAILS=$((FAILS + 1))
}

# expect_exit NAME CODE PATTERN SCRIPT_TEXT: the run ends (within 20 s) with CODE and stderr
# matching PATTERN.
expect_exit() {
  local name=$1 code=$2 pattern=$3 rc=0
  printf '%s\n' "$4" >"$WORK/$name.lua"
  (cd "$WORK" && timeout 20 "$HUBSIM" znp --nv "$WORK/$name.nv" --script "$name.lua") \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$name: exit $rc, expected $code ($(head -c 300 "$WORK/$name.err"))"
  elif ! grep -qE -- "$pattern" "$WORK/$name.err"; then
    fail "$name: stderr lacks /$pattern/: $(head -c 300 "$WORK/$name.err")"
  fi
}

# The whole text first: grep -q stops reading at the match, and the rest would fail on a
# closed pipe.
help=$("$HUBSIM" znp --help) || fail "--help exited $?"
grep -q -- '--script FILE.lua' <<<"$help" || fail "--help does not list --script"

rc=0
"$HUBSIM" znp --nv "$WORK/x.nv" --script "$WORK/missing.lua" 2>"$WORK/missing.err" || rc=$?
[ "$rc" -eq 2 ] || fail "missing file: exit $rc, expected 2"
grep -q "missing.lua: cannot open" "$WORK/missing.err" || fail "missing file: not named: $(cat "$WORK/missing.err")"

expect_exit syntax 2 '^hubsim znp: --script: syntax\.lua:3: .\). expected' 'at(1, function()
  log("x"'
expect_exit load 2 "^hubsim znp: --script: load\.lua:1: attempt to perform arithmetic on a nil value" \
  'local x = nil + 1'
expect_exit fleet 2 "fleet\.lua:1: attempt to call a nil value \(global 'fleet'\)" 'fleet{hubs = 1}'
expect_exit toplevel 2 "toplevel\.lua:1: radio\.permit_join works only from at\(\), after\(\) or every\(\)" \
  'radio.permit_join("10s")'
expect_exit badarg 2 "^hubsim znp: script badarg\.lua:1: radio\.permit_join: 300 s: the radio opens its network for 1 s to 254 s" \
  'at(0, function() radio.permit_join("5m") end)'
expect_exit badmodel 2 "badmodel\.lua:2: radio\.device: 'lumi\.nothing' is no model of the catalogue" 'at("50ms", function()
  radio.device("lumi.nothing") end)'
expect_exit badcoord 2 "badcoord\.lua:1: radio\.reset: coordinator 1: there is no such coordinator \(0 to 0\)" \
  'after(0, function() radio.reset(1) end)'
expect_exit runtime 2 "^hubsim znp: script runtime\.lua:3: boom" 'log("loaded")
after("100ms", function()
  error("boom")
end)'
expect_exit endless 2 "endless\.lua:1: instruction budget of 100000000 exceeded" \
  'at(0, function() while true do end end)'

# A script that finishes: its log lines, "script done", and the coordinator still serving
# until SIGTERM (exit 0).
cat >"$WORK/done.lua" <<'LUA'
at("50ms", function()
  local st = radio.status()
  log("network=%s endpoints=%d", tostring(st.network), st.endpoints)
  local d = radio.device("lumi.plug")
  log("%s joined=%s", d.model, tostring(d.joined))
  log("permit: %s (%s)", radio.permit_join("10s"))
end)
LUA
"$HUBSIM" znp --nv "$WORK/done.nv" --script "$WORK/done.lua" >"$WORK/done.out" 2>"$WORK/done.err" &
PID=$!
for _ in $(seq 1 100); do
  grep -q '^script done$' "$WORK/done.out" && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
grep -q '^script done$' "$WORK/done.out" || fail "done: no 'script done' within 10 s: $(cat "$WORK/done.out" "$WORK/done.err")"
grep -q '^script 0\.050 network=false endpoints=0$' "$WORK/done.out" || fail "done: status line missing: $(cat "$WORK/done.out")"
grep -q '^script 0\.050 lumi\.plug joined=false$' "$WORK/done.out" || fail "done: device line missing"
grep -q '^script 0\.050 permit: false (no network runs (the host has not started it))$' "$WORK/done.out" ||
  fail "done: permit_join without a network did not return false and why"
kill -0 "$PID" 2>/dev/null || fail "done: hubsim znp ended with its script"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" -eq 0 ] || fail "done: exit $rc on SIGTERM, expected 0"

[ "$FAILS" -eq 0 ] || exit 1
echo "test_znp_script_cli: every bad script refused with exit 2 naming it; a finished script says so"
