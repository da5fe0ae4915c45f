#!/usr/bin/env bash
# bench/tls/storm.sh [HUBS] [DURATION]: a reconnect storm over TLS. Starts `hubsim platform
# --listen hubrpcs://127.0.0.1:0` (own process: each side holds one socket per hub, and the
# open-file limit is per process), then `hubsim run bench/tls/storm.lua --hubs HUBS` against
# it: once every hub is online, all drop at the same moment and reconnect. Prints the run's
# summary (sessions, the tls counts: full and resumed handshakes with their durations) and the
# platform's own TLS count. See docs/performance.md.
#   HUBS      default 10000 (one process each side, under a 20k open-file limit; --bind spreads
#             source addresses past ~28k hubs, and HUBSIM_RUN_FLAGS passes more flags)
#   DURATION  default 120s
# The binary: $HUBSIM, else build/hubsim under the source tree. Exit: the run's exit code.
set -eu -o pipefail
HUBS=${1:-10000}
DURATION=${2:-120s}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HUBSIM=${HUBSIM:-$SRC/build/hubsim}
[ -x "$HUBSIM" ] || { echo "bench/tls: no $HUBSIM (build the project first)" >&2; exit 3; }
D=$(mktemp -d)
PLAT=
cleanup() {
  [ -z "$PLAT" ] || kill "$PLAT" 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
sh "$SRC/tests/integration/tls/mkcerts.sh" "$D"
chmod 600 "$D"/*.key
echo "bench/tls/storm.sh HUBS=$HUBS DURATION=$DURATION $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cpus, ulimit -n $(ulimit -n)"
"$HUBSIM" platform --listen hubrpcs://127.0.0.1:0 --cert "$D/server.pem" --key "$D/server.key" \
  --db "$D/platform.db" --ready-file "$D/ready" 2>"$D/platform.err" &
PLAT=$!
for _ in $(seq 200); do [ -s "$D/ready" ] && break; sleep 0.05; done
[ -s "$D/ready" ] || { echo "bench/tls: the platform did not start" >&2; cat "$D/platform.err" >&2; exit 3; }
rc=0
# shellcheck disable=SC2086
timeout 900 "$HUBSIM" run "$SRC/bench/tls/storm.lua" --platform "hubrpcs://127.0.0.1:$(cat "$D/ready")" \
  --ca "$D/ca.pem" --hubs "$HUBS" --duration "$DURATION" --ui none -q --allow-lag \
  ${HUBSIM_RUN_FLAGS:-} || rc=$?
kill -TERM "$PLAT"
wait "$PLAT" || true
PLAT=
grep -E "^platform: (exit|counters|tls)" "$D/platform.err" || true
exit $rc
