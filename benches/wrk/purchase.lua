-- wrk script: flash-sale purchases, each with a fresh Idempotency-Key and
-- customer, so every request is a real purchase attempt (201 or 409 sold-out).
-- Usage: wrk -t2 -c256 -d10s -s benches/wrk/purchase.lua http://127.0.0.1:8080/v1/skus/HOT-1/purchase
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + id)
  prefix = string.format("%d-%d-", id, math.random(1, 1000000000))
  counter = 0
end

function request()
  counter = counter + 1
  local key = prefix .. counter
  local body = '{"customer_id":"c' .. key .. '","quantity":1}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key,
  }, body)
end
