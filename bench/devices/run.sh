#!/usr/bin/env bash
# bench/devices/run.sh: memory and CPU of the device layer alone (no hubs' network, no
# connections): builds bench_devices in Release and runs it for 1,000,000 catalogue devices
# stepped through one simulated hour. Prints the program's figures, then one line to paste
# into docs/performance.md (date, figures, command).
#
# usage: bench/devices/run.sh [bench_devices flags...]   (default: --devices 1000000
#        --duration 3600; see `bench_devices --help`). BUILD_DIR overrides the build folder.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build-bench-devices}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DHUBSIM_TESTS=OFF &&
  make -C "$build" -j"$(nproc)" bench_devices; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "bench/devices/run.sh: build failed" >&2
  exit 1
fi

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--devices 1000000 --duration 3600)
fi
cmd="$build/bench/bench_devices ${args[*]}"
out=$("$build/bench/bench_devices" "${args[@]}")
printf '%s\n' "$out"

result=$(printf '%s\n' "$out" | grep '^RESULT ')
get() { printf '%s\n' "$result" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo
echo "docs/performance.md line:"
printf '| %s | %s devices, %s s simulated | %s B/device (RSS %s -> %s kB) | %s frames | %s ns CPU/frame | `%s` |\n' \
  "$(date -u +%F)" "$(get devices)" "$(get sim_s)" "$(get bytes_per_device)" \
  "$(get rss_before_kb)" "$(get rss_after_kb)" "$(get frames)" "$(get cpu_per_frame_ns)" \
  "$(echo "bench/devices/run.sh $*" | sed 's/ *$//')"
