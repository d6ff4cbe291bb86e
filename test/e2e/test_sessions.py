#!/usr/bin/env python3
"""Sessions past their connection on the lab (MQTT-SN 1.2 sections 6.3, 6.12, 6.14), with raw
MQTT-SN clients (UDP sockets in the client namespace) against a real dataplane:

1. CleanSession=0 survives DISCONNECT: a subscriber (QoS 1) disconnects; a QoS 1 and a QoS 0
   message are published meanwhile; its CONNECT with CleanSession=0 from the same address gets
   the CONNACK, then a REGISTER of the topic under the id of its SUBACK (spec 6.10: the client
   may be a new process that lost its topic table), and after its REGACK the QoS 1 message under
   that id (no SUBSCRIBE again), and not the QoS 0 one. A CleanSession=1 subscriber's DISCONNECT
   ends it. The same from a new source port (NAT rebinding, the address proof on): CONNACK, the
   proof REGISTER, after its echo the REGISTER of the kept id, after that REGACK the PUBLISH.
2. A sleeping client (DISCONNECT with a duration) gets the three messages published while it
   slept, in order, after its PINGREQ carrying its ClientId, then a PINGRESP.
3. Will: a client that gave a will at CONNECT (WILLTOPICREQ/WILLTOPIC/WILLMSGREQ/WILLMSG) and
   then falls silent is lost after 1.5 x its keep alive; a watcher receives the will message.
   A second client with a will that DISCONNECTs cleanly publishes nothing.
4. First contact: a client at an address the appliance never heard ARP from (its host already
   knows the appliance's MAC, so it sends no ARP request) gets its CONNACK: the reply waits for
   the appliance's own ARP request to be answered instead of being dropped (frame_awaits_arp).
Counters (session_kept_offline, session_resumed, delivery_buffered, session_asleep,
session_awake, will_stored, will_published, register_sent) and conservation are checked after stop."""
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, DISCONNECT, F_QOS0, F_QOS1, F_WILL, PINGRESP, PUBLISH, REGISTER,  # noqa: E402
                     WILLMSGREQ, WILLTOPICREQ, Dataplane, Lab, RawClient, check, check_conservation, events,
                     log, m_connect, m_disconnect, m_pingreq, m_puback, m_publish, m_willmsg, m_willtopic,
                     run_test, scaled, wait_until)

KEEPALIVE = 2  # the will's client: lost after 3 s of silence


def publish_body(body):
    flags, tid, mid = struct.unpack("!BHH", body[:5])
    return flags, tid, mid, body[5:]


def wait_event(dp, name, want, what):
    return wait_until(what, lambda: (lambda s: s if events(s)[name] >= want else None)(dp.snapshot()),
                      timeout=scaled(10))


def resumed_until_publish(c):
    """What a resumed CONNECT brings, in order, up to the first PUBLISH (included): (type, topic id,
    name) for CONNACK (rc as the id), gateway REGISTERs (answered) and the PUBLISH (its body)."""
    seen, deadline = [], time.monotonic() + scaled(5)
    while True:
        left = deadline - time.monotonic()
        check(left > 0, f"no PUBLISH within 5 s after {seen}")
        m = c.recv(left)
        if m is None:
            continue
        mtype, body = m
        if mtype == CONNACK:
            seen.append(("CONNACK", body[0], None))
        elif mtype == REGISTER:
            tid, _ = c.regack(body)
            seen.append(("REGISTER", tid, c.gw_registers[-1][2]))
        elif mtype == PUBLISH:
            seen.append(("PUBLISH", struct.unpack("!H", body[1:3])[0], None))
            return seen, body
        else:
            check(False, f"unexpected 0x{mtype:02x} {body.hex()} after {seen}")


