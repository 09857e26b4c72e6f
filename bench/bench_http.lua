-- wrk script for bench/bench_http.py: one kind of request at a fixed rate (Poisson arrivals).
--
-- args: <method> <requests per second> <file>; POST bodies or GET paths, one per line.
local arrivals = require("poisson_arrivals")

local bodies = {}
local paths = {}
local method = "POST"
local next_delay = nil

function init(args)
  method = args[1]
  next_delay = arrivals.delay_at(tonumber(args[2]))
  for line in io.lines(args[3]) do
    if method == "POST" then
      table.insert(bodies, line)
    else
      table.insert(paths, line)
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  if method == "POST" then
    local body = bodies[math.random(#bodies)]
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", paths[math.random(#paths)])
end

function delay()
  return next_delay()
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
