-- table.move over 2^63 elements on line 3
scenario{name = "bad-move", duration = "10s"}
table.move({}, 1, math.maxinteger - 1, 2)
