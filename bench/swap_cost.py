#!/usr/bin/env python3
"""What a generation swap costs the packet path, measured on the lab (docs/control.md).

fanout-dataplane on a lab veth carries fanout-loadgen traffic at a fixed offered rate (QoS 0,
1 -> 1, topic routed by both generations to a UDP collector). A sampler reads the dataplane's
counters over its control socket every 100 ms and turns them into a rate series. Three phases of
equal length: before (no swap), during (a swap every --swap-ms: CANARY SHARE alternating 0 and
10000, which moves every client between generations, plus a fresh CONFIG LOAD every 10th swap),
after. Reports, per phase, the mean, minimum and standard deviation of the 100 ms buckets of
packets received and sent, the swap's own times (command -> pointer store, -> every worker past a
quiescent point) and the loadgen's loss. Writes JSON (--json FILE) and prints a table.

  bench/swap_cost.py --build-dir build [--rate 50000] [--phase-s 3] [--swap-ms 100]

Needs root (network namespaces) and an idle machine: timings are noisy on 2 cores, compare the
phases of one run, not runs with each other."""
import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test" / "e2e"))
import harness  # noqa: E402
from harness import Dataplane, Lab, Resp, loadgen_bg, loadgen_wait  # noqa: E402



def info_counters(r):
    out = {}
    for line in r.call("INFO").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return int(out["rx"]), int(out["out_sent"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--rate", type=int, default=50000, help="offered publishes/s (default 50000)")
    ap.add_argument("--phase-s", type=float, default=3.0, help="seconds per phase (default 3)")
    ap.add_argument("--swap-ms", type=int, default=100, help="time between swaps in the middle phase (default 100)")
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args()
    harness.ARGS = argparse.Namespace(build_dir=args.build_dir, pmd="af_packet", keep=False)

    samples = []  # (t, rx, sent)
    swaps = []    # (t, published_ns, all_workers_ns)
    with Lab("swap-cost") as lab:
        sock = f"/tmp/fo-swapcost-{os.getpid()}.sock"
        route = [{"name": "collect", "filter": "sw/#", "to": [f"{lab.client_ip}:9000"]}]
        with Dataplane("swapcost", lab, overrides={"routes": route}, extra_app=["--control", sock]) as dp:
            base = Path(dp.config_path).read_text()
            canary = base.replace(f"{lab.client_ip}:9000", f"{lab.client_ip}:9001")
            collector = [lab.udp_socket(lab.client_ip, p) for p in (9000, 9001)]  # so the kernel drops nothing loudly
            total_s = 3 * args.phase_s
            lg = loadgen_bg(lab, ["-p", 1, "-s", 1, "--topic", "sw/{pub}", "--filter", "sw/#", "--qos", 0,
                                  "--rate", args.rate, "--duration", total_s + 1.0, "--id-prefix", "sw"])
            stop = threading.Event()

            def sample():
                with Resp(sock) as r:
                    while not stop.is_set():
                        rx, sent = info_counters(r)
                        samples.append((time.monotonic(), rx, sent))
                        time.sleep(0.1 - (time.monotonic() % 0.1))
            th = threading.Thread(target=sample, daemon=True)
            time.sleep(0.7)  # sessions up, traffic flowing
            th.start()
            t0 = time.monotonic()
            with Resp(sock) as r:
                r.json("CONFIG", "LOAD", canary)
                time.sleep(max(0.0, t0 + args.phase_s - time.monotonic()))
                t_swaps = time.monotonic()
                n = 0
                while time.monotonic() < t_swaps + args.phase_s:
                    n += 1
                    if n % 10 == 0:
                        rep = r.json("CONFIG", "LOAD", canary if n % 20 else base)
                    else:
                        rep = r.json("CANARY", "SHARE", 10000 if n % 2 else 0)
                    swaps.append((time.monotonic(), rep["published_ns"], rep["all_workers_ns"]))
                    time.sleep(args.swap_ms / 1000.0)
                t_after = time.monotonic()
            time.sleep(args.phase_s)
            stop.set()
            th.join()
            rep, _ = loadgen_wait(lg)
            for s in collector:
                s.close()
            final = dp.stop()

    def phase(a, b):
        rows = [(t1, (rx1 - rx0) / (t1 - t0_), (s1 - s0) / (t1 - t0_))
                for (t0_, rx0, s0), (t1, rx1, s1) in zip(samples, samples[1:]) if a <= t0_ and t1 <= b]
        rx = [x[1] for x in rows]
        tx = [x[2] for x in rows]

        def summ(v):
            return {"buckets": len(v), "mean": statistics.mean(v) if v else 0.0, "min": min(v) if v else 0.0,
                    "stdev": statistics.pstdev(v) if v else 0.0}
        return {"rx_pps": summ(rx), "tx_pps": summ(tx)}

    res = {
        "rate_offered": args.rate, "phase_s": args.phase_s, "swap_every_ms": args.swap_ms,
        "before": phase(t0, t_swaps), "during": phase(t_swaps, t_after), "after": phase(t_after, t_after + args.phase_s),
        "swaps": len(swaps),
        "swap_published_ns": {"p50": statistics.median(s[1] for s in swaps), "max": max(s[1] for s in swaps)},
        "swap_all_workers_ns": {"p50": statistics.median(s[2] for s in swaps), "max": max(s[2] for s in swaps)},
        "loadgen": {"sent": rep["publish"]["sent_msgs"], "received": rep["deliver"]["received_msgs"],
                    "lost": rep["deliver"]["lost_msgs"]},
        "dataplane_drops": final["totals"]["dropped"], "dataplane_out_drops": final["totals"]["out"]["dropped"],
    }
    res["during_over_before_rx"] = res["during"]["rx_pps"]["mean"] / max(1.0, res["before"]["rx_pps"]["mean"])
    res["during_min_over_before_mean_rx"] = res["during"]["rx_pps"]["min"] / max(1.0, res["before"]["rx_pps"]["mean"])
    print(f"swap cost, offered {args.rate} msg/s QoS 0 1->1 through the lab, 100 ms buckets, {len(swaps)} swaps "
          f"every {args.swap_ms} ms in the middle phase")
    print(f"{'phase':8} {'rx mean':>12} {'rx min':>12} {'rx stdev':>10} {'tx mean':>12} {'tx min':>12}")
    for ph in ("before", "during", "after"):
        p = res[ph]
        print(f"{ph:8} {p['rx_pps']['mean']:>10.0f}/s {p['rx_pps']['min']:>10.0f}/s {p['rx_pps']['stdev']:>8.0f}/s "
              f"{p['tx_pps']['mean']:>10.0f}/s {p['tx_pps']['min']:>10.0f}/s")
    print(f"during/before mean rx {res['during_over_before_rx']:.3f}; worst during bucket / before mean "
          f"{res['during_min_over_before_mean_rx']:.3f}")
    print(f"swap: command -> pointer store p50 {res['swap_published_ns']['p50']} ns (max "
          f"{res['swap_published_ns']['max']}), -> every worker p50 {res['swap_all_workers_ns']['p50']} ns (max "
          f"{res['swap_all_workers_ns']['max']})")
    print(f"loadgen: sent {res['loadgen']['sent']} received {res['loadgen']['received']} lost {res['loadgen']['lost']}; "
          f"dataplane drops {res['dataplane_drops']}, out drops {res['dataplane_out_drops']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
