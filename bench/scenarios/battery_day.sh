#!/bin/sh
# Benchmark of the virtual clock: 24 simulated hours of 1,000 hubs x 30 battery
# devices (scenarios/battery-day.lua) must take at most 60 s of wall time.
#
#   bench/scenarios/battery_day.sh [HUBS [DEVICES_PER_HUB]]
#
# Builds hubsim as RelWithDebInfo in its own folder (build-bench-scenarios), runs the scenario
# once under /usr/bin/time -v, and prints a line for docs/performance.md: date, command, wall
# time, CPU, peak RSS, the run's exit code and whether the budget held. The summary JSON and
# the time output stay in build-bench-scenarios/battery-day.*. Exit 0 when the run passed and
# the budget held, 1 otherwise.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench-scenarios
hubs=${1:-1000}
dph=${2:-30}
budget_s=60

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$build" -j2 hubsim >/dev/null

cmd="hubsim run battery-day --clock virtual --hubs $hubs --devices-per-hub $dph"
rc=0
/usr/bin/time -v -o "$build/battery-day.time" \
  "$build/hubsim" run battery-day --clock virtual --hubs "$hubs" --devices-per-hub "$dph" -q \
  --summary "$build/battery-day.json" >"$build/battery-day.out" 2>"$build/battery-day.err" || rc=$?

# Elapsed is h:mm:ss.ss or m:ss.ss
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
  n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' \
  "$build/battery-day.time")
user=$(awk -F': ' '/User time/ {print $2}' "$build/battery-day.time")
sys=$(awk -F': ' '/System time/ {print $2}' "$build/battery-day.time")
rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$build/battery-day.time")
reports=$(sed -n 's/^  reports *generated \([0-9]*\).*/\1/p' "$build/battery-day.out")
within=$(awk -v w="$wall" -v b="$budget_s" 'BEGIN { print (w <= b) ? "within" : "OVER" }')

printf '| %s | `%s` | %s s wall (%s s user + %s s sys), peak RSS %s MiB, %s reports, exit %s | %s the %s s budget |\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$cmd" "$wall" "$user" "$sys" "$rss" "${reports:-?}" "$rc" \
  "$within" "$budget_s"
[ "$rc" -eq 0 ] && [ "$within" = within ]
