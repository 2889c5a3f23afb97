-- wrk script: create+reveal pairs against the link relay (or its bare peer).
--
-- OTS_BENCH_POOL names a file of sealed shares, one a line: id TAB create body TAB reveal body (JSON,
-- written by tests/benchmarks/wrk_load.py); each of the OTS_BENCH_THREADS wrk threads takes every n-th
-- line. A request is a reveal when a create of this thread has been answered 201 (the id is read from
-- that answer), else the create of the next share: every connection alternates create and reveal, and
-- every reveal opens a share the server really parked, with that share's auth token and link proof.
-- OTS_BENCH_WRAP=1 starts the pool again when it runs out (for a peer that stores nothing); otherwise
-- the thread stops and the run counts as exhausted. OTS_BENCH_STATS names the JSON file written at the end.

local API = "/api/v1/secrets"
local HEADERS = { ["Content-Type"] = "application/json" }
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   -- wrk calls setup and init thread by thread, so the thread count comes from the command line.
   local nthreads = tonumber(os.getenv("OTS_BENCH_THREADS"))
   ids, creates, reveals = {}, {}, {}
   local n, line_no = 0, 0
   for line in io.lines(os.getenv("OTS_BENCH_POOL")) do
      if line_no % nthreads == tid then
         local id, create, reveal = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
         n = n + 1
         ids[n] = id
         creates[n] = wrk.format("POST", API, HEADERS, create)
         reveals[id] = wrk.format("POST", API .. "/" .. id .. "/reveal", HEADERS, reveal)
      end
      line_no = line_no + 1
   end
   pool, next_share = n, 1
   wrap = os.getenv("OTS_BENCH_WRAP") == "1"
   ready, ready_head, ready_tail = {}, 1, 0
   created, revealed, refused, exhausted, bad = 0, 0, 0, 0, ""
end

function request()
   if ready_head <= ready_tail then
      local id = ready[ready_head]
      ready[ready_head] = nil
      ready_head = ready_head + 1
      return reveals[id]
   end
   if next_share > pool then
      if not wrap then
         exhausted = 1
         wrk.thread:stop()
      end
      next_share = 1
   end
   local req = creates[next_share]
   next_share = next_share + 1
   return req
end

function response(status, headers, body)
   if status == 201 then
      local id = body:match('"id":"([%w_-]+)"')
      if id and reveals[id] then
         created = created + 1
         ready_tail = ready_tail + 1
         ready[ready_tail] = id
         return
      end
   elseif status == 200 and body:find('"envelope":"', 1, true) then
      revealed = revealed + 1
      return
   end
   refused = refused + 1
   if bad == "" then
      bad = (status .. " " .. body:sub(1, 200)):gsub('[%c\\"]', "?")
   end
end

function done(summary, latency, requests)
   local c, r, x, e, first = 0, 0, 0, 0, ""
   for _, t in ipairs(threads) do
      c = c + t:get("created")
      r = r + t:get("revealed")
      x = x + t:get("refused")
      e = e + t:get("exhausted")
      if first == "" then
         first = t:get("bad")
      end
   end
   local errors = summary.errors
   local out = assert(io.open(os.getenv("OTS_BENCH_STATS"), "w"))
   out:write(string.format(
      '{"duration_us": %d, "requests": %d, "created": %d, "revealed": %d, "refused": %d, "exhausted": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "socket_errors": %d, "timeouts": %d, '
      .. '"first_refusal": "%s"}\n',
      summary.duration, summary.requests, c, r, x, e,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      errors.connect + errors.read + errors.write, errors.timeout, first))
   out:close()
end
