-- Fanout pktgen profile: rate sweep.
-- Preamble once on the subscriber port, then the steady pcap on the publisher port at each rate in
-- turn, one measurement window per step (FO_WARMUP_S, FO_SECONDS), without stopping in between.
--   FO_SWEEP_PCT  percentages of the link rate (default 10,20,...,100: bare metal, where the link rate is real)
--   FO_SWEEP_PPS  packets per second instead (over memif, whose "link rate" is a made-up 100 Gb/s)
-- Each step's row: what pktgen sent and received, and what the appliance took in, delivered,
-- generated, sent and dropped per second, with its own rx->tx latency percentiles over the window.
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")

pktgen.screen("off")
if not C.wait_link({ C.sub, C.pub }, 15000) then C.log("# links not up after 15 s") end
C.log("# sweep.lua %s", os.date("!%Y-%m-%dT%H:%M:%SZ"))
C.preamble()
local pps = C.env("FO_SWEEP_PPS", nil)
if pps then
    C.run_steps(C.list(pps), true)
else
    C.run_steps(C.list(C.env("FO_SWEEP_PCT", "10,20,30,40,50,60,70,80,90,100")), false)
end
C.finish()
