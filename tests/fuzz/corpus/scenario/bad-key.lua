-- a fleet key longer than the 128 bytes a key may have, on line 3
scenario{name = "bad-key", duration = "10s"}
fleet{hubs = 2, devices_per_hub = 2, mix = "lumi.plug", key = string.rep("k", 200)}
