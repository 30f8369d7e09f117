-- wrk script: the request of the URL given to wrk, signed in with the API
-- token in the environment variable CTMS_BENCH_TOKEN (Authorization: Bearer).
--
-- usage: CTMS_BENCH_TOKEN=... wrk -s bench/get.lua http://127.0.0.1:PORT/PATH

local token = os.getenv("CTMS_BENCH_TOKEN")
if not token or token == "" then
   error("set CTMS_BENCH_TOKEN to an API token")
end
wrk.headers["Authorization"] = "Bearer " .. token
