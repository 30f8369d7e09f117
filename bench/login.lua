-- wrk script: POST /api/v1/sessions, a sign-in with username and password.
-- Every request is a real sign-in: the argon2id verification of the
-- password (64 MiB, by design slow), a new session and its audit event.
--
-- usage: CTMS_BENCH_USER=NAME CTMS_BENCH_PASSWORD=SECRET \
--        wrk -s bench/login.lua http://127.0.0.1:PORT

local function json_string(s)
   return '"' .. s:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

local user = os.getenv("CTMS_BENCH_USER")
local password = os.getenv("CTMS_BENCH_PASSWORD")
if not user or not password then
   error("set CTMS_BENCH_USER and CTMS_BENCH_PASSWORD")
end

wrk.method = "POST"
wrk.path = "/api/v1/sessions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":' .. json_string(user) .. ',"password":' .. json_string(password) .. '}'
