#!/usr/bin/env python3
"""QoS 2 end to end under loss, duplication and reordering (MQTT-SN 1.2 6.6 with MQTT's
PUBREC/PUBREL/PUBCOMP), with raw MQTT-SN clients in the lab namespace against a real dataplane.

Every datagram between each client and the appliance, both ways, goes through an impairing relay
in the client namespace (a UDP socket per client: loss, duplicates, random delay that reorders),
because this machine's kernel has no sch_netem for `tc qdisc ... netem`; the appliance sees each
client at its relay's address. A QoS 2 publisher sends N messages one after the other
(PUBLISH until PUBREC, then PUBREL until PUBCOMP, each resent every 0.3 s); a subscriber granted
QoS 2 answers every PUBLISH with PUBREC and every PUBREL with PUBCOMP, and hands a message to its
application the first time a gateway MsgId is seen (the receiver's side of the protocol). It also
remembers the MsgIds it has released: the relay doubles and delays datagrams, so a copy of a PUBLISH
(or a resend of it, its PUBREC late) can arrive after its PUBREL, when a receiver that forgot the
MsgId would take it for a new message; the gateway numbers every message anew (none of 40 reuses a
MsgId), so such a copy is the network's, answered with PUBREC and counted, not handed on (as TCP's
TIME_WAIT outlives late segments), and there are never more of them than the subscriber's relay
doubled or reordered datagrams. Must
hold: the application got every message exactly once, no payload arrived under two gateway
MsgIds (which would be a second delivery by the gateway), nothing stays in flight at the end, and
the appliance's counters balance (conservation)."""
import random
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, F_DUP, F_QOS2, PUBLISH, REGISTER, Dataplane, Lab, RawClient, check,  # noqa: E402
                     Relay, check_conservation, decode, events, log, m_connect, m_regack, msg, run_test, scaled)

PUBREC, PUBREL, PUBCOMP = 0x0F, 0x10, 0x0E
N = 40
RETRY = 0.3
LOSS, DUP, MAX_DELAY = 0.15, 0.15, 0.02


def m_pubx(mtype, mid):
    return msg(mtype, struct.pack("!H", mid))


def pump(sub, got, by_mid, released, completed):
    """Receive whatever the subscriber has: PUBLISH -> PUBREC (+ first sight goes to the app; a
    copy arriving after its PUBREL is counted in completed, not handed on), PUBREL -> PUBCOMP,
    REGISTER -> REGACK."""
    while True:
        try:
            data, _ = sub.sock.recvfrom(65535)
        except (BlockingIOError, TimeoutError, OSError):
            return
        mtype, body = decode(data)
        if mtype == PUBLISH:
            flags, tid, mid = struct.unpack("!BHH", body[:5])
            payload = body[5:]
            if flags & 0x60 == F_QOS2:
                if mid in completed:
                    completed[mid] += 1  # a late copy from the relay
                elif mid not in released:
                    released[mid] = payload
                    got.append(payload)
                    by_mid.setdefault(payload, set()).add(mid)
                sub.send(m_pubx(PUBREC, mid))
        elif mtype == PUBREL:
            mid = struct.unpack("!H", body[:2])[0]
            if released.pop(mid, None) is not None:
                completed.setdefault(mid, 0)
            sub.send(m_pubx(PUBCOMP, mid))
        elif mtype == REGISTER:
            tid, mid = struct.unpack("!HH", body[:4])
            sub.send(m_regack(tid, mid))


def publish_qos2(pub, sub, tid, k, state, deadline):
    """One QoS 2 exchange from the publisher, pumping the subscriber meanwhile."""
    mid = pub.next_id()
    payload = f"q2-{k:03d}".encode()
    phase, last = "publish", 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now - last >= RETRY:
            if phase == "publish":
                dup = F_DUP if last else 0
                pub.send(msg(PUBLISH, struct.pack("!BHH", F_QOS2 | dup, tid, mid) + payload))
            else:
                pub.send(m_pubx(PUBREL, mid))
            last = now
        m = pub.recv(0.02)
        pump(sub, *state)
        if m is None:
            continue
        mtype, body = m
        if mtype == PUBREC and struct.unpack("!H", body[:2])[0] == mid and phase == "publish":
            phase, last = "release", 0.0
        elif mtype == PUBCOMP and struct.unpack("!H", body[:2])[0] == mid and phase == "release":
            return True
    return False


