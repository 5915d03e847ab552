-- wrk script: devices uploading check findings. Each request is the next device's (its own
-- upload token) with a document made unique by `__UNIQUE__` (the server refuses the same one
-- twice), with DELAY_MS (default 200) between one connection's requests.
-- Usage: wrk -c 12 -d 60s -s uploads.lua URL -- devices.txt submission.json PREFIX
local tokens = {}
local template
local prefix
local counter = 0
local pause = tonumber(os.getenv("DELAY_MS") or "200")

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
  return pause
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT uploads %d %.1f %.2f %.2f %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
