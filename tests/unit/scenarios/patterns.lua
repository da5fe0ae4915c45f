-- The pattern functions on many subjects, patterns, start positions and replacements; every
-- result (or "error") is logged. test_scn_pattern.c runs this once in the scenario sandbox
-- (its own bounded matcher) and once in a plain Lua state (the library's matcher), and
-- compares the two logs line by line.

local subjects = {
  "", "a", "aaa", "aab", "hello world", "  x = 10, y = 20  ", "THE (quick) fox",
  "a.b.c", "a\0b\0", "aXbXcX", "f(a(b)c)d", "[[nested]] ]", "caf\195\169 au lait",
  "key=value; other = 42", "--[==[ long ]==]", "$5 ^ %d", "abcabcabc", "x\ny\r\nz",
}

local patterns = {
  "", "a", "a*", "a+", "a-", "a?", ".", "..", "^a", "a$", "^$", "^", "$", "$a", "a^",
  "%a+", "%d+", "%s*", "%w+", "%W", "%p+", "%c", "%x+", "%u%l*", "%S+", "%g+", "%z", "%q",
  "[%w_]+", "[^%s]+", "[a-c]+", "[]]", "[^]]", "[%]]", "[a-]", "[-a]", "[%a-z]+", "[a-%%]",
  "[.]", "[^a-z ]+", "(a)", "()", "()a()", "(a*(.)%w(%s*))", "(h)(e)(l)(l)(o)", "(l)%1",
  "(%a)%1", "(a)(b)%2%1", "()%1", "%b()", "%b[]", "%bxx", "%b", "%f[%w]%w+", "%f[%W]",
  "%f[%a]", "%fx", ".-", ".-b", "a.-c", "(.-)%s", "(.-)=(.*)", "^(%s*)(.-)(%s*)$", "%", "[a",
  "(", ")", "%1", "(()", "a%", "\0", "%z+", "b\0", ".-.-c", "[%d.]+", "%.", "%%", "x*y?z-",
  "c$", "^(.)", "(.)$", "(a?)(a?)(a?)", "[^%d%s]", "%d%d?", "=%s*(%d+)",
}

local function show(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do
    local v = select(i, ...)
    out[#out + 1] = type(v) .. ":" .. tostring(v):gsub("%c", function(c)
      return string.format("\\%d", c:byte())
    end)
  end
  return table.concat(out, " ")
end

local function try(what, f, ...)
  local r = table.pack(pcall(f, ...))
  local line
  if r[1] then
    line = what .. " -> " .. show(table.unpack(r, 2, r.n))
  else
    line = what .. " -> error"
  end
  log("%s", line:sub(1, 400))
end

local inits = {nil, 1, 2, -1, -3, 0, 4, 100, -100}

for si, s in ipairs(subjects) do
  for pi, p in ipairs(patterns) do
    local tag = si .. "/" .. pi
    for ii = 1, 9 do
      local init = inits[ii]
      try(tag .. " find " .. tostring(init), string.find, s, p, init)
      try(tag .. " match " .. tostring(init), string.match, s, p, init)
    end
    try(tag .. " find plain", string.find, s, p, 1, true)
    try(tag .. " gmatch", function()
      local all = {}
      for a, b in string.gmatch(s, p) do
        all[#all + 1] = show(a, b)
        if #all > 100 then break end
      end
      return table.concat(all, "|")
    end)
    try(tag .. " gmatch 3", function()
      local all = {}
      for a in string.gmatch(s, p, 3) do
        all[#all + 1] = show(a)
        if #all > 100 then break end
      end
      return table.concat(all, "|")
    end)
    try(tag .. " gsub s", string.gsub, s, p, "<%0>")
    try(tag .. " gsub 1", string.gsub, s, p, "[%1]")
    try(tag .. " gsub %%", string.gsub, s, p, "%%")
    try(tag .. " gsub 2", string.gsub, s, p, "%2")
    try(tag .. " gsub bad", string.gsub, s, p, "x%")
    try(tag .. " gsub n", string.gsub, s, p, "#", 2)
    try(tag .. " gsub fn", string.gsub, s, p, function(a, b)
      if a == "a" then return nil end
      if a == "l" then return false end
      return "{" .. tostring(a) .. "," .. tostring(b) .. "}"
    end)
    try(tag .. " gsub tbl", string.gsub, s, p, {a = "A", l = 7, o = false})
    try(tag .. " gsub badfn", string.gsub, s, p, function() return {} end)
    try(tag .. " method", function() return s:find(p), s:match(p) end)
  end
end
try("gsub number repl", string.gsub, "a1b2", "%d", 9)
try("gsub bad repl", string.gsub, "abc", "b", true)
try("gsub bad repl nil", string.gsub, "abc", "b")
try("find number subject", string.find, 12345, 3)
try("find bad init", string.find, "abc", "b", 1.5)
try("gmatch anchor", function()
  local all = {}
  for a in string.gmatch("^a^a", "^a") do all[#all + 1] = a end
  return table.concat(all, ",")
end)
try("too many captures", string.find, string.rep("a", 40), string.rep("(a)", 33))
try("32 captures", string.find, string.rep("a", 40), string.rep("(a)", 32))
try("deep", string.find, string.rep("a", 300), string.rep("a?", 150) .. string.rep("a", 150))
try("too deep", string.find, string.rep("a", 300), string.rep("a?", 250) .. "b")