def main(args):
    rng = random.Random(7)
    # The gateway resends each step of an exchange up to mqttsn.retry_limit times. With the default (5) and
    # 15 % loss each way, one of 40 exchanges is given up in about 2 % of runs (each try is lost with
    # probability ~0.28); this test is about exactly once under loss, so the gateway gets 20 tries (give-ups
    # and what follows them have their own unit tests, in test_mqttsn_broker.c).
    overrides = {"mqttsn.retry_interval_ms": 300, "mqttsn.retry_limit": 20}
    with Lab("qos2") as lab, Dataplane("qos2", lab, overrides=overrides) as dp:
        sub, pub = RawClient(lab, timeout=0.05), RawClient(lab, timeout=0.05)
        relays = [Relay(lab, rng, LOSS, DUP, MAX_DELAY) for _ in range(2)]
        try:
            # Connect, subscribe and register on the clean path; then through the relays (a new
            # address per client: CleanSession=0 sessions moved there).
            check(sub.connect("q2-sub", flags=0) == 0, "subscriber: CONNACK refused")
            sub_tid, rc = sub.subscribe("e2e/q2", F_QOS2)
            check(rc == 0, f"SUBACK rc {rc}")
            check(pub.connect("q2-pub", flags=0) == 0, "publisher: CONNACK refused")
            tid = pub.register("e2e/q2")
            for c, r in zip((sub, pub), relays):
                r.start()
                c.gw = r.addr
            for c, cid in ((sub, "q2-sub"), (pub, "q2-pub")):
                for _ in range(50):  # CONNECT through the impaired path until its CONNACK
                    c.send(m_connect(cid, flags=0))
                    m = c.recv(0.3)
                    while m is not None and m[0] != CONNACK:
                        if m[0] == REGISTER:
                            c.regack(m[1])
                        m = c.recv(0.3)
                    if m is not None:
                        break
                check(m is not None and m[1][0] == 0, f"{cid}: no CONNACK through the relay")
            sub.sock.setblocking(False)
            got, by_mid, released, completed = [], {}, {}, {}
            state = (got, by_mid, released, completed)
            deadline = time.monotonic() + scaled(120)
            done = 0
            for k in range(N):
                if not publish_qos2(pub, sub, tid, k, state, deadline):
                    break
                done += 1
            # Drain: the subscriber answers until nothing is left in flight.
            end = time.monotonic() + scaled(15)
            while time.monotonic() < end:
                pump(sub, *state)
                s = dp.snapshot()
                if sum(w.get("inflight", 0) for w in s["workers"]) == 0 and len(got) >= done:
                    break
                time.sleep(0.05)
        finally:
            for r in relays:
                if r.is_alive():
                    r.stop()
            sub.close()
            pub.close()
        log(f"relays (subscriber, publisher): {[r.counts for r in relays]}")
        want = [f"q2-{k:03d}".encode() for k in range(N)]
        twice = {p.decode(): sorted(m) for p, m in by_mid.items() if len(m) > 1}
        log(f"published {done}/{N} exchanges; the subscriber's application got {len(got)} messages, "
            f"{len(set(got))} distinct; payloads under two gateway MsgIds: {twice or 'none'}; copies of a "
            f"PUBLISH after its PUBREL (the relay's): {sum(completed.values())}")
        check(done == N, f"only {done} of {N} QoS 2 exchanges completed")
        check(sorted(got) == want, f"application got {len(got)} ({len(set(got))} distinct), want each of {N} once")
        check(not twice, f"delivered twice by the gateway: {twice}")
        # A late copy is one the relay doubled, or a retransmission of the PUBLISH (its PUBREC late) that
        # the relay delayed past the PUBREL: never more than the two together.
        late, rc = sum(completed.values()), relays[0].counts
        check(late <= rc["doubled"] + rc["reordered"], f"{late} copies of a PUBLISH after its PUBREL, more than "
              f"the subscriber relay's {rc['doubled']} doubled and {rc['reordered']} reordered datagrams")
        stats = dp.stop()
        ev = events(stats)
        shown = {k: ev[k] for k in ("qos2_received", "qos2_released", "publish_dup_suppressed", "deliveries_qos2",
                                    "qos1_retransmits", "qos2_pubrel_resent", "qos2_completed", "qos1_giveups")}
        log(f"events: {shown}")
        check(ev["qos2_received"] == N and ev["deliveries_qos2"] == N and ev["qos2_completed"] == N,
              f"want {N} received, delivered and completed: {shown}")
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
