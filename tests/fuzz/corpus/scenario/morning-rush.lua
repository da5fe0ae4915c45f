-- morning-rush: everyone gets up at once; do reports and automations stay fast?
--
-- The question: between 07:00 and 09:00 a city's homes wake up: motion in the hallway, the
-- front door, the bedside button, and the automations those set off (hallway motion toggles a
-- plug, the front door switches a light on, the button toggles the coffee machine's plug). The
-- rush is compressed into 30 minutes of engine time: a quiet start, a ramp up, a plateau at
-- peak, a ramp down. At peak, 4 % of the motion sensors, doors and buttons fire every 10 s,
-- about 25 times the rate at the start. Do reports and automations stay fast at the peak?
--
--   hubsim run morning-rush --clock virtual --summary summary.json
--   hubsim run morning-rush --platform hubrpc://HOST:PORT --platform-admin HOST:PORT
--
-- Reading the result: the `expectation` lines (JSON: `scenario.expectations`):
--   automation.latency.p99 < 500ms    from the triggering event's intended time to the target
--                                     receiving its command (`automation latency` line,
--                                     JSON `scenario.automation_latency`)
--   automation.latency.max < 2s
--   report.rtt.p99 < 1s               reports acknowledged promptly through the peak
--                                     (`report ack latency` line, JSON `latency.report_ack`)
--   automation.latency.count >= 90 % of the automation events the script triggered
--   platform.rule_target_offline == 0, reports.lost == 0, hubs.online == 1
-- `scenario.phase` is the last phase; the progress lines on stderr show the phases as the
-- load rises and falls.

scenario{name = "morning-rush", description = "07:00-09:00 surge of motion, doors and buttons",
         duration = "30m", seed = 700}
fleet{hubs = 200, devices_per_hub = 10,
      mix = {["lumi.sensor_motion.aq2"] = 3, ["lumi.sensor_magnet.aq2"] = 3,
             ["lumi.sensor_switch.aq2"] = 2, ["lumi.plug"] = 2, ["lumi.light.aqcn02"] = 1,
             ["lumi.weather"] = 1}}

-- The load: share of sensors triggered per 10 s tick, by engine time (minutes).
local function level(min)
  if min < 5 then return 0.0016 end                                   -- 06:45 quiet
  if min < 12 then return 0.0016 + (0.04 - 0.0016) * (min - 5) / 7 end -- 07:00 ramp up
  if min < 18 then return 0.04 end                                    -- 08:00 peak
  if min < 25 then return 0.04 - (0.04 - 0.005) * (min - 18) / 7 end  -- 08:30 ramp down
  return 0.005                                                        -- 09:00 after
end

local auto_motion, auto_doors, auto_buttons -- the automations' sensors, one selection each
local expected = 0                          -- automation events the script triggered

-- One selection per device (built once: a selection scans the fleet).
local function singles(list)
  local out = {}
  for _, d in ipairs(list) do
    local hub, slot = d.hub, d.slot
    out[#out + 1] = devices{hub = hub, where = function(x) return x.slot == slot end}
  end
  return out
end

at("30s", function()
  phase("wake-up")
  local motions = devices{model = "lumi.sensor_motion.aq2"}
  local doors = devices{model = "lumi.sensor_magnet.aq2"}
  local buttons = devices{model = "lumi.sensor_switch.aq2"}
  local plugs = devices{model = "lumi.plug"}
  local lights = devices{model = "lumi.light.aqcn02"}
  local m, d, b, p = {}, {}, {}, 0
  -- 30 hallway motions -> plug, 20 front doors -> light, 14 buttons -> plug (64 in all)
  for i = 1, math.min(30, #motions, #plugs) do
    p = p + 1
    platform.automation{when = {device = motions[i], cluster = 0x0406, attr = 0x0000, equals = 1},
                        command = {device = plugs[p], ep = 1, cluster = 0x0006, command = 0x02}}
    m[#m + 1] = motions[i]
  end
  for i = 1, math.min(20, #doors, #lights) do
    platform.automation{when = {device = doors[i], cluster = 0x0006, attr = 0x0000, equals = 1},
                        command = {device = lights[i], ep = 1, cluster = 0x0006, command = 0x01}}
    d[#d + 1] = doors[i]
  end
  for i = 1, math.min(14, #buttons, #plugs - p) do
    platform.automation{when = {device = buttons[i], cluster = 0x0006, attr = 0x0000},
                        command = {device = plugs[p + i], ep = 1, cluster = 0x0006,
                                   command = 0x02}}
    b[#b + 1] = buttons[i]
  end
  auto_motion, auto_doors, auto_buttons = singles(m), singles(d), singles(b)
end)

-- The crowd: a share of every sensor kind, rising and falling with the rush.
every("10s", function(n)
  local min = now() / 60
  if min >= 25 then phase("after") elseif min >= 18 then phase("wind-down")
  elseif min >= 12 then phase("peak") elseif min >= 5 then phase("rush") end
  local share = level(min)
  devices{model = "lumi.sensor_motion.aq2", share = share}:trigger("motion")
  devices{model = "lumi.sensor_magnet.aq2", share = share}:trigger(n % 2 == 1 and "open" or "close")
  devices{model = "lumi.sensor_switch.aq2", share = share}:trigger("single")
end, {from = "1m", to = "29m"})

-- The homes with automations follow the same curve: each tick, each of their sensors fires
-- with the current probability x 10 (math.random is seeded from the scenario's seed).
every("15s", function(n)
  local p = math.min(1, level(now() / 60) * 10)
  local function maybe(sel, ev)
    local k = 0
    for _, one in ipairs(sel) do
      if math.random() < p then k = k + one:trigger(ev) end
    end
    return k
  end
  -- a motion sensor is blind for 60 s after a detection: every 4th tick only
  if n % 4 == 0 then expected = expected + maybe(auto_motion, "motion") end
  if n % 2 == 1 then expected = expected + maybe(auto_doors, "open")
  else maybe(auto_doors, "close") end
  expected = expected + maybe(auto_buttons, "single")
end, {from = "1m", to = "28m"})

at("29m", function()
  expect("automation.latency.count", ">=", math.floor(expected * 0.9))
end)

expect("automation.latency.p99", "<", "500ms")
expect("automation.latency.max", "<", "2s")
expect("report.rtt.p99", "<", "1s")
expect("platform.rule_target_offline", "==", 0)
expect("reports.lost", "==", 0)
expect("hubs.online", "==", 1)
