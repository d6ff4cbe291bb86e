#!/usr/bin/env python3
"""The pipeline with its roles on separate lcores (rx+tx on one, a worker on each of two more, all
three mapped onto CPU 1 with --lcores): the rx stage dispatches over the worker rings by client,
every accepted publish is handed to the other worker over its peer ring, and 4 QoS 1 publishers
-> 10 subscribers lose, duplicate and misroute nothing; both conservation sums hold after stop.
(Every other e2e test runs the single-lcore, run-to-completion mapping.)"""
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Dataplane, Lab, check, check_conservation, events, log, loadgen, run_test  # noqa: E402

PUBLISHERS, SUBSCRIBERS, COUNT = 4, 10, 2000


def main(args):
    roles = {"lcores": [{"lcore": 1, "roles": ["rx", "tx"]}, {"lcore": 2, "roles": ["worker"]},
                        {"lcore": 3, "roles": ["worker"]}]}
    with Lab("split") as lab:
        dp = Dataplane("split", lab, overrides=roles)
        i = dp.cmd.index("-l")  # three lcores on this 2-core machine: lcores 1..3 share CPU 1
        dp.cmd[i:i + 2] = ["--lcores", "0@0,1@1,2@1,3@1"]
        with dp:
            rep, rc = loadgen(lab, ["-p", PUBLISHERS, "-s", SUBSCRIBERS, "--topic", "split/{pub}/data",
                                    "--filter", "split/+/data", "--qos", 1, "--sub-qos", 0, "--rate", 500,
                                    "--count", COUNT, "--drain-ms", 3000, "--expect-no-loss", "--id-prefix", "sp"])
            d, p = rep["deliver"], rep["publish"]
            log(f"{PUBLISHERS} -> {SUBSCRIBERS}: sent {p['sent_msgs']}, expected {d['expected_msgs']} received "
                f"{d['received_msgs']} lost {d['lost_msgs']} duplicated {d['duplicated_msgs']} misrouted "
                f"{d['misrouted_msgs']}; verdict {rep['result']['verdict']}")
            stats = dp.stop()
        ev = events(stats)
        log(f"dataplane: workers {len(stats['workers'])}, publish_accepted {ev['publish_accepted']}, peer_forwards "
            f"{ev['peer_forwards']}, peer_ring_full {ev['peer_ring_full']}, deliveries {ev['deliveries']}")
        check_conservation(stats)
        check(len(stats["workers"]) == 2, f"{len(stats['workers'])} workers, expected 2")
        check(rc == 0 and rep["result"]["pass"], f"loadgen verdict {rep['result']['verdict']}")
        check(d["lost_msgs"] == 0 and d["duplicated_msgs"] == 0 and d["misrouted_msgs"] == 0,
              f"lost {d['lost_msgs']}, duplicated {d['duplicated_msgs']}, misrouted {d['misrouted_msgs']}")
        check(ev["publish_accepted"] == PUBLISHERS * COUNT,
              f"publish_accepted {ev['publish_accepted']} != {PUBLISHERS * COUNT}")
        check(ev["peer_forwards"] == ev["publish_accepted"] and ev["peer_ring_full"] == 0,
              f"peer_forwards {ev['peer_forwards']} (ring full {ev['peer_ring_full']}) != one per accepted publish")
        check(ev["deliveries"] == PUBLISHERS * COUNT * SUBSCRIBERS,
              f"deliveries {ev['deliveries']} != {PUBLISHERS * COUNT * SUBSCRIBERS}")


if __name__ == "__main__":
    run_test(main, __doc__)
