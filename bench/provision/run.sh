#!/bin/sh
# The provisioning benchmark: sim/pki alone, then `hubsim provision` for 100,000 hubs into a
# fresh folder under ${TMPDIR:-/tmp} (removed at the end). Run from the build folder's parent:
#   bench/provision/run.sh [BUILD]
set -eu
build=${1:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-provision.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$build/bench/bench_provision" --certs 5000
"$build/bench/bench_provision" --certs 0 --hubs 100000 --hubsim "$build/hubsim" --dir "$dir"
