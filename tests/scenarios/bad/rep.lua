-- string.rep of an empty string 2^62 times once looped forever; on line 5 a real bomb
scenario{name = "bad-rep", duration = "10s"}
local nothing = string.rep("", math.maxinteger)
assert(nothing == "")
local huge = string.rep("ab", 1 << 28)
