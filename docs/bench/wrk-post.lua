-- wrk script: single events with unique idempotency keys to random customers.
local n = 0
local token = os.getenv("GOODWILL_TOKEN")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
request = function()
  n = n + 1
  local path = "/v1/customers/u" .. math.random(0, 9999) .. "/events"
  local body = '{"kind":"EVENT_KIND_RELIABLE_DELIVERY","idempotencyKey":"wrk-' .. tostring(wrk.thread_id or "") .. math.random(1, 1e9) .. '-' .. n .. '"}'
  return wrk.format(nil, path, nil, body)
end
response = function(status, headers, body)
  if status ~= 200 then io.write("status " .. status .. "\n") end
end
