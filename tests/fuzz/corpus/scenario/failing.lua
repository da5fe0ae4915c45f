-- A scenario whose expectation cannot hold: the test checks it gives exit 1 and a JUnit file
-- that a JUnit consumer reads as failed (test_scenarios.c). Not part of the library.
scenario{name = "failing", duration = "10s", clock = "virtual", seed = 1}
fleet{hubs = 2, devices_per_hub = 3, mix = "lumi.plug"}

expect("reports.lost", "==", 0)              -- holds
expect("reports.generated", "<", 1)          -- fails: the plugs report on joining
