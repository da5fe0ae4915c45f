-- a syntax error on line 3
scenario{name = "bad-syntax", duration = "10s"}
fleet{hubs = 1, devices_per_hub = 2 mix = "all"}
