-- power-cut: a neighbourhood loses power; does the platform take the hubs back?
--
-- The question: at 1 min, 30 % of the hubs lose power together, with every device behind
-- them (mains devices go dark; battery devices lose their parent). Two minutes later the
-- power comes back: the hubs boot again, reconnect all at once, and every device rejoins
-- (a DeviceJoined with rejoin set, as a real hub announces its network after a reboot).
-- Does every hub come back online, does the platform accept every rejoin, and is nothing
-- lost beyond what the hubs held in memory when the power went (which the run caused, so it
-- is counted apart: `counts.lost_power`, metric reports.lost_power)?
--
--   hubsim run power-cut --clock virtual --summary summary.json
--
-- Reading the result: the `expectation` lines (JSON: `scenario.expectations`):
--   hubs.online >= 0.69 (after 5 s)   the cut hubs, and only those, went away
--   hubs.online == 1 (after 3m30s)    back to every hub online within 30 s of the restore,
--                                     and staying there to the end
--   power_cuts == hubs cut           the cut happened (counted per hub; the numbers are
--   hubs.sessions == hubs + hubs cut  computed when the cut runs, so --hubs scales them)
--   platform.joined == devices + devices of the cut hubs
--                                     every device joined once at the start and every device
--                                     of a cut hub rejoined once after the restore
--   reports.dropped, .in_flight, .queued, .forgotten == 0
--                                     nothing lost beyond the power cut's own share: every
--                                     report a hub still held was delivered, none was dropped
--                                     on a full queue, the platform forgot none (the run's
--                                     own accounting adds that nothing sent went missing:
--                                     `counts.lost` 0, or the run fails with exit 1)
-- `counts.lost_power` in the JSON summary is what went with the hubs' memory. (The metric
-- reports.lost includes it, so it is not expected to be 0 here.)

scenario{name = "power-cut", description = "30 % of the hubs lose power and come back",
         duration = "6m", seed = 3}
fleet{hubs = 100, devices_per_hub = 10,
      mix = {["lumi.weather"] = 2, ["lumi.sensor_magnet.aq2"] = 2, ["lumi.sensor_motion.aq2"] = 2,
             ["lumi.plug"] = 2, ["lumi.light.aqcn02"] = 1, ["lumi.ctrl_ln2.aq1"] = 1}}

phase("before")

-- Some life in the homes, so that hubs hold frames when the power goes.
every("5s", function(n)
  devices{model = "lumi.sensor_magnet.aq2", share = 0.2}:trigger(n % 2 == 1 and "open" or "close")
end, {from = "10s"})

local cut

at("1m", function()
  phase("power-cut")
  cut = hubs{share = 0.3}
  local n_hubs, n_devices = cut:count(), 0
  cut:each(function(h) n_devices = n_devices + h.devices end)
  local done = cut:power_cut()
  log("power cut: %d hubs, %d devices", done, n_devices)
  local all_hubs, all_devices = hubs():count(), devices():count()
  expect("power_cuts", "==", n_hubs)
  expect("hubs.sessions", "==", all_hubs + n_hubs)
  expect("platform.joined", "==", all_devices + n_devices)
end)

at("3m", function()
  phase("restore")
  log("restored %d hubs", cut:restore())
end)

at("4m", function() phase("after") end)

expect("hubs.online", ">=", 0.69, {after = "5s"})
expect("hubs.online", "==", 1, {after = "3m30s"})
expect("reports.dropped", "==", 0)
expect("reports.in_flight", "==", 0)
expect("reports.queued", "==", 0)
expect("reports.forgotten", "==", 0)
