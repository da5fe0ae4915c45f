-- a callback that holds the loop for ages within its instruction budget (each comparison of two
-- long strings is one instruction): only the time limit or Ctrl-C ends it, on line 9
scenario{name = "bad-spin", duration = "1m"}
fleet{hubs = 2, devices_per_hub = 2, mix = "lumi.plug"}
at(0, function()
  local a = string.rep("a", 12000000)
  local b = string.rep("a", 12000000)
  log("spinning")
  while a == b do end
end)
