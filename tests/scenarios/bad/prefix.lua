-- a hub id prefix with a character hub ids may not hold, on line 3
scenario{name = "bad-prefix", duration = "10s"}
fleet{hubs = 2, devices_per_hub = 2, mix = "lumi.plug", prefix = "site/a-"}
