-- an endless loop on line 4
scenario{name = "bad-loop", duration = "10s"}
local n = 0
while true do n = n + 1 end
