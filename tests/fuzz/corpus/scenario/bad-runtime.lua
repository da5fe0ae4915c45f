-- a runtime error on line 4
scenario{name = "bad-runtime", duration = "10s"}
local t = nil
local x = t.field
