-- wrk script: devices uploading check findings at UPLOAD_RATE per second (default 50), paced
-- by the clock whatever the answers' latency (each request takes the next free slot; a server
-- too slow to keep up gets a lower rate, which the result shows, never a burst to catch up).
-- Each request is the next device's (its own upload token) with a document made unique by
-- `__UNIQUE__` (the server refuses the same one twice).
-- Usage: wrk -t1 -c 25 -d 60s -s uploads.lua URL -- devices.txt submission.json PREFIX
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } load_timeval;
int gettimeofday(load_timeval *tv, void *tz);
]]
local clock = ffi.new("load_timeval")
local function now_ms()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_usec) / 1000
end

local tokens = {}
local template
local prefix
local counter = 0
local interval = 1000 / tonumber(os.getenv("UPLOAD_RATE") or "50")
local next_slot

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  local file = assert(io.open(args[2], "rb"))
  template = file:read("*a")
  file:close()
  prefix = args[3] or "0"
end

function request()
  counter = counter + 1
  local body = template:gsub("__UNIQUE__", "0.1.0+load." .. prefix .. "." .. counter, 1)
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[counter % #tokens + 1],
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/api/submissions", headers, body)
end

function delay()
  local t = now_ms()
  if next_slot == nil or next_slot < t then
    next_slot = t
  end
  local wait = next_slot - t
  next_slot = next_slot + interval
  return math.floor(wait)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT uploads %d %.1f %.2f %.2f %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
