#!/usr/bin/env python3
"""Publish/subscribe through the dataplane on the lab at a moderate rate, at QoS 0, 1 or 2 (--qos):
1 publisher -> 1 subscriber and 1 publisher -> 10 subscribers with fanout-loadgen --expect-no-loss;
nothing lost, duplicated or misrouted (at QoS 1 every publish acknowledged, at QoS 2 every publish
completed: PUBLISH, PUBREC, PUBREL, PUBCOMP; subscribers granted QoS 2 answer PUBREC and PUBCOMP), the
dataplane's publish_accepted and deliveries match what was sent (QoS 0; QoS 2 too: no duplicate is accepted
and each copy is built once), and both conservation sums hold after stop."""
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Dataplane, Lab, check, check_conservation, events, log, loadgen, run_test  # noqa: E402

CASES = {  # qos: [(subscribers, messages, rate msg/s)]; QoS 1 and 2 are slower: every publish waits for its acks
    0: [(1, 6000, 2000), (10, 4000, 2000)],
    1: [(1, 3000, 1000), (10, 2000, 500)],
    2: [(1, 3000, 1000), (10, 2000, 500)],
}
FILTER = {0: "qos0/+/data", 1: "qos1/#", 2: "qos2/+/data"}  # single-level and multi-level wildcards
# QoS 2 messages in flight per publisher: the appliance keeps 4 MsgIds awaiting PUBREL per client and answers a
# fifth QoS 2 PUBLISH with PUBACK "congestion" (docs/dataplane.md, QoS 2)
WINDOW = {0: 16, 1: 16, 2: 4}


def run_case(lab, qos, n_sub, count, rate):
    rep, rc = loadgen(lab, ["-p", 1, "-s", n_sub, "--topic", f"qos{qos}/{{pub}}/data", "--filter", FILTER[qos],
                            "--qos", qos, "--sub-qos", qos, "--rate", rate, "--count", count, "--window", WINDOW[qos],
                            "--drain-ms", 2000, "--expect-no-loss", "--id-prefix", f"q{qos}s{n_sub}"])
    d, p = rep["deliver"], rep["publish"]
    log(f"QoS {qos}, 1 -> {n_sub} at {rate} msg/s: sent {p['sent_msgs']} in {p['elapsed_s']:.2f} s "
        f"({p['rate_msgs_per_s']:.0f} msg/s), acked {p['acked_msgs']} rejected {p['rejected_msgs']} unacked "
        f"{p['unacked_msgs']} retransmitted {p['retransmitted_msgs']} send errors {p['send_errors']}; "
        f"expected {d['expected_msgs']} received {d['received_msgs']} unique {d['unique_msgs']} lost {d['lost_msgs']} "
        f"duplicated {d['duplicated_msgs']} misrouted {d['misrouted_msgs']}; latency p50 "
        f"{rep['latency_us']['p50']:.0f} us p99 {rep['latency_us']['p99']:.0f} us; verdict {rep['result']['verdict']}")
    return rep, rc


def check_case(qos, n_sub, count, rep, rc):
    d, p = rep["deliver"], rep["publish"]
    what = f"QoS {qos}, 1 -> {n_sub}"
    check(p["sent_msgs"] == count and p["send_errors"] == 0,
          f"{what}: publisher sent {p['sent_msgs']} of {count} ({p['send_errors']} send errors)")
    check(p["rejected_msgs"] == 0, f"{what}: {p['rejected_msgs']} publishes rejected")
    if qos >= 1:
        check(p["acked_msgs"] == p["sent_msgs"] and p["unacked_msgs"] == 0,
              f"{what}: publisher {'completed' if qos == 2 else 'acked'} {p['acked_msgs']} of {p['sent_msgs']} "
              f"(unacked {p['unacked_msgs']})")
    if qos == 2:
        check(rep["protocol"]["qos2_received"] == d["received_msgs"] and d["received_msgs"] > 0,
              f"{what}: {rep['protocol']['qos2_received']} of {d['received_msgs']} copies arrived at QoS 2")
    check(d["expected_msgs"] == count * n_sub, f"{what}: expected {d['expected_msgs']} != {count * n_sub}")
    check(d["lost_msgs"] == 0, f"{what}: {d['lost_msgs']} messages lost")
    check(d["duplicated_msgs"] == 0 and d["misrouted_msgs"] == 0,
          f"{what}: {d['duplicated_msgs']} duplicated, {d['misrouted_msgs']} misrouted")
    check(rc == 0 and rep["result"]["pass"], f"{what}: loadgen verdict {rep['result']['verdict']}")


def main(args):
    qos, cases = args.qos, CASES[args.qos]
    with Lab(f"pubsub-qos{qos}") as lab, Dataplane(f"qos{qos}", lab) as dp:
        results = [(n_sub, count, *run_case(lab, qos, n_sub, count, rate)) for n_sub, count, rate in cases]
        stats = dp.stop()
        ev = events(stats)
        log(f"dataplane events: publish_accepted {ev['publish_accepted']} deliveries {ev['deliveries']} "
            f"deliveries_qos1 {ev['deliveries_qos1']} qos1_acked {ev['qos1_acked']} retransmits "
            f"{ev['qos1_retransmits']} giveups {ev['qos1_giveups']} publish_no_match {ev['publish_no_match']}")
        check_conservation(stats)
        for n_sub, count, rep, rc in results:
            check_case(qos, n_sub, count, rep, rc)
        if qos != 1:  # a retransmitted QoS 1 publish is accepted again; QoS 2 suppresses it by MsgId
            published = sum(c for _, c, _ in cases)
            copies = sum(s * c for s, c, _ in cases)
            check(ev["publish_accepted"] == published,
                  f"publish_accepted {ev['publish_accepted']} != {published} published")
            check(ev["deliveries"] == copies, f"deliveries {ev['deliveries']} != {copies} expected copies")


def extra_args(ap):
    ap.add_argument("--qos", type=int, choices=(0, 1, 2), required=True, help="publish and subscribe at this QoS")


if __name__ == "__main__":
    run_test(main, __doc__, extra_args)
