-- command-fanout: the platform commands hundreds of devices at the same moment.
--
-- The question: "all lights off" from an app, a scene at a set time, a utility's demand
-- response: the platform sends a command to many devices at once. Does every command reach
-- its hub and device, and does every result come back OK, in time? Three waves:
--   0:30  every switchable device (plugs, lights, wall switches) is switched on
--         (platform.command over a selection, as an app would do it);
--   1:30  every light is dimmed (Level Control, move to level, with a payload) and every
--         plug toggled;
--   2:00  64 platform timers set for "00:02" fire together and switch their devices off.
-- Timers fire at HH:MM of the platform's clock, which on the virtual clock starts at
-- 2026-01-01 00:00 UTC: the script asks for the virtual clock (on the real clock the "00:02"
-- timers would wait for the next 00:02 UTC).
--
--   hubsim run command-fanout --summary summary.json
--
-- Reading the result: the `expectation` lines (JSON: `scenario.expectations`); the figures are
-- counted while the script runs (every command the platform accepted, every timer), so
-- --hubs / --devices-per-hub scale them:
--   commands.received == commands sent      every command reached its hub
--   commands.ok == commands sent            every result was COMMAND_OK ...
--   commands.failed == 0
--   platform.commands_ok == commands sent   ... and reached the platform within its 30 s
--   platform.commands_timed_out == 0
--   platform.timer_commands == timers       every timer fired and sent its command
--   hubs.online == 1, reports.lost == 0
-- The `commands` line of the human summary (JSON `commands`) and `platform counts` repeat them.

scenario{name = "command-fanout", description = "the platform commands many devices at once",
         duration = "4m", clock = "virtual", seed = 9}
fleet{hubs = 50, devices_per_hub = 10,
      mix = {["lumi.plug"] = 3, ["lumi.light.aqcn02"] = 2, ["lumi.switch.l1aeu1"] = 1,
             ["lumi.ctrl_ln2.aq1"] = 1, ["lumi.weather"] = 1, ["lumi.sensor_magnet.aq2"] = 1}}

local SWITCHABLE = {["lumi.plug"] = true, ["lumi.light.aqcn02"] = true,
                    ["lumi.switch.l1aeu1"] = true, ["lumi.ctrl_ln2.aq1"] = true}
local sent, refused, timers = 0, 0, 0

-- Sends one command to every device of a selection; counts what the platform accepted.
local function fan_out(sel, cmd)
  sel:each(function(d)
    local id = platform.command(d, cmd)
    if id then sent = sent + 1 else refused = refused + 1 end
  end)
end

at("10s", function()
  phase("timers")
  -- 64 timers (the most a scenario may define) on the first switchable devices
  local targets = devices{where = function(d) return SWITCHABLE[d.model] == true end}
  for i = 1, math.min(64, #targets) do
    platform.timer{at = "00:02",
                   command = {device = targets[i], ep = 1, cluster = 0x0006, command = 0x00}}
    timers = timers + 1
  end
end)

at("30s", function()
  phase("all-on")
  fan_out(devices{where = function(d) return SWITCHABLE[d.model] == true end},
          {ep = 1, cluster = 0x0006, command = 0x01})
end)

at("1m30s", function()
  phase("scene")
  -- move to level 0x80 with on/off, transition 1 s (level uint8, transition uint16 LE)
  fan_out(devices{model = "lumi.light.aqcn02"},
          {ep = 1, cluster = 0x0008, command = 0x04, payload = "800a00"})
  fan_out(devices{model = "lumi.plug"}, {ep = 1, cluster = 0x0006, command = 0x02})
end)

at("2m", function() phase("timers-fire") end)

-- Every command is out by now (the timers fired at 2:00); what must have come back:
at("3m", function()
  phase("results")
  local total = sent + timers
  log("%d commands sent by the script, %d refused, %d timers", sent, refused, timers)
  expect("commands.received", "==", total)
  expect("commands.ok", "==", total)
  expect("platform.commands_ok", "==", total)
  expect("platform.timer_commands", "==", timers)
  expect("platform.timers_fired", "==", timers)
end)

expect("commands.failed", "==", 0)
expect("platform.commands_timed_out", "==", 0)
expect("hubs.online", "==", 1)
expect("reports.lost", "==", 0)
