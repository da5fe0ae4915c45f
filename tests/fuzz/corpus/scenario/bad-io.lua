-- io access on line 3
scenario{name = "bad-io", duration = "10s"}
local f = io.open("/etc/passwd")
