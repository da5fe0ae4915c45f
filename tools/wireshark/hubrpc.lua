-- hubrpc v1 for Wireshark and tshark: names every message and field of proto/hubrpc.proto.
--
--   wireshark -X lua_script:tools/wireshark/hubrpc.lua capture.pcapng
--   tshark -X lua_script:tools/wireshark/hubrpc.lua -r capture.pcapng -Y hubrpc.report
--
-- Or copy it into Wireshark's personal plugins folder (Help > About > Folders). It finds hubrpc
-- on any TCP port by a heuristic (a varint length, then an Envelope field of wire type 2 whose
-- own length fits), also decodes the TCP port set in Preferences > Protocols > HUBRPC, and
-- decodes the Envelopes that MQTT runs carry as PUBLISH payloads.
-- docs/recorders.md describes the captures of `hubsim run --record` and this dissector.
--
-- The tables below are proto/hubrpc.proto written out by hand (field number, name, type, and
-- the message or enum a field refers to); when the .proto gains a field, add it here too.

local hubrpc = Proto("hubrpc", "hubrpc v1 (hub <-> platform)")

-- Every message: field number -> { name, type, [msg = message name], [enum = enum name] }.
-- Types: uint32 uint64 sint64 fixed64 double bool string bytes enum message.
local MESSAGES = {
  Envelope = {
    [1] = { "hello", "message", msg = "Hello" },
    [2] = { "challenge", "message", msg = "Challenge" },
    [3] = { "auth", "message", msg = "Auth" },
    [4] = { "welcome", "message", msg = "Welcome" },
    [5] = { "heartbeat", "message", msg = "Heartbeat" },
    [6] = { "report", "message", msg = "Report" },
    [7] = { "ack", "message", msg = "Ack" },
    [8] = { "device_joined", "message", msg = "DeviceJoined" },
    [9] = { "device_left", "message", msg = "DeviceLeft" },
    [10] = { "command", "message", msg = "Command" },
    [11] = { "command_result", "message", msg = "CommandResult" },
    [12] = { "permit_join", "message", msg = "PermitJoin" },
    [13] = { "error", "message", msg = "Error" },
    [14] = { "goodbye", "message", msg = "Goodbye" },
  },
  Hello = {
    [1] = { "proto_version", "uint32" }, [2] = { "hub_id", "string" },
    [3] = { "model", "string" }, [4] = { "firmware", "string" },
    [5] = { "client_nonce", "bytes" }, [6] = { "boot_id", "fixed64" },
    [7] = { "device_count", "uint32" },
  },
  Challenge = { [1] = { "server_nonce", "bytes" } },
  Auth = { [1] = { "mac", "bytes" } },
  Welcome = {
    [1] = { "session_id", "fixed64" }, [2] = { "heartbeat_s", "uint32" },
    [3] = { "server_time_ms", "uint64" }, [4] = { "acked_seq", "uint64" },
    [5] = { "max_window", "uint32" },
  },
  Heartbeat = { [1] = { "time_ms", "uint64" } },
  Attribute = {
    [1] = { "id", "uint32" }, [2] = { "zcl_type", "uint32" },
    [3] = { "int_value", "sint64" }, [4] = { "uint_value", "uint64" },
    [5] = { "float_value", "double" }, [6] = { "bool_value", "bool" },
    [7] = { "string_value", "string" }, [8] = { "bytes_value", "bytes" },
    [9] = { "members", "message", msg = "Attribute" },
  },
  Report = {
    [1] = { "seq", "uint64" }, [2] = { "device", "fixed64" }, [3] = { "endpoint", "uint32" },
    [4] = { "cluster", "uint32" }, [5] = { "attributes", "message", msg = "Attribute" },
    [6] = { "zcl_frame", "bytes" }, [7] = { "lqi", "uint32" }, [8] = { "ts_ms", "uint64" },
    [9] = { "manufacturer_code", "uint32" },
  },
  Ack = { [1] = { "up_to_seq", "uint64" } },
  Endpoint = {
    [1] = { "id", "uint32" }, [2] = { "profile", "uint32" }, [3] = { "device_id", "uint32" },
    [4] = { "in_clusters", "uint32" }, [5] = { "out_clusters", "uint32" },
  },
  DeviceJoined = {
    [1] = { "seq", "uint64" }, [2] = { "device", "fixed64" }, [3] = { "nwk", "uint32" },
    [4] = { "model", "string" }, [5] = { "manufacturer", "string" },
    [6] = { "power_source", "enum", enum = "PowerSource" },
    [7] = { "logical_type", "enum", enum = "LogicalType" },
    [8] = { "endpoints", "message", msg = "Endpoint" }, [9] = { "ts_ms", "uint64" },
    [10] = { "rejoin", "bool" }, [11] = { "manufacturer_code", "uint32" },
  },
  DeviceLeft = { [1] = { "seq", "uint64" }, [2] = { "device", "fixed64" }, [3] = { "ts_ms", "uint64" } },
  Command = {
    [1] = { "cmd_id", "uint64" }, [2] = { "device", "fixed64" }, [3] = { "endpoint", "uint32" },
    [4] = { "cluster", "uint32" }, [5] = { "command", "uint32" }, [6] = { "zcl_payload", "bytes" },
    [7] = { "global", "bool" }, [8] = { "manufacturer_code", "uint32" },
    [9] = { "issued_ms", "uint64" },
  },
  CommandResult = {
    [1] = { "seq", "uint64" }, [2] = { "cmd_id", "uint64" },
    [3] = { "status", "enum", enum = "CommandStatus" }, [4] = { "zcl_status", "uint32" },
    [5] = { "device_latency_ms", "uint32" }, [6] = { "device", "fixed64" },
  },
  PermitJoin = { [1] = { "duration_s", "uint32" } },
  Error = { [1] = { "code", "enum", enum = "ErrorCode" }, [2] = { "reason", "string" } },
  Goodbye = { [1] = { "reason", "string" } },
}

