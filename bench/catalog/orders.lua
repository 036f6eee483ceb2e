-- wrk: POST /api/v1/orders for one unit of the product, as a buyer chosen in turn, each order under
-- its own Idempotency-Key (bench/catalog.sh passes the product id and a file of tokens, one per line).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local tokens = {}
local product
local i = 0
function init(args)
  product = args[1]
  for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
end
function request()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "bench-" .. id .. "-" .. i}, '{"product_id": ' .. product .. ', "quantity": 1}')
end
