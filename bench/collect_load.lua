local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  accepted = 0
  refused = 0
  size = tonumber(args[1])
  key = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Ingest-Key"] = key
end
local START = (os.time() - 86400) * 1000  -- a day ago: inside the collector's window of times
function request()
  counter = counter + 1
  local n = id * 100000000 + counter
  local ts = START + (n % 86400000)
  local hex = string.format("%012x", ts)
  local vid = string.sub(hex, 1, 8) .. "-" .. string.sub(hex, 9, 12) .. "-7000-8000-" .. string.format("%012x", n)
  local events = {}
  for k = 0, size - 1 do
    events[#events + 1] = string.format('{"event":"heartbeat","ts":%d,"seq":%d,"started":1,"play_ms":1000,"interval_bitrate_kbps":3000}', ts + k, k)
  end
  local body = '{"view_id":"' .. vid .. '","dimensions":{"cdn":"akamai","country":"US"},"events":[' .. table.concat(events, ",") .. ']}'
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if status == 200 then
    accepted = accepted + tonumber(string.match(body, '"accepted":(%d+)'))
  else
    refused = refused + 1
  end
end
function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    r = r + t:get("refused")
  end
  io.write(string.format('{"accepted": %d, "refused": %d, "requests": %d, "seconds": %f, "p50": %f, "p99": %f, "errors": %d}\n',
    a, r, summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
