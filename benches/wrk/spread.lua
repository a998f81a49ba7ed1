-- wrk script: purchases spread over SKUs SPREAD-0 .. SPREAD-(n-1) (n from
-- the SKUS environment variable, default 10000), no contention between them.
-- Usage: SKUS=10000 wrk -t2 -c256 -d10s -s benches/wrk/spread.lua http://127.0.0.1:8080
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + id)
  prefix = string.format("%d-%d-", id, math.random(1, 1000000000))
  counter = 0
  skus = tonumber(os.getenv("SKUS") or "10000")
end

function request()
  counter = counter + 1
  local key = prefix .. counter
  local path = "/v1/skus/SPREAD-" .. (counter * 7919 + id) % skus .. "/purchase"
  local body = '{"customer_id":"c' .. key .. '","quantity":1}'
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key,
  }, body)
end
