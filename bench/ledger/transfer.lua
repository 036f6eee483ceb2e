-- wrk script of bench/ledger.sh: each request is POST /api/v1/transactions/transfer from a random
-- prepared account (its own token) to another random one, amount 1..1000 (the pgbench side draws
-- the same way, see transfer.sql).
--
--   wrk -c 64 -t 2 -d 30s -s bench/ledger/transfer.lua URL -- accounts.lua
--
-- accounts.lua (made by LedgerSetup.java) returns {ids = {...}, tokens = {...}}. When done, prints
-- one machine-readable line per fact, each starting with "LEDGER " (read by bench/ledger.sh):
-- the request count, duration, latency percentiles (wrk's own histogram, microseconds), wrk's
-- error counters and the count of each HTTP status.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

local ids, tokens, n
local path = "/api/v1/transactions/transfer"
statuses = {}

function init(args)
  local accounts = dofile(args[1])
  ids, tokens = accounts.ids, accounts.tokens
  n = #ids
  if n < 2 or #tokens ~= n then
    error("transfer.lua: need at least two accounts, each with a token")
  end
  -- Each thread its own sequence (the same seed would make both threads send the same pairs).
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
end

function request()
  local from = math.random(n)
  local to = (from - 1 + math.random(n - 1)) % n + 1
  local body = string.format('{"to_user_id":%d,"amount":%d}', ids[to], math.random(1000))
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. tokens[from],
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LEDGER requests %d\n", summary.requests))
  io.write(string.format("LEDGER duration_us %d\n", summary.duration))
  io.write(string.format("LEDGER errors connect=%d read=%d write=%d timeout=%d status_over_399=%d\n",
    e.connect, e.read, e.write, e.timeout, e.status))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("LEDGER p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("LEDGER mean_us %.0f\n", latency.mean))
  io.write(string.format("LEDGER max_us %d\n", latency.max))
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("LEDGER status %d %d\n", status, count))
  end
end
