-- wrk script for tools/bench.ts. Arguments after `--`:
--   1: kind    get | list | create | patch
--   2: fixture path: one request per line, fields separated by tabs
--        get:    token <tab> order id
--        list:   token
--        create: token
--        patch:  token <tab> order id   (each id is sent once; see `overrun`)
--   3: "statuses" to count every response's status (and keep the first body of
--      each non-2xx status), or "plain" to leave responses to wrk (the bare
--      server's limit, where a Lua callback per response would slow wrk down)
--   4: a prefix that makes this run's Idempotency-Keys unique
--   5: the number of wrk threads (-t)
-- With "statuses", create runs also collect the ids of the orders they created
-- (from Location) and done() writes them, one per line, to the file named by
-- the environment variable BENCH_CREATED_IDS: the pool that PATCH then uses.
-- done() prints one line, "BENCH_RESULT {json}", that tools/bench/wrk.ts reads.

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

-- Globals, so that done() can read them from each thread with thread:get.
statuses, bodies, sent, overrun, created = {}, {}, 0, 0, {}

local kind, lines, requests, cursor, key_prefix
local create_body = '{"items":['
  .. '{"product_id":"sku-1","product_name":"Mug","quantity":2,"price":"12.50"},'
  .. '{"product_id":42,"product_name":"Tea, 100 g","quantity":1,"price":4.75}],'
  .. '"shipping_address":"1 Main St, Springfield"}'

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do table.insert(fields, field) end
  return fields
end

local function bearer(token)
  return { ["Authorization"] = "Bearer " .. token }
end

function init(args)
  kind = args[1]
  key_prefix = (args[4] or "k") .. "-" .. tostring(thread_index) .. "-"
  local thread_count = tonumber(args[5] or "1")
  lines = {}
  local index = 0
  -- Each thread takes every thread_count-th line, so PATCH ids never repeat
  -- across threads.
  for line in io.lines(args[2]) do
    if index % thread_count == thread_index then table.insert(lines, split(line)) end
    index = index + 1
  end
  if #lines == 0 then error("tools/bench/load.lua: no lines for this thread in " .. args[2]) end
  cursor = 0
  if kind == "get" then
    requests = {}
    for i, f in ipairs(lines) do
      requests[i] = wrk.format("GET", "/v1/orders/" .. f[2], bearer(f[1]))
    end
  elseif kind == "list" then
    requests = {}
    for i, f in ipairs(lines) do
      requests[i] = wrk.format("GET", "/v1/orders?limit=20", bearer(f[1]))
    end
  elseif kind ~= "create" and kind ~= "patch" then
    error("tools/bench/load.lua: unknown kind " .. tostring(kind))
  end
  if args[3] == "statuses" then
    response = function(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
      if (status < 200 or status > 299) and bodies[status] == nil then
        bodies[status] = string.sub(body or "", 1, 300)
      end
      if status == 201 and kind == "create" then
        local location = headers["Location"] or headers["location"]
        if location then table.insert(created, string.match(location, "[^/]+$")) end
      end
    end
  end
end

function request()
  cursor = cursor + 1
  sent = sent + 1
  if requests then
    if cursor > #requests then cursor = 1 end
    return requests[cursor]
  end
  if cursor > #lines then
    -- Creation tokens are meant to cycle; PATCH ids are not: a repeat is a
    -- no-op, not a real change, so it is counted and the harness flags it.
    if kind == "patch" then overrun = overrun + 1 end
    cursor = 1
  end
  local f = lines[cursor]
  if kind == "create" then
    local headers = bearer(f[1])
    headers["Content-Type"] = "application/json"
    if sent % 2 == 0 then headers["Idempotency-Key"] = key_prefix .. sent end
    return wrk.format("POST", "/v1/orders", headers, create_body)
  end
  local headers = bearer(f[1])
  headers["Content-Type"] = "application/json"
  return wrk.format("PATCH", "/v1/orders/" .. f[2], headers, '{"status":"processing"}')
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests_stats)
  local merged, first_bodies, total_sent, total_overrun = {}, {}, 0, 0
  local ids_path = os.getenv("BENCH_CREATED_IDS")
  local ids_file = ids_path and ids_path ~= "" and assert(io.open(ids_path, "w"))
  for _, t in ipairs(threads) do
    if ids_file then
      for _, id in ipairs(t:get("created") or {}) do ids_file:write(id, "\n") end
    end
    for status, n in pairs(t:get("statuses") or {}) do
      merged[status] = (merged[status] or 0) + n
    end
    for status, body in pairs(t:get("bodies") or {}) do
      if first_bodies[status] == nil then first_bodies[status] = body end
    end
    total_sent = total_sent + (t:get("sent") or 0)
    total_overrun = total_overrun + (t:get("overrun") or 0)
  end
  if ids_file then ids_file:close() end
  local parts = {}
  for status, n in pairs(merged) do table.insert(parts, '"' .. status .. '":' .. n) end
  local body_parts = {}
  for status, body in pairs(first_bodies) do
    table.insert(body_parts, '"' .. status .. '":' .. json_string(body))
  end
  local e = summary.errors
  io.write("BENCH_RESULT {",
    '"requests":', summary.requests,
    ',"duration_us":', summary.duration,
    ',"sent":', total_sent,
    ',"overrun":', total_overrun,
    ',"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write,
    ',"status":', e.status, ',"timeout":', e.timeout, '}',
    ',"latency_us":{"p50":', latency:percentile(50), ',"p90":', latency:percentile(90),
    ',"p99":', latency:percentile(99), ',"max":', latency.max, ',"mean":', latency.mean, '}',
    ',"statuses":{', table.concat(parts, ","), '}',
    ',"error_bodies":{', table.concat(body_parts, ","), '}',
    "}\n")
end
