-- Frames under way are not lost: from 5 s to 25 s every write of the hubs leaves 2 s late, so
-- at every check of the continuous expectation below reports wait in the hubs' queues. They
-- all arrive once the delay is over: reports.lost must read 0 all along and at the end.
scenario{name = "lost-in-flight", duration = "40s", clock = "virtual", seed = 4}
fleet{hubs = 4, devices_per_hub = 4, mix = "lumi.sensor_magnet.aq2"}
at("5s", function()
  hubs():fault{delay_writes = "2s", for_ = "20s"}
end)
every("1s", function(n)
  devices():trigger(n % 2 == 1 and "open" or "close")
end, {from = "6s", to = "24s"})
expect("reports.lost", "==", 0, {after = "1s"})
expect("reports.lost", "==", 0)
expect("reports.queued", "==", 0)
