#!/usr/bin/env python3
"""QoS 1 publish/subscribe through the dataplane on the lab: 1 publisher -> 1 subscriber and
1 publisher -> 10 subscribers, a few thousand messages at a moderate rate, with fanout-loadgen
--expect-no-loss; nothing lost or duplicated, and both conservation sums hold after stop."""
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Dataplane, Lab, check, check_conservation, events, log, loadgen, run_test  # noqa: E402

CASES = [  # (subscribers, messages, rate msg/s)
    (1, 3000, 1000),
    (10, 2000, 500),
]


def main(args):
    with Lab("e2eqos1", subnet=101) as lab, Dataplane("qos1", lab) as dp:
        results = []
        for n_sub, count, rate in CASES:
            rep, rc = loadgen(lab, ["-p", 1, "-s", n_sub, "--topic", "qos1/{pub}/data", "--filter", "qos1/#",
                                    "--qos", 1, "--sub-qos", 1, "--rate", rate, "--count", count,
                                    "--drain-ms", 2000, "--expect-no-loss", "--id-prefix", f"q1s{n_sub}"])
            d, p = rep["deliver"], rep["publish"]
            log(f"1 -> {n_sub}: sent {p['sent_msgs']} acked {p['acked_msgs']} rejected {p['rejected_msgs']} "
                f"unacked {p['unacked_msgs']} retransmitted {p['retransmitted_msgs']}; expected {d['expected_msgs']} "
                f"received {d['received_msgs']} unique {d['unique_msgs']} lost {d['lost_msgs']} "
                f"duplicated {d['duplicated_msgs']} misrouted {d['misrouted_msgs']}; latency p50 "
                f"{rep['latency_us']['p50']:.0f} us p99 {rep['latency_us']['p99']:.0f} us; verdict {rep['result']['verdict']}")
            results.append((n_sub, rep, rc))
        stats = dp.stop()
        ev = events(stats)
        log(f"dataplane events: publish_accepted {ev['publish_accepted']} deliveries {ev['deliveries']} "
            f"deliveries_qos1 {ev['deliveries_qos1']} qos1_acked {ev['qos1_acked']} retransmits "
            f"{ev['qos1_retransmits']} giveups {ev['qos1_giveups']}")
        check_conservation(stats)
        for n_sub, rep, rc in results:
            d, p = rep["deliver"], rep["publish"]
            count = next(c for s, c, _ in CASES if s == n_sub)
            check(p["sent_msgs"] == count, f"1 -> {n_sub}: publisher sent {p['sent_msgs']} of {count}")
            check(d["expected_msgs"] == count * n_sub, f"1 -> {n_sub}: expected {d['expected_msgs']} != {count * n_sub}")
            check(p["acked_msgs"] == p["sent_msgs"] and p["rejected_msgs"] == 0 and p["unacked_msgs"] == 0,
                  f"1 -> {n_sub}: publisher acked {p['acked_msgs']} of {p['sent_msgs']} "
                  f"(rejected {p['rejected_msgs']}, unacked {p['unacked_msgs']})")
            check(d["lost_msgs"] == 0, f"1 -> {n_sub}: {d['lost_msgs']} messages lost")
            check(d["duplicated_msgs"] == 0, f"1 -> {n_sub}: {d['duplicated_msgs']} duplicates")
            check(rc == 0 and rep["result"]["pass"], f"1 -> {n_sub}: loadgen verdict {rep['result']['verdict']}")


if __name__ == "__main__":
    run_test(main, __doc__)
