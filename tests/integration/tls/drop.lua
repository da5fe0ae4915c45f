-- Every hub drops its connection once, on the real clock, and reconnects: over hubrpcs:// each
-- reconnect should resume the hub's TLS session (test_tls counts them in the summary).
scenario{name = "tls-drop", description = "every hub drops once and reconnects", duration = "8s",
         seed = 3}
fleet{hubs = 20, devices_per_hub = 2}

at("2s", function()
  local n = hubs{share = 1}:fault{drop = true}
  expect("hubs.sessions", "==", hubs():count() + n)
end)

expect("hubs.online", "==", 1, {after = "7s"})
expect("reports.lost", "==", 0)
