#!/usr/bin/env python3
"""QoS 0 publish/subscribe through the dataplane on the lab at a moderate rate (2000 msg/s):
1 publisher -> 1 subscriber and 1 publisher -> 10 subscribers; nothing lost, nothing duplicated
or misrouted, and both conservation sums hold after stop."""
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Dataplane, Lab, check, check_conservation, events, log, loadgen, run_test  # noqa: E402

CASES = [  # (subscribers, messages, rate msg/s)
    (1, 6000, 2000),
    (10, 4000, 2000),
]


def main(args):
    with Lab("e2eqos0", subnet=102) as lab, Dataplane("qos0", lab) as dp:
        results = []
        for n_sub, count, rate in CASES:
            rep, rc = loadgen(lab, ["-p", 1, "-s", n_sub, "--topic", "qos0/{pub}/data", "--filter", "qos0/+/data",
                                    "--qos", 0, "--sub-qos", 0, "--rate", rate, "--count", count,
                                    "--drain-ms", 2000, "--expect-no-loss", "--id-prefix", f"q0s{n_sub}"])
            d, p = rep["deliver"], rep["publish"]
            log(f"1 -> {n_sub} at {rate} msg/s: sent {p['sent_msgs']} in {p['elapsed_s']:.2f} s "
                f"({p['rate_msgs_per_s']:.0f} msg/s), rejected {p['rejected_msgs']}, send errors {p['send_errors']}; "
                f"expected {d['expected_msgs']} received {d['received_msgs']} unique {d['unique_msgs']} "
                f"lost {d['lost_msgs']} duplicated {d['duplicated_msgs']} misrouted {d['misrouted_msgs']}; "
                f"latency p50 {rep['latency_us']['p50']:.0f} us p99 {rep['latency_us']['p99']:.0f} us; "
                f"verdict {rep['result']['verdict']}")
            results.append((n_sub, count, rep, rc))
        stats = dp.stop()
        ev = events(stats)
        log(f"dataplane events: publish_accepted {ev['publish_accepted']} deliveries {ev['deliveries']} "
            f"publish_no_match {ev['publish_no_match']}")
        check_conservation(stats)
        for n_sub, count, rep, rc in results:
            d, p = rep["deliver"], rep["publish"]
            check(p["sent_msgs"] == count and p["send_errors"] == 0,
                  f"1 -> {n_sub}: publisher sent {p['sent_msgs']} of {count} ({p['send_errors']} send errors)")
            check(p["rejected_msgs"] == 0, f"1 -> {n_sub}: {p['rejected_msgs']} publishes rejected")
            check(d["expected_msgs"] == count * n_sub, f"1 -> {n_sub}: expected {d['expected_msgs']} != {count * n_sub}")
            check(d["lost_msgs"] == 0, f"1 -> {n_sub}: {d['lost_msgs']} messages lost")
            check(d["duplicated_msgs"] == 0 and d["misrouted_msgs"] == 0,
                  f"1 -> {n_sub}: {d['duplicated_msgs']} duplicated, {d['misrouted_msgs']} misrouted")
            check(rc == 0 and rep["result"]["pass"], f"1 -> {n_sub}: loadgen verdict {rep['result']['verdict']}")
        check(ev["publish_accepted"] == sum(c for _, c, _ in CASES),
              f"publish_accepted {ev['publish_accepted']} != {sum(c for _, c, _ in CASES)} published")
        check(ev["deliveries"] == sum(s * c for s, c, _ in CASES),
              f"deliveries {ev['deliveries']} != {sum(s * c for s, c, _ in CASES)} expected copies")


if __name__ == "__main__":
    run_test(main, __doc__)
