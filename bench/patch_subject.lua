-- wrk script: PATCH /api/v1/subjects/{id} with If-Match, each request on
-- the next subject of a list, so that no two requests race for one record.
-- Every request is a real update: the record read in the write transaction,
-- its version checked, the field changed, version + 1 and one audit event
-- appended to the hash chain, in one transaction.
--
-- usage: CTMS_BENCH_TOKEN=... wrk -s bench/patch_subject.lua \
--        http://127.0.0.1:PORT -- VERSIONS OFFSET TAG [NTHREADS]
--
-- VERSIONS is a file of "ID VERSION" lines, the subjects' versions before
-- the first run. Runs against the same database pass OFFSET, the count the
-- previous run printed ("next offset: N"), so each run goes on where the
-- last one stopped. Past the end of the list it starts again with every
-- version one higher, as each subject was changed once more in the
-- previous pass. The ETag is not read back from the replies: wrk does not
-- tell which request a reply answers. NTHREADS is wrk's -t (default 1). A stale version answers 412; done()
-- prints how many replies were 412 and how many failed otherwise.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local ids, versions = {}, {}
local offset, nthreads, k = 0, 1, 0
local tag, auth
stale, other, issued = 0, 0, 0

function init(args)
   local token = os.getenv("CTMS_BENCH_TOKEN")
   if not token or token == "" then
      error("set CTMS_BENCH_TOKEN to an API token")
   end
   for line in io.lines(args[1]) do
      local id, version = line:match("^(%d+) (%d+)$")
      if id then
         ids[#ids + 1] = id
         versions[#versions + 1] = tonumber(version)
      end
   end
   if #ids == 0 then
      error("no subjects in " .. tostring(args[1]))
   end
   offset = tonumber(args[2] or "0")
   tag = args[3] or "bench"
   nthreads = tonumber(args[4] or "1")
   if tid == 0 then
      k = -1 -- the first call is wrk's trial (see request)
   end
   wrk.method = "PATCH"
   auth = "Bearer " .. token
end

function request()
   -- thread tid takes positions offset + tid, offset + tid + nthreads, ...
   local n = offset + tid + k * nthreads
   k = k + 1
   if n < offset then
      -- wrk calls request() once on its first thread before the run, to
      -- count pipelined requests, and never sends that one.
      return wrk.format("GET", "/healthz", {})
   end
   issued = n + 1
   local i = n % #ids + 1
   local pass = math.floor(n / #ids)
   local body = '{"arm":"' .. tag .. ' ' .. n .. '"}'
   -- wrk.format takes these headers instead of wrk.headers: all of them.
   return wrk.format(nil, "/api/v1/subjects/" .. ids[i], {
      ["Authorization"] = auth,
      ["Content-Type"] = "application/json",
      ["If-Match"] = '"' .. (versions[i] + pass) .. '"',
   }, body)
end

function response(status, headers, body)
   if status == 412 then
      stale = stale + 1
   elseif status ~= 200 then
      other = other + 1
   end
end

function done(summary, latency, requests)
   local s, o, last = 0, 0, 0
   for _, t in ipairs(threads) do
      s = s + t:get("stale")
      o = o + t:get("other")
      last = math.max(last, t:get("issued"))
   end
   io.write(string.format("412 replies: %d\nother failed replies: %d\nnext offset: %d\n",
      s, o, last))
end
