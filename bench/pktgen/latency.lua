-- Fanout pktgen profile: pktgen's own latency mode.
-- Pktgen stamps a 64-byte UDP probe (destination port 1028) at bytes 48..63 of the frame (TSC, index,
-- magic 0xf00dcafe) and matches it when a frame with those bytes comes back on the same port. The
-- Fanout appliance echoes nothing of the sort: it answers ARP, ICMP echo and MQTT-SN, and a fanned-out
-- PUBLISH copy carries MsgId 0 at byte 48 (QoS 0), so no probe can ever return through it. This
-- profile therefore does two things:
--   FO_LAT_MODE=reflector  probes against a frame reflector (dpdk-testpmd --forward-mode=macswap
--                          --port-topology=loop): the round trip of the generator and the link itself,
--                          the floor under any figure measured through a device;
--   FO_LAT_MODE=appliance  (default) steady replay as replay.lua with probes on the publisher port: shows
--                          the probes are counted by the appliance (drop udp_no_listener) and never come
--                          back, and reports the appliance's own rx->tx latency (GENSTATS) instead.
--   FO_LAT_PORT (default FO_PUB_PORT), FO_LAT_US probe interval (default 1000 us), FO_SECONDS (default 5),
--   FO_LAT_DST_MAC / FO_LAT_DST_IP / FO_LAT_SRC_IP the probe's addresses (default: the memif workload's
--   appliance port 1, 02:fe:00:00:00:01 / 198.18.201.1, from 198.18.200.250),
--   FO_RATE background rate of the single-packet stream in reflector mode (percent, default 0.01).
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")

local mode = C.env("FO_LAT_MODE", "appliance")
local port = tostring(C.num("FO_LAT_PORT", tonumber(C.pub)))
local secs = C.num("FO_SECONDS", 5)
local samples_file = C.env("FO_LAT_SAMPLES_FILE", "/tmp/fanout-pktgen-latency-samples.txt")

local function setup_probe()
    pktgen.set_mac(port, "dst", C.env("FO_LAT_DST_MAC", "02:fe:00:00:00:01"))
    pktgen.set_ipaddr(port, "dst", C.env("FO_LAT_DST_IP", "198.18.201.1"))
    pktgen.set_ipaddr(port, "src", C.env("FO_LAT_SRC_IP", "198.18.200.250") .. "/16")
    pktgen.set_proto(port, "udp")
    pktgen.latency(port, "rate", C.num("FO_LAT_US", 1000))
    pktgen.latsampler_params(port, "simple", 50000, 100000, samples_file) -- at most 50108 samples
    pktgen.latency(port, "enable")
    pktgen.latsampler(port, "on")
end

local function percentiles()
    pktgen.latsampler(port, "off") -- writes the samples file
    local v = {}
    local f = io.open(samples_file, "r")
    if f then
        for line in f:lines() do
            local n = tonumber(line)
            if n then v[#v + 1] = n end
        end
        f:close()
    end
    table.sort(v)
    local function p(q)
        if #v == 0 then return "-" end
        return string.format("%.1f", v[math.max(1, math.ceil(#v * q))] / 1000.0)
    end
    return #v, p(0.5), p(0.99), p(0.999)
end

local function report(label)
    local l = pktgen.pktStats(port)[tonumber(port)].latency
    local n, p50, p99, p999 = percentiles()
    C.log("# %s: pktgen latency port %s: probes returned %d (skipped %d), min %.1f us, avg %.1f us, max %.1f us; " ..
          "sampled %d: p50 %s us, p99 %s us, p99.9 %s us",
          label, port, l.num_pkts, l.num_skipped, l.min_us, l.avg_us, l.max_us, n, p50, p99, p999)
end

pktgen.screen("off")
C.log("# latency.lua %s mode %s", os.date("!%Y-%m-%dT%H:%M:%SZ"), mode)
if mode == "reflector" then
    if not C.wait_link({ port }, 15000) then C.log("# link not up after 15 s") end
    setup_probe()
    pktgen.set(port, "rate", string.format("%.4f", C.num("FO_RATE", 0.01)))
    pktgen.start(port)
    pktgen.delay(secs * 1000)
    pktgen.stop(port)
    pktgen.delay(500)
    local s = C.port(port)
    C.log("# reflector: port %s tx %d rx %d", port, s.tx, s.rx)
    report("reflector")
    C.close()
    if C.env("FO_NO_QUIT", nil) == nil then pktgen.quit() end
else
    if not C.wait_link({ C.sub, C.pub }, 15000) then C.log("# links not up after 15 s") end
    C.preamble()
    setup_probe()
    local pps = C.num("FO_PPS", nil)
    if pps then C.run_steps({ pps }, true) else C.run_steps({ C.num("FO_RATE", 1) }, false) end
    report("appliance")
    local a = C.appliance()
    C.log("# appliance: probes dropped as udp_no_listener: %s", tostring(a.drop_udp_no_listener))
    C.finish()
end
