-- demo: what `hubsim run` does when told nothing else.
--
-- The question: a fleet of 100 hubs with 8 devices each, every model of the catalogue mixed,
-- runs for 20 s against the embedded reference platform. A few homes have automations ("when
-- the motion sensor sees someone, toggle the plug"), and someone walks past those sensors
-- every few seconds. Does every report arrive, promptly, and do the automations fire?
-- `make run` runs it on the real clock with --speedup 60 (device time 60 times faster, so the
-- 20 s hold 20 minutes of device behaviour); `--clock virtual` runs the same in a fraction of
-- a second.
--
--   hubsim run                       # or: hubsim run demo --speedup 60
--   hubsim run demo --clock virtual --summary summary.json
--
-- Reading the result: the `expectation` lines of the summary (JSON: `scenario.expectations`):
--   reports.lost == 0          every report sent was acknowledged
--   report.rtt.p99 < 2s        from each report's intended time to its Ack: generous, so it
--                              holds on a busy laptop; the `report ack latency` line has the
--                              actual distribution
--   hubs.online == 1           every hub holds its session at the end
--   automation.latency.count >= 1   an automation fired end to end; the `automation latency`
--                              line shows its distribution (from the motion's intended time to
--                              the plug receiving the command)
-- Then try --hubs 1000, --mix, or a scenario of your own (docs/scenarios.md).

scenario{name = "demo", description = "100 hubs x 8 devices, a few motion -> plug automations",
         duration = "20s", seed = 1}
fleet{hubs = 100, devices_per_hub = 8, mix = "all"}

-- The homes with automations: up to 4 motion sensors, each with a plug to toggle.
local homes = {}

at("1s", function()
  phase("automations")
  local sensors = devices{model = "lumi.sensor_motion.aq2"}
  local plugs = devices{model = "lumi.plug"}
  for i = 1, math.min(4, #sensors, #plugs) do
    local m, p = sensors[i], plugs[i]
    platform.automation{when = {device = m, cluster = 0x0406, attr = 0x0000, equals = 1},
                        command = {device = p, ep = 1, cluster = 0x0006, command = 0x02}}
    homes[#homes + 1] = devices{where = function(d) return d.eui == m.eui end}
  end
  log("%d motion -> plug automations", #homes)
end)

-- Someone walks past every 3 s (a sensor ignores motion for 60 s of device time after a
-- detection: at --speedup 60 that is one second, at speedup 1 only the first walk shows).
every("3s", function(n)
  phase("traffic")
  for _, sel in ipairs(homes) do sel:trigger("motion") end
  -- and a few doors open and close across the fleet
  devices{model = "lumi.sensor_magnet.aq2", share = 0.1}:trigger(n % 2 == 1 and "open" or "close")
end, {from = "2s", to = "17s"})

at("18s", function() phase("settle") end)

expect("reports.lost", "==", 0)
expect("report.rtt.p99", "<", "2s")
expect("hubs.online", "==", 1)
expect("automation.latency.count", ">=", 1)