def persistent_session(dp, lab):
    sub, pub = RawClient(lab), RawClient(lab)
    try:
        check(sub.connect("sess-sub", flags=0) == 0, "subscriber: CONNACK refused")
        tid, rc = sub.subscribe("e2e/sess", F_QOS1)
        check(rc == 0, f"SUBACK rc {rc}")
        check(pub.connect("sess-pub") == 0, "publisher: CONNACK refused")
        ptid = pub.register("e2e/sess")
        sub.send(m_disconnect())
        sub.expect(DISCONNECT)
        wait_event(dp, "session_kept_offline", 1, "the CleanSession=0 session kept after DISCONNECT")
        pub.send(m_publish(ptid, pub.next_id(), b"kept-q1", F_QOS1))
        pub.expect(0x0D)  # PUBACK
        pub.send(m_publish(ptid, 0, b"lost-q0", F_QOS0))
        wait_event(dp, "delivery_buffered", 1, "the QoS 1 copy buffered for the disconnected subscriber")
        wait_event(dp, "delivery_offline_qos0", 1, "the QoS 0 copy not kept")
        sub.expect_nothing(0.3)
        sub.send(m_connect("sess-sub", flags=0))
        seen, body = resumed_until_publish(sub)
        flags, ptid2, mid, data = publish_body(body)
        log(f"resumed: {seen}; PUBLISH topic id {ptid2} (SUBACK gave {tid}), qos flags 0x{flags:02x}, {data!r}")
        check(seen == [("CONNACK", 0, None), ("REGISTER", tid, "e2e/sess"), ("PUBLISH", tid, None)],
              f"resumed at the same address: {seen}, want CONNACK, REGISTER of id {tid}, PUBLISH under it")
        check(data == b"kept-q1" and flags & 0x60 == F_QOS1, f"resumed delivery {data!r} flags 0x{flags:02x}")
        sub.send(m_puback(ptid2, mid))
        sub.expect_nothing(0.5)  # not the QoS 0 one
        pub.send(m_publish(ptid, 0, b"live", F_QOS0))
        _, _, _, data = publish_body(sub.expect(PUBLISH))
        check(data == b"live", f"live delivery after resume: {data!r}")
        # CleanSession=1 now: the DISCONNECT ends it.
        check(sub.connect("sess-sub") == 0, "clean CONNACK refused")
        sub.send(m_disconnect())
        sub.expect(DISCONNECT)
    finally:
        sub.close()
        pub.close()


def persistent_new_port(dp, lab):
    """The same from a new source port (a restarted client behind NAT): the proof first."""
    sub, pub, moved = RawClient(lab), RawClient(lab), RawClient(lab)
    try:
        check(sub.connect("sess-nat", flags=0) == 0, "subscriber: CONNACK refused")
        tid, rc = sub.subscribe("e2e/sess/nat", F_QOS1)
        check(rc == 0, f"SUBACK rc {rc}")
        check(pub.connect("sess-nat-pub") == 0, "publisher: CONNACK refused")
        ptid = pub.register("e2e/sess/nat")
        ev0 = events(dp.snapshot())
        sub.send(m_disconnect())
        sub.expect(DISCONNECT)
        wait_event(dp, "session_kept_offline", ev0["session_kept_offline"] + 1, "the session kept after DISCONNECT")
        pub.send(m_publish(ptid, pub.next_id(), b"nat-q1", F_QOS1))
        pub.expect(0x0D)  # PUBACK
        wait_event(dp, "delivery_buffered", ev0["delivery_buffered"] + 1, "the QoS 1 copy buffered")
        moved.send(m_connect("sess-nat", flags=0))
        seen, body = resumed_until_publish(moved)
        flags, ptid2, mid, data = publish_body(body)
        log(f"resumed from port {moved.sock.getsockname()[1]}: {seen}; {data!r}")
        check([(k, n) for k, _, n in seen] == [("CONNACK", None), ("REGISTER", "$SYS/proof"),
                                               ("REGISTER", "e2e/sess/nat"), ("PUBLISH", None)]
              and seen[0][1] == 0 and seen[2][1] == tid and seen[3][1] == tid,
              f"resumed from a new port: {seen}, want CONNACK, the proof, REGISTER of id {tid}, PUBLISH under it")
        check(data == b"nat-q1" and flags & 0x60 == F_QOS1, f"resumed delivery {data!r} flags 0x{flags:02x}")
        moved.send(m_puback(ptid2, mid))
        moved.expect_nothing(0.3)
        sub.expect_nothing(0.2)
        ev = events(dp.snapshot())
        check(ev["register_sent"] - ev0["register_sent"] == 1, "one REGISTER of a kept id, "
              f"register_sent {ev0['register_sent']} -> {ev['register_sent']}")
        moved.send(m_disconnect())
        moved.expect(DISCONNECT)
    finally:
        sub.close()
        pub.close()
        moved.close()


def sleeping_client(dp, lab):
    sl, pub = RawClient(lab), RawClient(lab)
    try:
        check(sl.connect("sleepy", keepalive=30) == 0, "sleeper: CONNACK refused")
        tid, rc = sl.subscribe("e2e/sleep", F_QOS1)
        check(rc == 0, f"SUBACK rc {rc}")
        check(pub.connect("sleep-pub") == 0, "publisher: CONNACK refused")
        ptid = pub.register("e2e/sleep")
        sl.send(m_disconnect(60))
        sl.expect(DISCONNECT)
        wait_event(dp, "session_asleep", 1, "the client asleep")
        for k in range(3):
            pub.send(m_publish(ptid, pub.next_id(), f"z{k}".encode(), F_QOS1))
            pub.expect(0x0D)
        wait_event(dp, "delivery_buffered", 4, "three copies buffered for the sleeping client")
        sl.expect_nothing(0.3)
        sl.send(m_pingreq(b"sleepy"))
        got = []
        for _ in range(3):
            flags, t, mid, data = publish_body(sl.expect(PUBLISH))
            got.append(data)
            sl.send(m_puback(t, mid))
        sl.expect(PINGRESP)
        log(f"woken: {got} then PINGRESP")
        check(got == [b"z0", b"z1", b"z2"], f"buffered copies {got}, want z0 z1 z2 in order")
        sl.send(m_pingreq(b"sleepy"))  # nothing buffered: PINGRESP at once
        sl.expect(PINGRESP)
        sl.send(m_disconnect())
        sl.expect(DISCONNECT)
    finally:
        sl.close()
        pub.close()


