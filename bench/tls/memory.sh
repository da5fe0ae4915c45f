#!/usr/bin/env bash
# bench/tls/memory.sh [N]: user-space memory per TLS hub and per TLS platform session at steady
# state. For each scheme (hubrpc://, then hubrpcs://) it starts `hubsim platform` (own process,
# temporary store) and `hubsim run --hubs N --devices-per-hub 1` against it; once every hub is
# online and the run has been idle for 5 s it reads VmRSS of both processes (/proc/PID/status),
# then stops them. Per hub: (RSS of the run over hubrpcs:// - over hubrpc://) / N; per session:
# the same of the platform. With gdb on the PATH (and ptrace allowed) it also reads the heap
# in use of both processes (glibc's malloc_stats(), called through gdb): RSS also counts heap
# that was freed but not returned to the system. See docs/performance.md.
#   N  hubs (default 5000; one process each side, under the open-file limit)
# The binary: $HUBSIM, else build/hubsim under the source tree.
set -eu -o pipefail
N=${1:-5000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HUBSIM=${HUBSIM:-$SRC/build/hubsim}
[ -x "$HUBSIM" ] || { echo "bench/tls: no $HUBSIM (build the project first)" >&2; exit 3; }
D=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
sh "$SRC/tests/integration/tls/mkcerts.sh" "$D"
chmod 600 "$D"/*.key
rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
# inuse PID ERRFILE: the heap in use of PID in bytes (glibc's total), or 0 without gdb. The
# numbers go to the process's stderr, ERRFILE.
inuse() {
  command -v gdb >/dev/null 2>&1 || { echo 0; return; }
  gdb -batch -p "$1" -ex "call (void)malloc_stats()" >/dev/null 2>&1 || { echo 0; return; }
  local t=0
  until grep -qs "^Total (incl. mmap):" "$2"; do
    sleep 0.1
    t=$((t + 1))
    [ $t -lt 50 ] || { echo 0; return; }
  done
  sed -n '/^Total (incl. mmap):/,$p' "$2" | awk '/in use bytes/ {print $NF; exit}'
}

# measure SCHEME: prints "run_rss platform_rss run_inuse platform_inuse"
measure() {
  local scheme=$1 extra=() run_extra=()
  if [ "$scheme" = hubrpcs ]; then
    extra=(--cert "$D/server.pem" --key "$D/server.key")
    run_extra=(--ca "$D/ca.pem")
  fi
  rm -f "$D/ready"
  "$HUBSIM" platform --listen "$scheme://127.0.0.1:0" "${extra[@]}" --db "$D/$scheme.db" \
    --ready-file "$D/ready" 2>"$D/$scheme.plat.err" &
  local plat=$!
  PIDS+=("$plat")
  for _ in $(seq 200); do [ -s "$D/ready" ] && break; sleep 0.05; done
  [ -s "$D/ready" ] || { echo "bench/tls: the $scheme platform did not start" >&2; exit 3; }
  local port
  port=$(cat "$D/ready")
  "$HUBSIM" run --platform "$scheme://127.0.0.1:$port" "${run_extra[@]}" --hubs "$N" \
    --devices-per-hub 1 --speedup 1 --duration 120s --drain 1s --ui none \
    >"$D/$scheme.run.out" 2>"$D/$scheme.run.err" &
  local run=$!
  PIDS+=("$run")
  local t=0
  until grep -qs "online $N/$N" "$D/$scheme.run.err"; do
    sleep 0.2
    t=$((t + 1))
    [ $t -lt 600 ] || { echo "bench/tls: $scheme: not all $N hubs online in 120 s" >&2; exit 3; }
  done
  sleep 5
  local r p
  r=$(rss $run)
  p=$(rss $plat)
  echo "$r $p $(inuse $run "$D/$scheme.run.err") $(inuse $plat "$D/$scheme.plat.err")"
  kill -INT "$run"
  wait "$run" || true
  kill -TERM "$plat"
  wait "$plat" || true
}

echo "bench/tls/memory.sh N=$N $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cpus, $(openssl version)"
read -r run_tcp plat_tcp urun_tcp uplat_tcp < <(measure hubrpc)
read -r run_tls plat_tls urun_tls uplat_tls < <(measure hubrpcs)
echo "hubsim run RSS:      hubrpc:// $run_tcp B, hubrpcs:// $run_tls B"
echo "hubsim platform RSS: hubrpc:// $plat_tcp B, hubrpcs:// $plat_tls B"
echo "TLS per hub (run):          $(( (run_tls - run_tcp) / N )) B RSS"
echo "TLS per session (platform): $(( (plat_tls - plat_tcp) / N )) B RSS"
if [ "$urun_tls" -gt 0 ] && [ "$urun_tcp" -gt 0 ] && [ "$uplat_tls" -gt 0 ] && [ "$uplat_tcp" -gt 0 ]; then
  echo "hubsim run heap in use:      hubrpc:// $urun_tcp B, hubrpcs:// $urun_tls B"
  echo "hubsim platform heap in use: hubrpc:// $uplat_tcp B, hubrpcs:// $uplat_tls B"
  echo "TLS per hub (run):          $(( (urun_tls - urun_tcp) / N )) B heap in use"
  echo "TLS per session (platform): $(( (uplat_tls - uplat_tcp) / N )) B heap in use"
else
  echo "heap in use: not read (needs gdb and ptrace)"
fi
