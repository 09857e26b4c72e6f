-- Open load for wrk: requests arrive as a Poisson process at a fixed rate, whatever the
-- answers do. Connections that each pause a fixed time after an answer fall into step and
-- arrive in bursts, which measures the bursts rather than the service.
--
-- local arrivals = require("poisson_arrivals")   -- wrk run from bench/, so ./?.lua finds it
-- delay = arrivals.delay_at(rate)                 -- this thread's requests per second
--
-- delay() books the next arrival for the connection that just finished and returns the wait
-- in milliseconds; wrk measures each request from its send to its last byte.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } ptb_timespec;
int clock_gettime(int clk_id, ptb_timespec *tp);
]]

local CLOCK_MONOTONIC = 1
local clock = ffi.new("ptb_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local arrivals = {}

function arrivals.delay_at(rate)
  local mean_gap_ms = 1000 / rate
  local next_arrival = nil
  return function()
    local now = now_ms()
    if next_arrival == nil or next_arrival < now - 1000 then
      next_arrival = now -- start, or more than a second behind: start the schedule afresh
    end
    next_arrival = next_arrival - mean_gap_ms * math.log(1 - math.random())
    local wait = next_arrival - now
    if wait < 1 then
      return 0
    end
    return math.floor(wait)
  end
end

return arrivals
