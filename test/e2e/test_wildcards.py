#!/usr/bin/env python3
"""Wildcard routing through the dataplane on the lab.

Part 1 (fanout-loadgen, its own MQTT matcher computes what each subscriber must get): 4 publishers
on sensors/{pub}/temp, then on sensors/{pub}/hum, each against subscribers with the filters
sensors/+/temp, sensors/#, sensors/1/+ and the exact sensors/2/hum: lost == 0, misrouted == 0,
no duplicates, and the expected count is what the filter selects.

Part 2 (raw MQTT-SN clients, all at once): publishers on sensors/{0..3}/{temp,hum} and
other/1/temp publish concurrently; one subscriber per filter receives exactly the matching
(topic, message) set, each message once; REGISTERs from the gateway for wildcard
subscriptions carry the topic names. Conservation holds after stop."""
import struct
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS1, PUBACK, PUBLISH, REGISTER, Dataplane, Lab, RawClient,  # noqa: E402
                     check, check_conservation, events, log, loadgen, m_publish, m_puback, m_regack, run_test)

PUBS = 4
COUNT = 200          # messages per publisher per loadgen run
FILTERS = ["sensors/+/temp", "sensors/#", "sensors/1/+", "sensors/2/hum"]
KINDS = ["temp", "hum"]


def matches(flt, topic):
    f, t = flt.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def loadgen_part(lab):
    rows = []
    for kind in KINDS:
        for fi, flt in enumerate(FILTERS):
            topic = f"sensors/{{pub}}/{kind}"
            n_match = sum(matches(flt, f"sensors/{p}/{kind}") for p in range(PUBS))
            rep, rc = loadgen(lab, ["-p", PUBS, "-s", 2, "--topic", topic, "--filter", flt, "--qos", 1,
                                    "--sub-qos", 1, "--rate", 200, "--count", COUNT, "--drain-ms", 1500,
                                    "--expect-no-loss", "--quiet", "--id-prefix", f"wc{kind[0]}{fi}"])
            d = rep["deliver"]
            line = (f"topic {topic:20} filter {flt:15}: expected {d['expected_msgs']:5} (want {n_match * COUNT * 2:5}) "
                    f"received {d['received_msgs']:5} lost {d['lost_msgs']} misrouted {d['misrouted_msgs']} "
                    f"dup {d['duplicated_msgs']} wrong topic {d['wrong_topic_msgs']} -> {rep['result']['verdict']}")
            log(line)
            rows.append((topic, flt, n_match, rep, rc, line))
    for topic, flt, n_match, rep, rc, line in rows:
        d = rep["deliver"]
        check(rep["publish"]["sent_msgs"] == PUBS * COUNT and rep["publish"]["acked_msgs"] == PUBS * COUNT,
              f"publishers sent/acked {rep['publish']['sent_msgs']}/{rep['publish']['acked_msgs']} of {PUBS * COUNT}: {line}")
        check(d["expected_msgs"] == n_match * COUNT * 2, f"loadgen's expectation differs from the filter's: {line}")
        check(d["lost_msgs"] == 0 and d["misrouted_msgs"] == 0 and d["duplicated_msgs"] == 0
              and d["wrong_topic_msgs"] == 0 and rc == 0, line)


class Sub:
    def __init__(self, lab, flt, cid):
        self.flt, self.c = flt, RawClient(lab, timeout=0.2)
        check(self.c.connect(cid) == 0, f"{cid}: CONNACK refused")
        self.tid, rc = self.c.subscribe(flt, F_QOS1)
        check(rc == 0, f"{cid}: SUBACK rc {rc} for {flt}")
        self.names = {}
        if "+" not in flt and "#" not in flt:
            self.names[self.tid] = flt
        self.got = []          # (topic, data)
        self.errors = []
        self.stop = False

    def run(self):
        quiet_since = None
        while True:
            m = self.c.recv(0.2)
            if m is None:
                if self.stop:
                    if quiet_since is None:
                        quiet_since = time.monotonic()
                    if time.monotonic() - quiet_since > 1.0:
                        return
                continue
            quiet_since = None
            mtype, body = m
            if mtype == REGISTER:
                tid, mid = struct.unpack("!HH", body[:4])
                self.names[tid] = body[4:].decode()
                self.c.send(m_regack(tid, mid))
            elif mtype == PUBLISH:
                flags, tid, mid = struct.unpack("!BHH", body[:5])
                if tid not in self.names:
                    self.errors.append(f"PUBLISH on unknown topic id {tid}")
                self.got.append((self.names.get(tid, f"?{tid}"), body[5:].decode(errors="replace")))
                if flags & 0x60 == F_QOS1:
                    self.c.send(m_puback(tid, mid))
            else:
                self.errors.append(f"unexpected message type 0x{mtype:02x} {body.hex()}")


def raw_part(lab):
    topics = [f"sensors/{p}/{k}" for p in range(PUBS) for k in KINDS] + ["other/1/temp"]
    per_topic = 5
    subs = [Sub(lab, flt, f"wcsub{i}") for i, flt in enumerate(FILTERS)]
    threads = [threading.Thread(target=s.run) for s in subs]
    for t in threads:
        t.start()
    pubs = []
    try:
        for p in range(PUBS + 1):
            c = RawClient(lab, timeout=1.0)
            check(c.connect(f"wcpub{p}") == 0, f"wcpub{p}: CONNACK refused")
            mine = [t for t in topics if t.split("/")[1] == str(p) and (p < PUBS or t.startswith("other"))]
            if p == PUBS:
                mine = ["other/1/temp"]
            pubs.append((c, {t: c.register(t) for t in mine}))
        # interleave: every publisher, every topic, round-robin
        for k in range(per_topic):
            for c, reg in pubs:
                for topic, tid in reg.items():
                    mid = c.next_id()
                    c.send(m_publish(tid, mid, f"{topic}#{k}".encode(), F_QOS1))
                    body = c.expect(PUBACK, 2.0)
                    rtid, rmid, rc = struct.unpack("!HHB", body)
                    check(rc == 0 and rmid == mid, f"PUBACK for {topic}#{k}: msg id {rmid} (sent {mid}) rc {rc}")
    finally:
        for s in subs:
            s.stop = True
        for t in threads:
            t.join(timeout=10)
        for c, _ in pubs:
            c.close()
        for s in subs:
            s.c.close()
    for s in subs:
        want = sorted((t, f"{t}#{k}") for t in topics if matches(s.flt, t) for k in range(per_topic))
        got = sorted(s.got)
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        dups = len(got) - len(set(got))
        bad = [(t, d) for t, d in got if not d.startswith(t + "#")]
        log(f"raw subscriber {s.flt:15}: want {len(want):2} got {len(got):2} missing {len(missing)} extra "
            f"{len(extra)} dup {dups} topic/payload mismatch {len(bad)} topics {sorted(set(t for t, _ in got))}")
        check(not s.errors, f"{s.flt}: {s.errors[:5]}")
        check(not missing and not extra and not dups and not bad,
              f"{s.flt}: missing {missing[:6]} extra {extra[:6]} duplicates {dups} mismatched {bad[:6]}")


def main(args):
    with Lab("wild") as lab, Dataplane("wild", lab) as dp:
        loadgen_part(lab)
        raw_part(lab)
        stats = dp.stop()
        ev = events(stats)
        log(f"dataplane events: publish_accepted {ev['publish_accepted']} publish_no_match {ev['publish_no_match']} "
            f"deliveries {ev['deliveries']} register_sent {ev['register_sent']} subscribe_accepted "
            f"{ev['subscribe_accepted']}")
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
