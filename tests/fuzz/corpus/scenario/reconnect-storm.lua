-- reconnect-storm: half the fleet loses its connection at once; does the platform cope?
--
-- The question: a load balancer restarts, a network link flaps: at 1 min, 50 % of the hubs
-- see their connection drop at the same moment and all reconnect (with their backoff) in a
-- storm of handshakes. Just before, those hubs stopped reading for 3 s, so the Acks of what
-- they sent last are still unread when the connections drop. After the reconnect each hub
-- learns from the platform's Welcome (acked_seq) what the platform already stored and resends
-- only the rest; anything resent that the platform had already accepted is a duplicate, to be
-- acknowledged and not stored twice. Do the hubs all come back, quickly, and is every report
-- stored exactly once?
--
--   hubsim run reconnect-storm --clock virtual --summary summary.json
--
-- Reading the result: the `expectation` lines (JSON: `scenario.expectations`):
--   hubs.online >= 0.45 (after 5 s)   only the share that dropped went away
--   hubs.online == 1 (after 2m)       every hub back within a minute of the drop, and stays
--   hubs.sessions == hubs + dropped   each dropped hub opened exactly one new session (no
--                                     flapping; computed when the drop runs, so --hubs scales)
--   hubs.handshake.p99 < 5s           the storm's handshakes (connect start to Welcome)
--   reports.lost == 0, reports.forgotten == 0
--                                     no report lost, none forgotten by the platform (its
--                                     Welcome never went below what it had acknowledged)
--   platform.reports_duplicate == 0   the Welcome told every hub what was stored, so nothing
--                                     stored was sent again (the run's own check adds:
--                                     acknowledged <= stored, or exit 1)
--   report.rtt.p99 < 10s              reports count from their intended time: the held Acks
--                                     and the storm show in the tail of `report ack latency`
-- `sessions` (connects, opened, dropped), `errors` (`fault:drop`), `counts.*.resent` and
-- `counts.duplicated` in the summary give the storm's size and what was sent again.

scenario{name = "reconnect-storm", description = "50 % of the hubs drop and reconnect at once",
         duration = "4m", seed = 5}
fleet{hubs = 200, devices_per_hub = 8,
      mix = {["lumi.weather"] = 2, ["lumi.sensor_magnet.aq2"] = 2, ["lumi.sensor_motion.aq2"] = 2,
             ["lumi.plug"] = 1, ["lumi.plug.maeu01"] = 1, ["lumi.light.aqcn02"] = 1,
             ["lumi.ctrl_ln2.aq1"] = 1, ["lumi.curtain"] = 1}}

phase("steady")

-- Doors and motion across the fleet, so that there is always something in flight.
every("2s", function(n)
  devices{model = "lumi.sensor_magnet.aq2", share = 0.1}:trigger(n % 2 == 1 and "open" or "close")
  devices{model = "lumi.sensor_motion.aq2", share = 0.05}:trigger("motion")
end, {from = "10s"})

local storm

at("57s", function()
  phase("acks-held")
  storm = hubs{share = 0.5}
  storm:fault{stall_reads = "3s"}
end)

at("1m", function()
  phase("storm")
  local n = storm:fault{drop = true}
  log("dropped %d hubs", n)
  expect("hubs.sessions", "==", hubs():count() + n)
end)

at("2m", function() phase("after") end)

expect("hubs.online", ">=", 0.45, {after = "5s"})
expect("hubs.online", "==", 1, {after = "2m"})
expect("hubs.handshake.p99", "<", "5s")
expect("reports.lost", "==", 0)
expect("reports.forgotten", "==", 0)
expect("platform.reports_duplicate", "==", 0)
expect("report.rtt.p99", "<", "10s")
