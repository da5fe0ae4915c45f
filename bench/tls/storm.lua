-- A reconnect storm over TLS: once every hub is online, all of them lose their connection at
-- the same moment and reconnect (with their backoff). Over hubrpcs:// each reconnect offers the
-- hub's session ticket, so the storm's handshakes should be resumed ones: the summary's `tls`
-- counts say how many were. --hubs and --duration on the command line set the size and the
-- time (bench/tls/storm.sh, tests/integration/tls_fleet).
scenario{name = "tls-storm", description = "every hub drops at once and comes back",
         duration = "60s", seed = 7}
fleet{hubs = 200, devices_per_hub = 1}

local dropped = 0

every("1s", function()
  if dropped == 0 and hubs{state = "online"}:count() == hubs():count() then
    dropped = hubs():fault{drop = true}
    log("dropped %d hubs", dropped)
    expect("hubs.sessions", "==", hubs():count() + dropped)
  end
end)

expect("hubs.online", "==", 1)
expect("reports.lost", "==", 0)
