-- a duration no run can have, on line 2
scenario{name = "bad-duration", duration = "5000d"}
fleet{hubs = 2, devices_per_hub = 2, mix = "lumi.plug"}
