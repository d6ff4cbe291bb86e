-- Helpers shared by the Fanout pktgen profiles (replay.lua, sweep.lua, latency.lua).
-- Loaded with dofile() by each profile; runs inside Pktgen-DPDK's Lua (5.3).
--
-- Parameters come from the environment (run-memif.sh sets them; on bare metal export them yourself):
--   FO_PREAMBLE   preamble.pcap loaded on the subscriber port (-s 0:...)   (needed for its frame count)
--   FO_STEADY     steady.pcap loaded on the publisher port (-s 1:...)     (needed for its largest frame)
--   FO_SUB_PORT   pktgen port facing the appliance port the subscribers use (default 0)
--   FO_PUB_PORT   pktgen port facing the appliance port the publishers use (default 1)
--   FO_CTL        the dataplane's control socket (--control PATH); unset: no appliance figures
--   FO_CTL_CMD    how to reach it (default "redis-cli -s $FO_CTL"); e.g. "ssh dut redis-cli -s /run/fo.sock"
--   FO_RESULTS    file the results go to (default /tmp/fanout-pktgen-results.txt)

local M = {}

M.env = function(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    return v
end

M.num = function(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    local n = tonumber(v)
    if n == nil then error(name .. ": '" .. v .. "' is not a number") end
    return n
end

M.list = function(s)
    local t = {}
    for x in string.gmatch(s or "", "[^,%s]+") do t[#t + 1] = tonumber(x) end
    return t
end

M.sub = tostring(M.num("FO_SUB_PORT", 0))
M.pub = tostring(M.num("FO_PUB_PORT", 1))
M.ctl = M.env("FO_CTL", nil)
M.ctl_cmd = M.env("FO_CTL_CMD", M.ctl and ("redis-cli -s " .. M.ctl) or nil)

local results = io.open(M.env("FO_RESULTS", "/tmp/fanout-pktgen-results.txt"), "a")
M.log = function(fmt, ...)
    local s = string.format(fmt, ...)
    results:write(s .. "\n")
    results:flush()
    print(s)
end
M.close = function() results:close() end

-- Frame count and largest frame of a pcap file (classic libpcap format, either byte order).
M.pcap_info = function(path)
    local f = assert(io.open(path, "rb"), "cannot open pcap " .. tostring(path))
    local hdr = f:read(24)
    local magic = string.unpack("<I4", hdr)
    local e = (magic == 0xa1b2c3d4 or magic == 0xa1b23c4d) and "<" or ">"
    local n, max = 0, 0
    while true do
        local rec = f:read(16)
        if rec == nil or #rec < 16 then break end
        local _, _, incl = string.unpack(e .. "I4I4I4", rec)
        f:seek("cur", incl)
        n = n + 1
        if incl > max then max = incl end
    end
    f:close()
    return n, max
end

-- Pktgen paces a pcap port as if every frame were the largest one plus mbuf headroom, rounded to a
-- cache line (app/pktgen-pcap.c: max_pkt_size), plus 24 bytes of preamble/IFG/FCS
-- (app/pktgen.c: pktgen_packet_rate). This converts packets per second to its rate percentage.
M.pcap_rate_pct = function(pps, max_frame, link_mbps)
    local sz = max_frame + 128
    sz = math.ceil(sz / 64) * 64
    local wire_bits = (sz + 24) * 8
    return pps * wire_bits / (link_mbps * 1e6) * 100.0
end

M.link_mbps = function(port)
    local s = pktgen.linkState(port)[tonumber(port)]
    local mbps = tonumber(string.match(s or "", "<UP%-(%d+)%-"))
    return mbps, s
end

M.wait_link = function(ports, ms)
    local waited = 0
    while waited < ms do
        local all = true
        for _, p in ipairs(ports) do
            if not M.link_mbps(p) then all = false end
        end
        if all then return true end
        pktgen.delay(100)
        waited = waited + 100
    end
    return false
end

M.port = function(p)
    local s = pktgen.portStats(p, "port")[tonumber(p)]
    return { rx = s.ipackets, tx = s.opackets, ierr = s.ierrors, oerr = s.oerrors,
             imissed = s.imissed, nombuf = s.rx_nombuf }
end

-- Pktgen refreshes its port counters once a second from a timer; wait for the next refresh so that
-- windows start and end on one (at most 3 s; returns false when nothing moves or the timer is late).
M.sync = function(p)
    local a = M.port(p)
    for _ = 1, 300 do
        pktgen.delay(10)
        local b = M.port(p)
        if b.tx ~= a.tx or b.rx ~= a.rx then return true end
    end
    return false
end

M.sh = function(cmd)
    local f = io.popen(cmd .. " 2>/dev/null")
    local s = f:read("a")
    f:close()
    return s or ""
end

M.now = function()
    return tonumber(M.sh("date +%s.%N")) or os.time()
end

-- The appliance's counters (INFO over its control socket) plus the wall clock.
M.appliance = function()
    local t = { wall = M.now() }
    if not M.ctl_cmd then return t end
    local s = M.sh(M.ctl_cmd .. " INFO")
    for k, v in string.gmatch(s, "([%w_]+):([%d%.]+)") do t[k] = tonumber(v) end
    return t
end

-- The packet lcores' poll loops, summed: total iterations and those that found work (STATS lcores[]).
M.loops = function()
    local t = { loops = 0, busy = 0 }
    if not M.ctl_cmd then return t end
    local s = M.sh(M.ctl_cmd .. " STATS")
    for loops, pct in string.gmatch(s, '"loops":%s*(%d+),%s*"busy_pct":%s*([%d%.]+)') do
        t.loops = t.loops + tonumber(loops)
        t.busy = t.busy + tonumber(loops) * tonumber(pct) / 100.0
    end
    return t
end

-- Latency histogram buckets summed over generations: { [upper_ns] = count } (cumulative since start).
M.hist = function()
    local h = {}
    if not M.ctl_cmd then return h end
    local s = M.sh(M.ctl_cmd .. " GENSTATS")
    for _, upper, count in string.gmatch(s, "%[(%d+),(%d+),(%d+)%]") do
        upper = tonumber(upper)
        h[upper] = (h[upper] or 0) + tonumber(count)
    end
    return h
end

-- Percentiles (upper bucket bounds, in us) of the samples recorded between two hist() snapshots.
M.hist_pct = function(h0, h1, ps)
    local ups, diff, total = {}, {}, 0
    for u, c in pairs(h1) do
        local d = c - (h0[u] or 0)
        if d > 0 then ups[#ups + 1] = u; diff[u] = d; total = total + d end
    end
    table.sort(ups)
    local out = { samples = total }
    for _, p in ipairs(ps) do
        local need, acc = total * p, 0
        for _, u in ipairs(ups) do
            acc = acc + diff[u]
            if acc >= need then out[p] = u / 1000.0; break end
        end
    end
    return out
end

M.d = function(a, b, k) return (b[k] or 0) - (a[k] or 0) end

-- Replay the preamble pcap once on the subscriber port (ARP, CONNECT, SUBSCRIBE) and check what
-- the appliance made of it. Pktgen's pcap pool is a FIFO ring filled in file order, so a count of
-- exactly the file's frames sends the file once, in order.
M.preamble = function()
    local path = M.env("FO_PREAMBLE", nil)
    if not path then
        M.log("# FO_PREAMBLE unset: no preamble sent (sessions must exist already)")
        return
    end
    local n = M.pcap_info(path)
    local a0 = M.appliance()
    pktgen.pcap(M.sub, "on")
    pktgen.set(M.sub, "rate", 0.01)   -- the floor: ~4 kpps on a 100G link, ~0.4 kpps on 10G
    pktgen.set(M.sub, "count", n)
    pktgen.start(M.sub)
    local waited = 0
    while waited < 60000 do
        pktgen.delay(200)
        waited = waited + 200
        local s = pktgen.isSending(M.sub)[tonumber(M.sub)]
        if s == "n" or s == "no" or s == false or s == 0 then break end
    end
    pktgen.delay(1200)
    pktgen.stop(M.sub)
    pktgen.set(M.sub, "count", 0)
    local a1 = M.appliance()
    M.log("# preamble: %d frames sent on port %s in %.1f s; appliance: sessions %s, subscriptions %s, topics %s, rx +%d",
          n, M.sub, waited / 1000.0, tostring(a1.sessions), tostring(a1.subscriptions), tostring(a1.topics),
          M.d(a0, a1, "rx"))
end

-- One measurement window: call at a pktgen stats refresh, returns the snapshot.
M.snap = function()
    local synced = M.sync(M.pub)
    return { synced = synced, pub = M.port(M.pub), sub = M.port(M.sub), app = M.appliance(), hist = M.hist(),
             loops = M.loops() }
end

M.header = "rate_pct target_pps | pg_pub_tx_pps pg_sub_rx_pps | app_rx_pps app_delivered_pps app_out_generated_pps app_out_sent_pps app_out_dropped_pps app_dropped_pps app_busy_pct | lat_samples lat_p50_us lat_p99_us lat_p999_us | top_out_drop"

M.row = function(pct, target, a, b)
    local secs = (b.app.uptime_s and a.app.uptime_s) and (b.app.uptime_s - a.app.uptime_s) or (b.app.wall - a.app.wall)
    local function r(x) return x / secs end
    local lat = M.hist_pct(a.hist, b.hist, { 0.5, 0.99, 0.999 })
    -- the out-drop reason that grew most in the window
    local top, topn = "-", 0
    for k, v in pairs(b.app) do
        if string.match(k, "^out_drop_") then
            local d = v - (a.app[k] or 0)
            if d > topn then top, topn = k, d end
        end
    end
    local dl = b.loops.loops - a.loops.loops
    -- from the cumulative busy_pct (2 decimals) of two STATS replies: a few points off near saturation
    local busy = dl > 0 and string.format("%.0f", math.min(100.0, 100.0 * (b.loops.busy - a.loops.busy) / dl)) or "-"
    M.log("%8.3f %10s | %12.0f %12.0f | %10.0f %10.0f %10.0f %10.0f %10.0f %8.0f %6s | %9d %8s %8s %8s | %s",
          pct, target and string.format("%.0f", target) or "-",
          r(b.pub.tx - a.pub.tx), r(b.sub.rx - a.sub.rx),
          r(M.d(a.app, b.app, "rx")), r(M.d(a.app, b.app, "delivered")), r(M.d(a.app, b.app, "out_generated")),
          r(M.d(a.app, b.app, "out_sent")), r(M.d(a.app, b.app, "out_dropped")), r(M.d(a.app, b.app, "dropped")), busy,
          lat.samples, lat[0.5] and string.format("%.1f", lat[0.5]) or "-",
          lat[0.99] and string.format("%.1f", lat[0.99]) or "-",
          lat[0.999] and string.format("%.1f", lat[0.999]) or "-",
          top == "-" and "-" or string.format("%s %.0f/s", top, r(topn)))
    if not (a.synced and b.synced) then
        M.log("# (pktgen's counters did not refresh within 3 s at one end of that window: its pg_* columns are off)")
    end
end

M.totals = function(label)
    local a = M.appliance()
    local p, s = M.port(M.pub), M.port(M.sub)
    M.log("# %s: pktgen port %s tx %d rx %d; port %s tx %d rx %d", label, M.pub, p.tx, p.rx, M.sub, s.tx, s.rx)
    if a.rx then
        M.log("# %s: appliance rx %d delivered %d answered %d dropped %d; out generated %d sent %d dropped %d; deliveries %d",
              label, a.rx or 0, a.delivered or 0, a.answered or 0, a.dropped or 0, a.out_generated or 0,
              a.out_sent or 0, a.out_dropped or 0, a.deliveries or 0)
    end
end

-- Start the steady pcap on the publisher port and measure one window per rate step.
-- steps: list of percentages of the link rate, or (when FO_SWEEP_PPS / FO_PPS is given) packets per
-- second, converted with pcap_rate_pct. Each step: FO_WARMUP_S (default 1) then FO_SECONDS (default 5).
M.run_steps = function(values, in_pps)
    local path = M.env("FO_STEADY", nil)
    local max_frame = 1514
    if path then
        local n
        n, max_frame = M.pcap_info(path)
        M.log("# steady: %s, %d frames, largest %d bytes", path, n, max_frame)
    end
    local mbps, ls = M.link_mbps(M.pub)
    M.log("# link port %s: %s", M.pub, tostring(ls))
    local warm, secs = M.num("FO_WARMUP_S", 1), M.num("FO_SECONDS", 5)
    M.log("# window: %d s after %d s warm-up per step; rates are per second over the window", secs, warm)
    M.log("%s", M.header)
    pktgen.pcap(M.pub, "on")
    local started = false
    for _, v in ipairs(values) do
        local pct, target = v, nil
        if in_pps then
            target = v
            pct = M.pcap_rate_pct(v, max_frame, mbps or 10000)
        end
        if pct > 100 then pct = 100 end
        pktgen.set(M.pub, "rate", string.format("%.4f", pct))
        if not started then pktgen.start(M.pub); started = true end
        pktgen.delay(warm * 1000)
        local a = M.snap()
        pktgen.delay(secs * 1000 - 100)
        local b = M.snap()
        M.row(pct, target, a, b)
    end
    pktgen.stop(M.pub)
    pktgen.delay(1500)
end

M.finish = function()
    M.totals("totals")
    M.close()
    if M.env("FO_NO_QUIT", nil) == nil then pktgen.quit() end
end

return M