def connect_with_will(c, client_id, topic, message, keepalive):
    c.send(m_connect(client_id, keepalive, F_WILL | 0x04))
    c.expect(WILLTOPICREQ)
    c.send(m_willtopic(topic, F_QOS0))
    c.expect(WILLMSGREQ)
    c.send(m_willmsg(message))
    body = c.expect(CONNACK)
    check(body[0] == 0, f"{client_id}: CONNACK rc {body[0]} after the will")


def will(dp, lab):
    watcher, dev, polite = RawClient(lab), RawClient(lab), RawClient(lab)
    try:
        check(watcher.connect("watcher", keepalive=60) == 0, "watcher: CONNACK refused")
        tid, rc = watcher.subscribe("e2e/will/+", F_QOS0)
        check(rc == 0, f"SUBACK rc {rc}")
        connect_with_will(polite, "polite", "e2e/will/polite", b"should-not-appear", 60)
        polite.send(m_disconnect())
        polite.expect(DISCONNECT)
        connect_with_will(dev, "dev", "e2e/will/dev", b"dev-lost", KEEPALIVE)
        t0 = time.monotonic()
        # The watcher's own keep alive is long; the dev stays silent.
        flags, t, mid, data = publish_body(watcher.expect(PUBLISH, timeout=1.5 * KEEPALIVE + 5))
        log(f"will after {time.monotonic() - t0:.2f} s of silence: {data!r}")
        check(data == b"dev-lost", f"will message {data!r}")
        check(time.monotonic() - t0 >= 1.5 * KEEPALIVE - 0.3, "the will came before the keep alive ran out")
        names = [n for _, _, n in watcher.gw_registers if n != "$SYS/proof"]
        check(names == ["e2e/will/dev"], f"watcher was sent REGISTERs for {names}, want only e2e/will/dev")
        watcher.expect_nothing(0.5)
    finally:
        watcher.close()
        dev.close()
        polite.close()


def first_contact(dp, lab):
    ip = lab.client_ips[1]
    # The client host has the appliance's MAC already (as after a dataplane restart): no ARP request
    # from this address reaches the appliance before its CONNECT does.
    lab.run(["ip", "neigh", "replace", lab.appliance_ip, "lladdr", dp.port_mac(), "dev", lab.cl_if,
             "nud", "permanent"])
    c = RawClient(lab, bind_ip=ip)
    try:
        check(c.connect("first-contact") == 0, f"CONNACK refused to {ip}")
    finally:
        c.close()
    ev = events(dp.snapshot())
    log(f"first contact from {ip}: CONNACK received; frame_awaits_arp {ev['frame_awaits_arp']}")
    check(ev["frame_awaits_arp"] >= 1, "the CONNACK did not wait for ARP (was the address known already?)")


def main(args):
    with Lab("sess", clients=2) as lab, Dataplane("sess", lab) as dp:
        first_contact(dp, lab)
        persistent_session(dp, lab)
        persistent_new_port(dp, lab)
        sleeping_client(dp, lab)
        will(dp, lab)
        stats = dp.stop()
        ev = events(stats)
        shown = {k: ev[k] for k in ("session_kept_offline", "session_resumed", "delivery_buffered",
                                    "delivery_offline_qos0", "session_asleep", "session_awake",
                                    "will_stored", "will_published", "session_expired", "register_sent")}
        log(f"events: {shown}")
        # sess-sub once, sess-nat at both of its DISCONNECTs
        check(ev["session_kept_offline"] == 3 and ev["session_resumed"] == 2, f"persistent session: {shown}")
        check(ev["delivery_buffered"] == 5 and ev["delivery_offline_qos0"] == 1, f"buffering: {shown}")
        # the kept ids of the two resumed sessions, and the will's name to the wildcard watcher
        check(ev["register_sent"] == 3, f"gateway REGISTERs (proofs aside): {shown}")
        check(ev["session_asleep"] == 1 and ev["session_awake"] == 2, f"sleep: {shown}")
        check(ev["will_stored"] == 2 and ev["will_published"] == 1 and ev["session_expired"] == 1, f"will: {shown}")
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
