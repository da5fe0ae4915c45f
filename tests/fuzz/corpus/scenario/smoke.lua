-- smoke: does the whole chain work at all?
--
-- The question: with a small fleet in which every device model of the catalogue is present,
-- does every device join, does every report reach the platform and get acknowledged, does a
-- command sent by the platform come back as a result, and does an automation ("when the
-- button is pressed, toggle the plug") fire end to end? This is the scenario to run on every
-- commit: about 2 s on the virtual clock, under 30 s of wall time on the real clock.
--
--   hubsim run smoke --clock virtual --junit results.xml --summary summary.json
--
-- Reading the result: the `expectation` lines of the human summary (or
-- `scenario.expectations` of the JSON summary, or the JUnit test cases), one per expect()
-- below:
--   reports.lost == 0              every report sent was acknowledged (nothing lost)
--   hubs.online == 1               both hubs hold a session at the end
--   commands.ok >= 1               a platform command came back COMMAND_OK
--   automation.latency.count >= 1  the button -> plug automation fired and reached the plug
--   platform.rules_fired >= 1      ... and the platform saw it fire
--   report.rtt.p99 < 1s            reports are acknowledged promptly (generous bound)
-- If a device model of the catalogue is missing from the fleet or did not join, the run stops
-- with a script error naming it (exit 2).

scenario{name = "smoke", description = "every device model joins; a command and an automation",
         duration = "15s", seed = 1}
-- 200 devices over the 22 model ids of the catalogue: with the seed above (and any other we
-- tried) every model is present.
fleet{hubs = 2, devices_per_hub = 100, mix = "all"}

local MODELS = {
  "lumi.airrtc.agl001", "lumi.ctrl_ln2", "lumi.ctrl_ln2.aq1", "lumi.curtain",
  "lumi.light.aqcn02", "lumi.lock.acn02", "lumi.motion.ac02", "lumi.plug", "lumi.plug.maeu01",
  "lumi.remote.b1acn01", "lumi.sen_ill.mgl01", "lumi.sensor_gas.acn02", "lumi.sensor_ht.agl02",
  "lumi.sensor_magnet.aq2", "lumi.sensor_motion.aq2", "lumi.sensor_smoke",
  "lumi.sensor_switch.aq2", "lumi.sensor_wleak.aq1", "lumi.switch.agl011",
  "lumi.switch.l1aeu1", "lumi.vibration.aq1", "lumi.weather",
}

local button, plug

at("2s", function()
  phase("setup")
  button = devices{model = "lumi.sensor_switch.aq2"}[1]
  plug = devices{model = "lumi.plug"}[1]
  assert(button and plug, "the fleet has a button and a plug")
  -- any value of onOff from the button (a single click) toggles the plug
  platform.automation{when = {device = button, cluster = 0x0006, attr = 0x0000},
                      command = {device = plug, ep = 1, cluster = 0x0006, command = 0x02}}
end)

at("4s", function()
  phase("exercise")
  devices{where = function(d) return d.eui == button.eui end}:trigger("single")
  local id, err = platform.command(plug, {ep = 1, cluster = 0x0006, command = 0x01})
  assert(id, err)
end)

at("8s", function()
  phase("check")
  for _, m in ipairs(MODELS) do
    local n = devices{model = m}:count()
    local joined = devices{model = m, where = function(d) return d.joined end}:count()
    assert(n > 0, "device model " .. m .. " is missing from the fleet")
    assert(joined == n, string.format("%d of %d %s devices joined", joined, n, m))
  end
end)

expect("reports.lost", "==", 0)
expect("hubs.online", "==", 1)
expect("commands.ok", ">=", 1)
expect("automation.latency.count", ">=", 1)
expect("platform.rules_fired", ">=", 1)
expect("report.rtt.p99", "<", "1s")