local ENUMS = {
  PowerSource = { [0] = "POWER_UNKNOWN", "POWER_MAINS", "POWER_BATTERY" },
  LogicalType = { [0] = "LOGICAL_UNKNOWN", "LOGICAL_ROUTER", "LOGICAL_END_DEVICE" },
  CommandStatus = { [0] = "COMMAND_OK", "COMMAND_UNKNOWN_DEVICE", "COMMAND_UNSUPPORTED",
    "COMMAND_TIMEOUT", "COMMAND_MALFORMED" },
  ErrorCode = { [0] = "ERROR_UNSPECIFIED", "ERROR_MALFORMED_FRAME", "ERROR_FRAME_TOO_LARGE",
    "ERROR_UNKNOWN_MESSAGE", "ERROR_UNEXPECTED_MESSAGE", "ERROR_AUTH_FAILED",
    "ERROR_UNSUPPORTED_VERSION", "ERROR_TIMEOUT", "ERROR_WINDOW_EXCEEDED", "ERROR_BAD_SEQUENCE",
    "ERROR_INVALID_FIELD", "ERROR_SHUTTING_DOWN", "ERROR_DUPLICATE_SESSION" },
}

-- The Envelope's body names, by field number, for hubrpc.type and the Info column.
local TYPE_NAMES = {}
for n, f in pairs(MESSAGES.Envelope) do TYPE_NAMES[n] = f.msg end

local MAX_FRAME = 65536 -- docs/protocol.md: a larger declared length is an error
local MAX_DEPTH = 8     -- Attribute nesting the hubs and the platform accept

-- ProtoFields: hubrpc.<message>.<field>, e.g. hubrpc.report.seq, hubrpc.attribute.int_value;
-- the message itself is hubrpc.<envelope field>: hubrpc.report, hubrpc.device_joined.
local pf = {
  length = ProtoField.uint32("hubrpc.length", "Frame length"),
  type = ProtoField.uint8("hubrpc.type", "Message type", base.DEC, TYPE_NAMES),
  unknown = ProtoField.bytes("hubrpc.unknown", "Unknown field"),
  malformed = ProtoField.string("hubrpc.malformed", "Malformed"),
}
local FIELD = {} -- FIELD[message][number] = ProtoField
for mname, fields in pairs(MESSAGES) do
  FIELD[mname] = {}
  -- The Envelope's bodies are hubrpc.hello ... hubrpc.goodbye (the filters people type).
  local prefix = "hubrpc."
  if mname ~= "Envelope" then prefix = prefix .. mname:gsub("(%l)(%u)", "%1_%2"):lower() .. "." end
  for num, f in pairs(fields) do
    local abbr, name, t = prefix .. f[1], f[1], f[2]
    local p
    if t == "uint32" then p = ProtoField.uint32(abbr, name)
    elseif t == "uint64" then p = ProtoField.uint64(abbr, name)
    elseif t == "sint64" then p = ProtoField.int64(abbr, name)
    elseif t == "fixed64" then p = ProtoField.uint64(abbr, name, base.HEX)
    elseif t == "double" then p = ProtoField.double(abbr, name)
    elseif t == "bool" then p = ProtoField.bool(abbr, name)
    elseif t == "string" then p = ProtoField.string(abbr, name)
    elseif t == "bytes" then p = ProtoField.bytes(abbr, name)
    elseif t == "enum" then p = ProtoField.uint32(abbr, name, base.DEC, ENUMS[f.enum])
    else p = ProtoField.bytes(abbr, name) end -- a message: its subtree
    FIELD[mname][num] = p
    pf[abbr] = p
  end
