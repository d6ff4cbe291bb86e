-- Fanout pktgen profile: pcap replay of the workload.
-- The preamble pcap (ARP, CONNECT, SUBSCRIBE; bench/workload.py) goes out once on the subscriber
-- port, then the steady pcap (PUBLISHes) loops on the publisher port at one rate for FO_SECONDS.
--   FO_RATE   percentage of the link rate (pktgen's own unit; default 100 = as fast as it can)
--   FO_PPS    packets per second instead (converted to pktgen's percentage for this pcap)
-- Start pktgen with both pcaps:  ... -- -P -m 1.0 -m 2.1 -s 0:preamble.pcap -s 1:steady.pcap -f replay.lua
-- Results (one table row, the appliance's counters and latency over the window) go to FO_RESULTS.
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")

pktgen.screen("off")
if not C.wait_link({ C.sub, C.pub }, 15000) then C.log("# links not up after 15 s") end
C.log("# replay.lua %s", os.date("!%Y-%m-%dT%H:%M:%SZ"))
C.preamble()
local pps = C.num("FO_PPS", nil)
if pps then
    C.run_steps({ pps }, true)
else
    C.run_steps({ C.num("FO_RATE", 100) }, false)
end
C.finish()
