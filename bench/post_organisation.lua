-- wrk script: POST /api/v1/organisations with a name no other request uses,
-- so every request is a real create (validation, unique-name check, insert
-- and one audit event appended to the hash chain, in one transaction).
--
-- usage: CTMS_BENCH_TOKEN=... wrk -s bench/post_organisation.lua \
--        http://127.0.0.1:PORT -- RUN_TAG
-- RUN_TAG keeps names unique across wrk runs against the same database;
-- CTMS_BENCH_TOKEN is an API token (Authorization: Bearer).

local threads = {}
local next_thread = 0

function setup(thread)
   thread:set("thread_id", next_thread)
   next_thread = next_thread + 1
   table.insert(threads, thread)
end

local tag, counter, prefix

function init(args)
   tag = args[1] or tostring(os.time())
   counter = 0
   prefix = '{"name":"bench ' .. tag .. '-' .. tostring(thread_id) .. '-'
   wrk.method = "POST"
   wrk.path = "/api/v1/organisations"
   wrk.headers["Content-Type"] = "application/json"
   local token = os.getenv("CTMS_BENCH_TOKEN")
   if not token or token == "" then
      error("set CTMS_BENCH_TOKEN to an API token")
   end
   wrk.headers["Authorization"] = "Bearer " .. token
end

local kinds = { "sponsor", "cro", "vendor", "institution", "other" }

function request()
   counter = counter + 1
   local body = prefix .. counter .. '","kind":"' .. kinds[counter % #kinds + 1]
      .. '","country":"DE"}'
   return wrk.format(nil, nil, nil, body)
end
