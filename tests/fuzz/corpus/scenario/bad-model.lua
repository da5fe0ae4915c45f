-- an unknown device model on line 3
scenario{name = "bad-model", duration = "10s"}
fleet{hubs = 1, devices_per_hub = 2, mix = {["lumi.no_such_thing"] = 1}}
