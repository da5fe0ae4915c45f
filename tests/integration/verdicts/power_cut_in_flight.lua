-- What the run does on purpose is not the platform's failure. Three hubs stop reading (their
-- Acks wait unread), their doors open, then their power goes: what they had sent is in flight
-- and goes with their memory (counts.lost_power, lost_power_sent), not "lost". Two come back;
-- one stays dark, and another hub is disconnected to the end: neither is expected online.
scenario{name = "power-cut-in-flight", duration = "3s", seed = 1, clock = "real"}
fleet{hubs = 6, devices_per_hub = 4, mix = {["lumi.sensor_magnet.aq2"] = 1}}

at("500ms", function() hubs{list = {0, 1, 2}}:fault{stall_reads = "10s"} end)
at("700ms", function() devices{hub = 0}:trigger("open") end)
at("700ms", function() devices{hub = 1}:trigger("open") end)
at("700ms", function() devices{hub = 2}:trigger("open") end)
at("1s", function() hubs{list = {0, 1, 2}}:power_cut() end)
at("1500ms", function()
  hubs{list = {0, 1}}:restore()
  hubs{list = {3}}:disconnect()
end)

expect("power_cuts", "==", 3)
