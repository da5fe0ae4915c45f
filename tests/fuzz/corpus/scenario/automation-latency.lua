-- automation-latency: how long from a motion (or a door opening) to the plug (or light)?
--
-- The question: users feel automations, not reports. With a few dozen automations installed
-- on the platform ("when the motion sensor reports occupancy, toggle the plug"; "when the
-- door opens, switch the light on"), and their sensors triggered over 20 minutes, what is the
-- end-to-end latency distribution, measured from the *intended* time of the device event
-- (when the sensor meant to send it) to the moment the commanded device receives its
-- command? It covers the radio, the hub's queue, the network, the platform's rule engine and
-- the way back; a stall anywhere shows up (coordinated omission included). For six minutes
-- of the run, the uplink of a third of the sensors' hubs is slowed by 150 ms per write, so the
-- tail of the distribution shows what a slow network does to users.
--
--   hubsim run automation-latency --clock virtual --summary summary.json
--   hubsim run automation-latency --platform hubrpc://HOST:PORT --platform-admin HOST:PORT
--
-- Reading the result: the `automation latency` line of the human summary (JSON:
-- `scenario.automation_latency`: count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms) is
-- the answer. The expectations (`expectation` lines, `scenario.expectations`):
--   automation.latency.p50 < 100ms, .p90 < 250ms, .p99 < 500ms, .max < 1s
--                              the distribution; the 150 ms slow phase lands in the tail
--   automation.latency.count >= 90 % of the events the script triggered (computed at run
--                              time from the automations it could install): automations
--                              that never fired would otherwise hide in a good percentile
--   platform.rule_target_offline == 0   no automation found its target's hub offline
--   reports.lost == 0
-- On the virtual clock the network and the platform take no time of their own, so the
-- latencies there are the slow phase's 150 ms and the engine's scheduling; against a real
-- platform they are the platform's.

scenario{name = "automation-latency", description = "end-to-end automation latency",
         duration = "20m", seed = 7}
fleet{hubs = 40, devices_per_hub = 8,
      mix = {["lumi.sensor_motion.aq2"] = 1, ["lumi.sensor_magnet.aq2"] = 1, ["lumi.plug"] = 1,
             ["lumi.light.aqcn02"] = 1}}

local PAIRS = 24 -- per kind: 24 motion -> plug and 24 door -> light (the platform takes 64)
local motion_sel, door_sel   -- the triggering sensors, as selections
local sensor_hubs = {}       -- hub index -> true, for the slow phase
local expected = 0           -- events that must fire an automation

-- Builds a selection of exactly the devices listed (by EUI-64).
local function only(list)
  local set = {}
  for _, d in ipairs(list) do set[d.eui] = true end
  return devices{where = function(d) return set[d.eui] == true end}
end

at("10s", function()
  phase("install")
  local motions = devices{model = "lumi.sensor_motion.aq2"}
  local doors = devices{model = "lumi.sensor_magnet.aq2"}
  local plugs = devices{model = "lumi.plug"}
  local lights = devices{model = "lumi.light.aqcn02"}
  local m_list, d_list = {}, {}
  for i = 1, math.min(PAIRS, #motions, #plugs) do
    platform.automation{when = {device = motions[i], cluster = 0x0406, attr = 0x0000, equals = 1},
                        command = {device = plugs[i], ep = 1, cluster = 0x0006, command = 0x02}}
    m_list[#m_list + 1] = motions[i]
    sensor_hubs[motions[i].hub] = true
  end
  for i = 1, math.min(PAIRS, #doors, #lights) do
    platform.automation{when = {device = doors[i], cluster = 0x0006, attr = 0x0000, equals = 1},
                        command = {device = lights[i], ep = 1, cluster = 0x0006, command = 0x01}}
    d_list[#d_list + 1] = doors[i]
    sensor_hubs[doors[i].hub] = true
  end
  motion_sel, door_sel = only(m_list), only(d_list)
  log("%d motion -> plug and %d door -> light automations", #m_list, #d_list)
end)

-- Motion every 75 s (the sensor is blind for 60 s after a detection), from 30 s to 19 min.
local MOTION_ROUNDS, DOOR_ROUNDS = 15, 27
every("75s", function()
  expected = expected + motion_sel:trigger("motion")
end, {from = "30s", count = MOTION_ROUNDS})

-- Doors open (fires) and close (does not) alternately, every 20 s from 40 s.
every("20s", function(n)
  if n % 2 == 1 then
    expected = expected + door_sel:trigger("open")
  else
    door_sel:trigger("close")
  end
end, {from = "40s", count = 2 * DOOR_ROUNDS})

-- The slow phase: a third of the sensors' hubs write 150 ms late for 6 minutes.
at("8m", function()
  phase("slow-uplink")
  local slow = hubs{where = function(h) return sensor_hubs[h.index] == true end, share = 0.34}
  slow:fault{delay_writes = "150ms", for_ = "6m"}
  after("6m", function() phase("recovered") end)
end)

-- Declared once the triggers are known (19 min: the last trigger has run).
at("19m", function()
  expect("automation.latency.count", ">=", math.floor(expected * 0.9))
end)

expect("automation.latency.p50", "<", "100ms")
expect("automation.latency.p90", "<", "250ms")
expect("automation.latency.p99", "<", "500ms")
expect("automation.latency.max", "<", "1s")
expect("platform.rule_target_offline", "==", 0)
expect("reports.lost", "==", 0)
