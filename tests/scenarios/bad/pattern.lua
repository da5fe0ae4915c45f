-- a pattern that backtracks for ages on line 4 (about 3000^7 steps inside one C call)
scenario{name = "bad-pattern", duration = "10s"}
local subject = string.rep("a", 3000)
local x = string.find(subject, ".-.-.-.-.-.-.-b")
