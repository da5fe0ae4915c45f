#!/usr/bin/env bash
# bench/tls/handshake.sh [N] [CONC]: connections per second per core of the tls transport on
# loopback, full and resumed, client and server side apart, and of plain tcp beside them (the
# floor). Certificates (ECDSA P-256, as hubsim provision makes by default) are made for the run
# by tests/integration/tls/mkcerts.sh into a temporary folder. See docs/performance.md.
#   N     connections per round (default 20000)
#   CONC  connections in flight at once (default 64)
# The binary: $BENCH_TLS, else build/bench/bench_tls_handshake under the source tree.
set -eu -o pipefail
N=${1:-20000}
CONC=${2:-64}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BENCH_TLS:-$SRC/build/bench/bench_tls_handshake}
[ -x "$BIN" ] || { echo "bench/tls: no $BIN (build the project first)" >&2; exit 3; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
sh "$SRC/tests/integration/tls/mkcerts.sh" "$D"
chmod 600 "$D"/*.key
echo "bench/tls/handshake.sh N=$N CONC=$CONC $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cpus, $(openssl version)"
"$BIN" tls "$D/server.pem" "$D/server.key" "$D/ca.pem" "$N" "$CONC"
"$BIN" tcp "$N" "$CONC"
