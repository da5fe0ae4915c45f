-- The scenario API end to end (tests/integration/scenarios_api/test_scn_api.c runs it on the
-- virtual clock against the in-process reference platform).
scenario{name = "api", description = "every part of the API once", duration = "10m",
         clock = "virtual", seed = 11}
fleet{hubs = 8, devices_per_hub = 4,
      mix = {["lumi.sensor_motion.aq2"] = 1, ["lumi.plug"] = 1}}
ramp{rate = 4}

local motion, plug, motion_sel

phase("warm-up")

at("30s", function()
  phase("setup")
  motion = devices{model = "lumi.sensor_motion.aq2"}[1]
  plug = devices{model = "lumi.plug", where = function(d) return d.hub ~= motion.hub end}[1]
  assert(motion and plug, "the mix has both models")
  log("motion %d/%d %s, plug %d/%d %s", motion.hub, motion.slot, motion.eui, plug.hub,
      plug.slot, plug.eui)
  motion_sel = devices{where = function(d) return d.hub == motion.hub and d.slot == motion.slot end}
  assert(motion_sel:count() == 1)
  platform.automation{when = {device = motion, cluster = 0x0406, attr = 0x0000, equals = 1},
                      command = {device = plug, ep = 1, cluster = 0x0006, command = 0x02}}
  log("online at 30s: %d of %d", hubs{where = function(h) return h.online end}:count(),
      hubs{all = true}:count())
  -- relative to now: runs at 45 s
  after("15s", function() log("after 15s: now = %g", now()) end)
end)

-- a motion every 70 s (the sensor is blind for 60 s after each)
every("70s", function(n)
  local k = motion_sel:trigger("motion")
  log("motion %d: %d triggered", n, k)
end, {from = "40s", to = "8m"})

-- every share of the motion sensors, an unknown event on the plugs (counted, not an error)
every("1m", function(n)
  devices{model = "lumi.sensor_motion.aq2", share = 0.5}:trigger("motion")
  devices{model = "lumi.plug"}:trigger("no-such-event")
end, {from = "1m", count = 3})

at("2m", function()
  phase("power-cut")
  local cut = hubs{list = {2, 3}}
  cut:power_cut()
  cut:each(function(h) log("hub %s is %s", h.id, h.state) end)
  after("30s", function()
    phase("restore")
    log("restored %d", hubs{list = {2, 3}}:restore())
  end)
end)

at("3m30s", function()
  phase("faults")
  hubs{list = {4}}:fault{stall_reads = "10s"}
  hubs{list = {5}}:fault{delay_writes = "200ms", for_ = "30s"}
  hubs{list = {6}}:fault{malformed = true}
  hubs{list = {7}}:fault{clock_skew = "-5m"}
  hubs{share = 0.25}:fault{drop = true}
end)

at("4m30s", function()
  phase("commands")
  local id = platform.command(plug, {ep = 1, cluster = 0x0006, command = 0x01})
  log("command id %s", tostring(id))
  local off = devices{model = "lumi.plug", share = 0.5,
                      where = function(d) return d.eui ~= plug.eui end}
  off:remove()
  after("20s", function() off:join() end)
  log("random %d", math.random(1000))
end)

at("9m", function() phase("settle") end)

expect("hubs.online", ">=", 0.99, {after = "1m"})  -- fails during the power cut
expect("hubs.online", "==", 1)
expect("power_cuts", "==", 2)
expect("report.rtt.p99", "<", "250ms")
expect("automation.latency.count", ">=", 1)
expect("automation.latency.p99", "<", "2s")
expect("triggers.sent", ">", 0)
expect("triggers.unknown", ">", 0)
expect("commands.ok", ">=", 1)
expect("platform.rules_fired", ">=", 1)
expect("reports.generated", "<", 1)                 -- fails: a deliberate failure
expect("faults", ">=", 4)
