#!/usr/bin/env python3
"""Held payloads never starve rx of mbufs (docs/security.md, "Packet memory").

A QoS 1 subscriber that never acknowledges keeps every copy in flight (retry interval 60 s) and a
Redis Streams sink whose redis-server is stopped (SIGSTOP) backs up; both keep payloads past their
packets. With a receive pool of 3071 mbufs, 4000 publishes of 1000 bytes would pin more than the
whole pool if those payloads stayed in rx mbufs. They are copied into the held pool instead
(mempool.held_mbufs: 511 here), which runs out and is counted (delivery_hold_full, route
pool_empty), while a second client's PINGREQ and QoS 1 publishes are still answered and the
receive pool stays nearly free. Conservation holds at the end."""
import signal
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS1, PINGRESP, PUBACK, Dataplane, Lab, RawClient, RedisServer, Resp, check,  # noqa: E402
                     check_conservation, events, lab_config, log, m_pingreq, m_publish, nonzero, run_test,
                     wait_until, workdir)

N_PUB = 4000
PAYLOAD = bytes(range(256)) * 3 + bytes(232)  # 1000 bytes: above every inline threshold


def pool(stats, name):
    return next(p for p in stats["mempools"] if p["name"] == name)


def main(args):
    with Lab("held") as lab, RedisServer("held") as redis:
        ctl = str(Path(workdir("held-ctl")) / "dp.sock")
        overrides = {
            "mempool": {"mbufs": 3071, "header_mbufs": 32767, "held_mbufs": 511, "cache": 256},
            "mqttsn.max_inflight": 8192,
            "mqttsn.max_inflight_per_session": 8192,
            "mqttsn.retry_interval_ms": 60000,
            "sinks": [{"name": "rd", "redis": f"127.0.0.1:{redis.port}", "ring": 8192, "batch": 64,
                       "timeout_ms": 30000}],
            "routes": [{"name": "mem", "filter": "mem/#", "sink": "rd", "stream": "mem"}],
        }
        text = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0], overrides)
        with Dataplane("held", lab, config_text=text, extra_app=["--control", ctl]) as dp:
            dp.ctl = ctl
            with Resp(ctl) as r:
                wait_until("the sink connected", lambda: all(o["connected"] for o in r.json("OUTPUTS")["sinks"]),
                           timeout=10)
            hog, pub, other = RawClient(lab), RawClient(lab), RawClient(lab)
            try:
                check(hog.connect("hog") == 0 and pub.connect("mem-pub") == 0 and other.connect("other") == 0,
                      "a CONNECT was refused")
                _, rc = hog.subscribe("mem/x", F_QOS1)
                check(rc == 0, "the hog's SUBSCRIBE was refused")
                tid = pub.register("mem/x")
                otid = other.register("other/t")
                redis.proc.send_signal(signal.SIGSTOP)
                log(f"redis-server stopped; {N_PUB} QoS 1 publishes of {len(PAYLOAD)} B to a subscriber "
                    "that never acknowledges and into the stalled sink")
                for i in range(N_PUB):
                    pub.send(m_publish(tid, i % 65535 + 1, PAYLOAD, F_QOS1))
                    if i % 100 == 99:
                        time.sleep(0.01)  # stay under the worker ring's burst
                wait_until("the publishes to be handled",
                           lambda: events(dp.snapshot())["publish_accepted"] >= N_PUB * 0.95, timeout=30)
                s = dp.snapshot()
                ev = events(s)
                rx_pool, held = pool(s, "fo_pkt"), pool(s, "fo_held")
                log(f"held pool {held['in_use']}/{held['size']} in use; rx pool {rx_pool['in_use']}/{rx_pool['size']} "
                    f"in use; delivery_hold_full {ev['delivery_hold_full']}, deliveries_qos1 {ev['deliveries_qos1']}")
                check(ev["delivery_hold_full"] > 0, "the held pool never ran out (the test holds too little)")
                check(rx_pool["in_use"] < rx_pool["size"] // 2, f"rx pool pinned: {rx_pool}")
                # The port still receives: another client's PINGREQ and QoS 1 publishes are answered.
                t0 = time.monotonic()
                other.send(m_pingreq())
                other.expect(PINGRESP, skip=(PUBACK,))
                acked = 0
                for i in range(20):
                    other.send(m_publish(otid, 30000 + i, b"still here", F_QOS1))
                    body = other.expect(PUBACK)
                    acked += body[-1] == 0
                log(f"while held: PINGRESP and {acked}/20 PUBACKs accepted for the other client "
                    f"in {time.monotonic() - t0:.2f} s")
                check(acked == 20, f"only {acked}/20 publishes of the other client accepted")
                with Resp(ctl) as r:
                    route = next(x for x in r.json("ROUTES")["stable"] if x["name"] == "mem")
                log(f"sink route while stalled: {nonzero({k: v for k, v in route.items() if isinstance(v, int)})}")
                check(route["pool_empty"] > 0 and route["backlog"] > 0,
                      "the stalled sink neither held payloads nor ran out of held mbufs")
            finally:
                redis.proc.send_signal(signal.SIGCONT)
                for c in (hog, pub, other):
                    c.close()
            stats = dp.stop()
            log(f"events: {nonzero(events(stats))}")
            check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
