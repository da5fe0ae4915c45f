-- battery-day: does a day of battery reports arrive whole?
--
-- The question: battery devices (sensors, buttons, the TRV, the lock) spend a day doing what
-- they do on their own: an hourly heartbeat (every 3000..3600 s), climate changes, doors,
-- motion by day, the odd button press. After 24 simulated hours, did every frame reach the
-- platform and get acknowledged, exactly once, and did the devices send the traffic a real
-- day of these devices sends (at least their heartbeats, no runaway)?
-- 24 h only make sense on the virtual clock: the script asks for it. On a 2-core machine the
-- default fleet takes well under a second; the benchmark (bench/scenarios/battery_day.sh)
-- runs it with --hubs 1000 --devices-per-hub 30 against a budget of 60 s of wall time.
--
--   hubsim run battery-day --summary summary.json
--
-- Reading the result: the `expectation` lines (JSON: `scenario.expectations`):
--   reports.generated >= 24 x devices   on average every device sent at least a heartbeat an
--                                       hour (the thresholds are computed from the fleet
--                                       actually running, so --hubs/--devices-per-hub scale
--                                       them; the summary shows the numbers)
--   reports.generated <= 250 x devices  and no runaway sender (a real day of these models is
--                                       27..170 frames per device, motion sensors the most)
--   reports.lost == 0, reports.dropped == 0, reports.queued == 0, reports.forgotten == 0:
--                                       every report generated was acknowledged, none was
--                                       forgotten by the platform's store
--   platform.reports_duplicate == 0     and stored once (nothing had to be resent)
--   hubs.online >= 1 (after 1 min)      no hub lost its session during the day
-- `counts.reports` in the JSON summary has the day's totals; `sessions.heartbeats_sent` the
-- hubs' own keep-alives.

scenario{name = "battery-day", description = "24 h of battery devices on the virtual clock",
         duration = "24h", clock = "virtual", seed = 24}
fleet{hubs = 20, devices_per_hub = 15,
      mix = {["lumi.weather"] = 3, ["lumi.sensor_magnet.aq2"] = 3,
             ["lumi.sensor_motion.aq2"] = 3, ["lumi.sensor_ht.agl02"] = 2,
             ["lumi.motion.ac02"] = 1, ["lumi.sensor_wleak.aq1"] = 1, ["lumi.sensor_smoke"] = 1,
             ["lumi.sen_ill.mgl01"] = 1, ["lumi.vibration.aq1"] = 1,
             ["lumi.sensor_switch.aq2"] = 1, ["lumi.remote.b1acn01"] = 1,
             ["lumi.airrtc.agl001"] = 1, ["lumi.lock.acn02"] = 1}}

-- Per-device bounds need the fleet that actually runs (the command line may resize it).
at(0, function()
  phase("day")
  local n = devices():count()
  expect("reports.generated", ">=", 24 * n)
  expect("reports.generated", "<=", 250 * n)
end)

-- Name the parts of the day, for the UI and the summary's last phase.
at("7h", function() phase("morning") end)
at("12h", function() phase("afternoon") end)
at("19h", function() phase("evening") end)
at("23h", function() phase("night") end)

expect("reports.lost", "==", 0)
expect("reports.dropped", "==", 0)
expect("reports.queued", "==", 0)
expect("reports.forgotten", "==", 0)
expect("platform.reports_duplicate", "==", 0)
expect("hubs.online", ">=", 1, {after = "1m"})
