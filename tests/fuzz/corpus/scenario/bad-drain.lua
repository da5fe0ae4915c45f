-- a callback that fails while the run drains, on line 7: the test points the hubs at a
-- platform that never answers, so the drain after 2 s lasts until --drain is over; the error
-- must still stop the run with exit 2, not pass unnoticed
scenario{name = "bad-drain", duration = "2s"}
fleet{hubs = 2, devices_per_hub = 2, mix = "lumi.sensor_magnet.aq2"}
at("2.5s", function()
  error("failed while draining")
end)