end
local list = {}
for _, p in pairs(pf) do list[#list + 1] = p end
hubrpc.fields = list

local ef_malformed = ProtoExpert.new("hubrpc.malformed.expert", "Malformed hubrpc frame",
  expert.group.MALFORMED, expert.severity.ERROR)
hubrpc.experts = { ef_malformed }

-- A varint at offset of tvb (not beyond limit): its value as UInt64, and the bytes it took;
-- nil when it runs past limit or beyond 10 bytes.
local function varint(tvb, offset, limit)
  local v, mul = UInt64(0), UInt64(1)
  for i = 0, 9 do
    if offset + i >= limit then return nil end
    local b = tvb(offset + i, 1):uint()
    v = v + mul * UInt64(b % 128)
    if b < 128 then return v, i + 1 end
    mul = mul * UInt64(128)
  end
  return nil
end

local function zigzag(v)
  local n = v:tonumber()
  if n % 2 == 0 then return Int64(n / 2) end
  return Int64(-(n + 1) / 2)
end

local dissect_message

-- One field of message mname at [offset, limit): adds it under tree. The next offset, or nil
-- when the bytes are not a field.
local function dissect_field(tvb, tree, mname, offset, limit, depth)
  local key, klen = varint(tvb, offset, limit)
  if not key then return nil end
  local k = key:tonumber()
  local num, wt = math.floor(k / 8), k % 8
  local f = MESSAGES[mname][num]
  local p = FIELD[mname][num]
  local start = offset
  offset = offset + klen
  if wt == 0 then
    local v, n = varint(tvb, offset, limit)
    if not v then return nil end
    local r = tvb(start, offset + n - start)
    if not f then tree:add(pf.unknown, r)
    elseif f[2] == "sint64" then tree:add(p, r, zigzag(v))
    elseif f[2] == "bool" then tree:add(p, r, v:tonumber() ~= 0)
    elseif f[2] == "uint32" or f[2] == "enum" then tree:add(p, r, v:tonumber())
    else tree:add(p, r, v) end
    return offset + n
  elseif wt == 1 then
    if offset + 8 > limit then return nil end
    local r = tvb(offset, 8)
    if not f then tree:add(pf.unknown, tvb(start, offset + 8 - start))
    elseif f[2] == "double" then tree:add_le(p, r)
    else tree:add_le(p, r) end
    return offset + 8
  elseif wt == 2 then
    local len, n = varint(tvb, offset, limit)
    if not len then return nil end
    len = len:tonumber()
    offset = offset + n
    if offset + len > limit then return nil end
    if not f then
      tree:add(pf.unknown, tvb(start, offset + len - start))
    elseif f[2] == "message" then
      local sub = tree:add(p, tvb(start, offset + len - start))
      sub:set_text(f[1] .. " (" .. f.msg .. ")")
      if depth >= MAX_DEPTH then
        sub:add_proto_expert_info(ef_malformed, "nested deeper than " .. MAX_DEPTH)
      elseif not dissect_message(tvb, sub, f.msg, offset, offset + len, depth + 1) then
        sub:add_proto_expert_info(ef_malformed, "malformed " .. f.msg)
      end
    elseif f[2] == "uint32" then -- a packed repeated field (Endpoint clusters)
      local o = offset
      while o < offset + len do
        local v, m = varint(tvb, o, offset + len)
        if not v then return nil end
        tree:add(p, tvb(o, m), v:tonumber())
        o = o + m
      end
    elseif len == 0 then
      tree:add(p, tvb(start, offset - start), f[2] == "string" and "" or ByteArray.new())
    elseif f[2] == "string" then
      tree:add(p, tvb(offset, len), tvb(offset, len):string(ENC_UTF_8))
    else
      tree:add(p, tvb(offset, len))
    end
    return offset + len
  elseif wt == 5 then
    if offset + 4 > limit then return nil end
    tree:add(pf.unknown, tvb(start, offset + 4 - start))
    return offset + 4
  end
  return nil
end

-- The fields of message mname in [offset, limit). true when they parse whole.
dissect_message = function(tvb, tree, mname, offset, limit, depth)
  while offset < limit do
    offset = dissect_field(tvb, tree, mname, offset, limit, depth)
    if not offset then return false end
  end
  return true
end

-- The Envelope's body field number at offset (the frame's first byte after the length), or nil.
local function body_of(tvb, offset, limit)
  local key = varint(tvb, offset, limit)
  if not key then return nil end
  local k = key:tonumber()
  if k % 8 ~= 2 or not TYPE_NAMES[math.floor(k / 8)] then return nil end
  return math.floor(k / 8)
