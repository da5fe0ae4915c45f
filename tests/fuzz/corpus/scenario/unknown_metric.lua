-- A scenario naming a metric that does not exist: hubsim must refuse it when the script loads
-- (exit 2, this file and line 5 on stderr), never pass it silently (test_scenarios.c).
scenario{name = "unknown-metric", duration = "10s", clock = "virtual", seed = 1}
fleet{hubs = 1, devices_per_hub = 2, mix = "lumi.plug"}
expect("report.rtt.p95", "<", "250ms")
