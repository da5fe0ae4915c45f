-- a finalizer that never returns, on line 4: Lua would run it at exit, hooks off
scenario{name = "bad-gc", duration = "10s"}
local forever = function() while true do end end
setmetatable({}, {__gc = forever})