end

-- One frame at offset: the varint length and an Envelope.
local function dissect_frame(tvb, pinfo, tree, offset, hlen, len, names)
  local total = hlen + len
  local sub = tree:add(hubrpc, tvb(offset, total))
  sub:add(pf.length, tvb(offset, hlen), len)
  local body = body_of(tvb, offset + hlen, offset + total)
  local name = body and TYPE_NAMES[body] or "Unknown"
  if body then sub:add(pf.type, tvb(offset + hlen, 1), body) end
  sub:append_text(", " .. name)
  if not dissect_message(tvb, sub, "Envelope", offset + hlen, offset + total, 1) then
    sub:add_proto_expert_info(ef_malformed, "the Envelope does not parse")
  end
  names[#names + 1] = name
end

function hubrpc.dissector(tvb, pinfo, tree)
  local offset, size, names = 0, tvb:len(), {}
  while offset < size do
    local len, hlen = varint(tvb, offset, size)
    if not len then
      if size - offset >= 10 then return 0 end -- not a varint: not hubrpc
      pinfo.desegment_offset = offset
      pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
      break
    end
    len = len:tonumber()
    if len > MAX_FRAME then
      tree:add(hubrpc, tvb(offset)):add_proto_expert_info(ef_malformed,
        "declared length " .. len .. " above " .. MAX_FRAME)
      break
    end
    if offset + hlen + len > size then
      pinfo.desegment_offset = offset
      pinfo.desegment_len = offset + hlen + len - size
      break
    end
    dissect_frame(tvb, pinfo, tree, offset, hlen, len, names)
    offset = offset + hlen + len
  end
  if #names > 0 then
    pinfo.cols.protocol = "hubrpc"
    pinfo.cols.info = table.concat(names, ", ")
  end
  return offset
end

-- A TCP payload that starts with a whole hubrpc frame header: a length within bounds and an
-- Envelope body field whose own length ends where the frame does.
local function heuristic(tvb, pinfo, tree)
  local size = tvb:len()
  local len, hlen = varint(tvb, 0, size)
  if not len or len:tonumber() < 2 or len:tonumber() > MAX_FRAME then return false end
  len = len:tonumber()
  local body = body_of(tvb, hlen, size)
  if not body then return false end
  local blen, bn = varint(tvb, hlen + 1, size)
  if not blen or 1 + bn + blen:tonumber() ~= len then return false end
  pinfo.conversation = hubrpc
  hubrpc.dissector(tvb, pinfo, tree)
  return true
end
hubrpc:register_heuristic("tcp", heuristic)

-- An MQTT run (docs/mqtt.md section 6): each PUBLISH payload is one Envelope without the
-- length prefix. Wireshark's MQTT dissector offers payloads to the "mqtt.topic" heuristics; an
-- Envelope is recognised by its body field, whose own length ends where the payload does.
local function mqtt_payload(tvb, pinfo, tree)
  local size = tvb:len()
  local body = body_of(tvb, 0, size)
  if not body then return false end
  local blen, bn = varint(tvb, 1, size)
  if not blen or 1 + bn + blen:tonumber() ~= size then return false end
  local sub = tree:add(hubrpc, tvb())
  sub:add(pf.type, tvb(0, 1), body)
  sub:append_text(", " .. TYPE_NAMES[body])
  if not dissect_message(tvb, sub, "Envelope", 0, size, 1) then
    sub:add_proto_expert_info(ef_malformed, "the Envelope does not parse")
  end
  pinfo.cols.info:append(" " .. TYPE_NAMES[body])
  return true
end
-- (A Wireshark whose MQTT dissector has no such list shows the payloads as bytes.)
pcall(function() hubrpc:register_heuristic("mqtt.topic", mqtt_payload) end)

-- A port that is always hubrpc (0: none), for traffic the heuristic cannot start on (a
-- capture that begins in the middle of a session).
hubrpc.prefs.port = Pref.uint("TCP port", 0, "decode this TCP port as hubrpc (0: heuristic only)")
local registered = 0
function hubrpc.prefs_changed()
  local tcp = DissectorTable.get("tcp.port")
  if registered ~= 0 then tcp:remove(registered, hubrpc) end
  registered = hubrpc.prefs.port
  if registered ~= 0 then tcp:add(registered, hubrpc) end
end
