-- wrk script: members reading and acknowledging an advisory. Each request is the next
-- member's (their own API token), alternating a read of the advisory and its acknowledgement,
-- with THINK_MS (default 500) between one connection's requests.
-- Usage: wrk -c 200 -d 60s -s members.lua URL -- members.txt
local members = {}
local counter = 0
local think = tonumber(os.getenv("THINK_MS") or "500")

function init(args)
  for line in io.lines(args[1]) do
    local token, advisory = line:match("^(%S+) (%d+)$")
    if token then
      members[#members + 1] = { token = token, advisory = advisory }
    end
  end
end

function request()
  counter = counter + 1
  local m = members[math.floor(counter / 2) % #members + 1]
  local headers = { ["Authorization"] = "Bearer " .. m.token }
  if counter % 2 == 1 then
    return wrk.format("GET", "/api/advisories/" .. m.advisory, headers)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/advisories/" .. m.advisory .. "/acknowledge", headers,
    '{"steps_confirmed": 2}')
end

function delay()
  return think
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT members %d %.1f %.2f %.2f %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
