-- os access on line 3
scenario{name = "bad-os", duration = "10s"}
os.execute("true")
