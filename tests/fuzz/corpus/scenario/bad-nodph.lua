-- a fleet without devices_per_hub, on line 3
scenario{name = "bad-nodph", duration = "10s"}
fleet{hubs = 2, mix = "lumi.plug"}
