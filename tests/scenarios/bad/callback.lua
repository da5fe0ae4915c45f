-- a backtracking pattern inside a callback, on line 7, once the fleet runs
scenario{name = "bad-callback", duration = "1m"}
fleet{hubs = 2, devices_per_hub = 2, mix = "lumi.plug"}
at("10s", function()
  local subject = string.rep("x", 100000)
  log("matching")
  return subject:gsub("(x*)*y", "z")
end)
