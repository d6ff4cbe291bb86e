#!/usr/bin/env python3
"""A staged rollout 0 -> 100 % under QoS 1 load, driven by fanoutctl through fanout-control.

Real processes: fanout-dataplane on the lab, fanout-control on its control socket, fanoutctl, and
fanout-loadgen with 24 publishers (ClientIds rop0..rop23) and 2 subscribers at QoS 1. The stable
generation routes ro/# to a collector on :9000, the canary (applied with `fanoutctl config apply`)
to :9001. Once every publisher's copies reach :9000, `fanoutctl rollout start --steps 1,5,25,50,100
--hold 1.5s --gate drop_rate<0.01` runs while the load runs; the load ends once every publisher's
copies reach :9001. Checks:
  - the rollout ends promoted by itself; the dataplane then has generation 2 as stable, no canary;
  - fanout-loadgen: every QoS 1 publish acknowledged and delivered to both subscribers, none lost;
  - every accepted publish reached exactly one collector: it went through exactly one generation (never to both collectors), each
    publisher's copies move from :9000 to :9001 once and never back, all end on :9001, and publishers
    switch in the order of fo_client_id_hash(ClientId) % 10000 (re-computed here): a device stays on
    one side as the share grows;
  - history records each step with the dataplane's publish time; conservation holds."""
import os
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Collector, Control, Dataplane, Lab, Resp, check, check_conservation,  # noqa: E402
                     client_id_hash, loadgen_bg, loadgen_payload, loadgen_wait, log, run_test, wait_until)

PUBS = 24


def route(lab, port):
    return [{"name": "collect", "filter": "ro/#", "to": [f"{lab.client_ip}:{port}"]}]


def publishers_at(coll, port):
    return {k[0] for pt, _, data in coll.snapshot() if pt == port and (k := loadgen_payload(data))}


def publishes_at(coll):
    return {k for _, _, data in coll.snapshot() if (k := loadgen_payload(data))}


def main(args):
    with Lab("ro") as lab:
        sock = Path(f"/tmp/fo-e2e-ro-{os.getpid()}.sock")
        with Dataplane("ro", lab, overrides={"routes": route(lab, 9000)}, extra_app=["--control", str(sock)]) as dp, \
                Collector(lab, [9000, 9001]) as coll, \
                Control(sock, Path(dp.dir) / "control") as ctl:
            canary = Path(dp.dir) / "canary.yaml"
            canary.write_text(Path(dp.config_path).read_text().replace(f"{lab.client_ip}:9000", f"{lab.client_ip}:9001"))
            out = ctl.ctl_ok("config", "apply", canary)
            log("fanoutctl config apply: " + out.strip().splitlines()[0])
            with Resp(sock) as dps:
                g = dps.json("GENERATIONS")
            check(g["canary"] and g["canary"]["id"] == 2 and g["share_bp"] == 0, f"after config apply: {g}")

            # The load runs from before the rollout until after it, however long either takes here.
            lg = loadgen_bg(lab, ["-p", PUBS, "-s", 2, "--topic", "ro/{pub}", "--filter", "ro/#", "--qos", 1,
                                  "--rate", 150, "--duration", 3600, "--id-prefix", "ro", "--expect-no-loss"])
            try:
                wait_until(f"copies from all {PUBS} publishers at the stable collector",
                           lambda: len(publishers_at(coll, 9000)) == PUBS, timeout=20, step=0.1)
                t_start = time.monotonic()
                ctl.ctl_ok("rollout", "start", "--steps", "1,5,25,50,100", "--hold", "1.5s", "--gate", "drop_rate<0.01")
                st = wait_until("the rollout to finish",
                                lambda: (lambda s: s if s["state"] in ("promoted", "rolled_back", "aborted") else None)(
                                    ctl.rollout()), timeout=30, step=0.2)
                t_end = time.monotonic()
                check(st["state"] == "promoted", f"rollout ended {st['state']}: {st}")
                log(f"rollout promoted after {t_end - t_start:.1f} s")
                wait_until(f"copies from all {PUBS} publishers at the canary collector",
                           lambda: len(publishers_at(coll, 9001)) == PUBS, timeout=10, step=0.1)
            finally:
                lg.terminate()  # the loadgen ends its send phase on SIGTERM, drains and reports
            rep, rc = loadgen_wait(lg)
            d, p = rep["deliver"], rep["publish"]
            log(f"loadgen: sent {p['sent_msgs']} acked {p['acked_msgs']} received {d['received_msgs']} "
                f"lost {d['lost_msgs']} duplicated {d['duplicated_msgs']}; verdict {rep['result']['verdict']}")
            check(rc == 0 and rep["result"]["pass"] and d["lost_msgs"] == 0 and p["acked_msgs"] == p["sent_msgs"],
                  f"QoS 1 loss during the rollout: {rep['result']['verdict']}")
            with Resp(sock) as dps:
                g = dps.json("GENERATIONS")
            check(g["stable"]["id"] == 2 and g["canary"] is None, f"after promote: {g}")
            wait_until("every acknowledged publish at a collector",
                       lambda: len(publishes_at(coll)) >= p["acked_msgs"], timeout=5, fail=False)
            got = coll.snapshot()
            hist = ctl.json("HISTORY", "COUNT", 100)
            final = dp.stop()

        # Route copies: one generation per publish, one switch per publisher, in hash order.
        per_pub = {}
        seen = {}
        retx_dups = 0
        for port, t, data in got:
            k = loadgen_payload(data)
            check(k is not None, f"collector {port}: a datagram that is not a loadgen payload: {data[:16].hex()}")
            pub, seq = k
            retx = bool(data[2] & 0x80)
            if (pub, seq) in seen:
                check(retx, f"publish rop{pub} #{seq} routed twice ({seen[(pub, seq)]} and {port}) without DUP")
                retx_dups += 1
                continue
            seen[(pub, seq)] = port
            per_pub.setdefault(pub, []).append((t, port))
        check(len(per_pub) == PUBS, f"route copies from {len(per_pub)} publishers, expected {PUBS}")
        first_canary = {}
        for pub, arr in per_pub.items():
            ports = [pt for _, pt in sorted(arr)]
            switch = ports.index(9001) if 9001 in ports else None
            check(switch is not None, f"rop{pub} never reached the canary collector")
            check(all(pt == 9001 for pt in ports[switch:]),
                  f"rop{pub} went back to stable after reaching canary: {ports[switch:switch + 20]}")
            first_canary[pub] = sorted(arr)[switch][0]
        order = sorted(first_canary, key=lambda pb: client_id_hash(f"rop{pb}") % 10000)
        for a, b in zip(order, order[1:]):
            check(first_canary[a] <= first_canary[b] + 0.3,
                  f"rop{a} (bucket {client_id_hash(f'rop{a}') % 10000}) switched {first_canary[a] - first_canary[b]:.2f} s "
                  f"after rop{b} (bucket {client_id_hash(f'rop{b}') % 10000})")
        steps = [e for e in hist.get("events", hist) if e.get("event") == "share"]
        check(len(steps) >= 4, f"history has {len(steps)} share events: {hist}")
        routed = len(seen)
        check(routed == p["acked_msgs"], f"{routed} publishes reached a collector, {p['acked_msgs']} were accepted: "
                                         "every accepted publish is routed exactly once")
        log(f"route copies: {routed} publishes through exactly one generation ({retx_dups} DUP re-routes), "
            f"{PUBS} publishers switched stable -> canary once, in hash order")
        check_conservation(final)


if __name__ == "__main__":
    run_test(main, __doc__)
