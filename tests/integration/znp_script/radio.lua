-- The radio side of test_znp_script_herdsman: once the host has started its network and
-- registered its endpoints, the radio opens joining by itself, a lumi.weather joins, leaves on
-- its own, joins again; the radio resets (watchdog); once a host has started the network again,
-- the radio opens joining again and a lumi.plug joins.

-- Calls fn 1 s after the host's network runs with its endpoints registered (polled every
-- 100 ms, at most 60 s).
local function when_host_ready(what, fn, n)
  n = n or 0
  local st = radio.status()
  if st.network and st.endpoints > 0 then
    log("host ready (%s): %d endpoints", what, st.endpoints)
    return after("1s", fn)
  end
  if n >= 600 then error("the host did not start its network within 60 s (" .. what .. ")") end
  after("100ms", function() when_host_ready(what, fn, n + 1) end)
end

local weather

local function second_host()
  assert(radio.permit_join("30s"))
  assert(weather.joined, "lumi.weather is not in the network after the reset")
  local plug = radio.device("lumi.plug")
  log("added %s", tostring(plug))
end

local function cycle()
  assert(weather.joined, "lumi.weather did not join")
  assert(weather:leave())
  after("500ms", function()
    assert(weather:rejoin())
    after("2500ms", function()
      assert(weather.joined, "lumi.weather did not join again")
      radio.reset{reason = "watchdog"}
      after("100ms", function() when_host_ready("after the reset", second_host) end)
    end)
  end)
end

at(0, function()
  when_host_ready("first start", function()
    assert(radio.permit_join("60s"))
    weather = radio.device("lumi.weather")
    after("2500ms", cycle)
  end)
end)
