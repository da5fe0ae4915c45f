-- a memory bomb on line 5
scenario{name = "bad-bomb", duration = "10s"}
local t = {}
for i = 1, 100000000 do
  t[i] = string.rep("x", 64) .. i
end
