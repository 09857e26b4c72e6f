-- wrk script for bench/load_test.py: mixed requests drawn from a file, at a fixed rate.
--
-- args: <requests file> <requests per second> <API key>
-- Each line of the requests file is "METHOD<TAB>PATH<TAB>BODY" (BODY may be empty); the file
-- holds the mix in its proportions, so a uniform draw gives the mix. Requests arrive as a
-- Poisson process (poisson_arrivals.lua). Status codes are counted per thread and summed in
-- done().
local arrivals = require("poisson_arrivals")

local requests = {}
local next_delay = nil
local key = ""
counts = {}  -- a global: done() reads it from each thread with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  next_delay = arrivals.delay_at(tonumber(args[2]))
  key = args[3]
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    -- no-cache: every what-if is priced anew, the worst case (grant routes ignore it)
    local headers = {["Authorization"] = "Bearer " .. key, ["Cache-Control"] = "no-cache"}
    if body ~= nil and body ~= "" then
      headers["Content-Type"] = "application/json"
    else
      body = nil
    end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + #threads)
end

function request()
  return requests[math.random(#requests)]
end

function delay()
  return next_delay()
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests_)
  local statuses = {}
  for _, thread in ipairs(threads) do
    local found = thread:get("counts") or {}
    for status, n in pairs(found) do
      statuses[status] = (statuses[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(statuses) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "non2xx": %d, "socket_errors": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, table.concat(parts, ", ")))
end
