#!/usr/bin/env python3
"""A persistent session moving between workers (MQTT-SN 1.2 section 6.3, CleanSession=0; NAT
rebinding): the dataplane runs two worker lcores (rx+tx on one lcore, a worker on each of two
more), and the rx stage hands each client to a worker by its source address and port.

1. A CleanSession=0 subscriber (exact filter at QoS 1, wildcard filter at QoS 2) disconnects; a
   QoS 1 and a QoS 2 message are published meanwhile (buffered for it on its worker). It comes
   back from a new source port that the dataplane hands to the other worker (found by probing:
   a throwaway client's session shows up in that worker's count): the new worker claims the
   ClientId over the hand-over rings, takes the whole session (subscriptions, topic ids, the
   buffered copies) and answers the CONNECT. The client gets both messages exactly once, in
   order, with the topic id its SUBACK gave for the exact one, each PUBLISH after a gateway
   REGISTER of its id (the kept one of the exact topic too: spec 6.10, the client may have lost
   its table at a reconnect), then a new publish once. The session now counts on the other
   worker; handover_done is 1.
2. A clean CONNECT of the same ClientId from the first port (the first worker) ends the session
   on the other worker (handover_ended): one session of that ClientId is left, with no
   subscriptions, and the publish after it reaches neither address.
3. Publishes while it moves: with the address proof off (copies to a resumed session's new
   address otherwise wait for its echo and are dropped meanwhile, as on one worker), a second
   CleanSession=0 subscriber is away while a publisher on each worker publishes a numbered QoS 1
   stream, a few messages slowly, then a burst of 100 sent without waiting (mqttsn.offline_buffer
   255 here, so none is dropped while the subscriber is away), as the subscriber comes back
   from a port of the other worker. Every message the publishers got a PUBACK for arrives exactly
   once, whether it was buffered on the old worker and travelled with the session, or was matched
   on the new one after the cut, and none before the REGISTER of the stream's kept topic id.
4. A sleeping client wakes from a new source port (spec 6.14 behind NAT: the binding changed while
   it slept): a CleanSession=0 subscriber at QoS 1 goes to sleep (DISCONNECT with a duration) and
   five QoS 1 messages are buffered for it on its worker. Its PINGREQ with the ClientId comes from
   a port of the other worker, which claims the session as for a CONNECT. With the address proof
   on, the proof REGISTER answers the PINGREQ; after the client's echo every buffered copy comes
   exactly once, in order, then PINGRESP (nothing reaches the old port). It is asleep again at the
   new address: a message published then is buffered, and its next PINGREQ gets it, then PINGRESP.
5. A wireless node behind a forwarder (spec 5.5: its identity is the forwarder's address and its
   node id) moves to another forwarder: CleanSession=0, subscribed at QoS 1, it disconnects, a
   copy is buffered for it, and its encapsulated CONNECT comes through a forwarder socket the
   dataplane hands to the other worker. That worker claims the session for the node; everything
   comes back encapsulated for it: CONNACK, the address proof, the REGISTER of its kept id, the
   buffered copy under the SUBACK's topic id, then a live one. Nothing reaches the old forwarder.
Nothing fails (handover_failed 0); both conservation sums hold after stop."""
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, DISCONNECT, F_CLEAN, F_QOS1, F_QOS2, PINGRESP, PUBACK, PUBLISH, REGACK,  # noqa: E402
                     REGISTER, SUBACK, Dataplane, Lab, RawClient, TestFailure, check, check_conservation, decode,
                     events, log, m_connect, m_disconnect, m_pingreq, m_puback, m_publish, m_register, m_subscribe,
                     msg, run_test, scaled, wait_until)
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

PUBREC, PUBREL, PUBCOMP = 0x0F, 0x10, 0x0E


REPLY_S = 6.0  # the lcores share one CPU with each other and whatever else runs: replies may take a while


def m_pubx(mtype, mid):
    return msg(mtype, struct.pack("!H", mid))


def connect(c, client_id, flags=F_CLEAN):
    c.send(m_connect(client_id, 60, flags))
    return c.expect(CONNACK, timeout=REPLY_S)[0]


def subscribe(c, topic, qos_flag):
    mid = c.next_id()
    c.send(m_subscribe(topic, mid, qos_flag))
    _, tid, rmid, rc = struct.unpack("!BHHB", c.expect(SUBACK, timeout=REPLY_S))
    check(rmid == mid, f"SUBACK msg id {rmid} != {mid}")
    return tid, rc


def register(c, topic):
    mid = c.next_id()
    c.send(m_register(topic, mid))
    tid, rmid, rc = struct.unpack("!HHB", c.expect(REGACK, timeout=REPLY_S))
    check(rmid == mid and rc == 0, f"REGACK msg id {rmid} rc {rc} for {topic}")
    return tid


def worker_sessions(dp):
    return [w["sessions"] for w in dp.snapshot()["workers"]]


def wait_event(dp, name, want, what):
    return wait_until(what, lambda: (lambda s: s if events(s)[name] >= want else None)(dp.snapshot()),
                      timeout=scaled(10))


def worker_of(dp, before, what):
    """The worker whose session count grew by one since `before`."""
    def grown():
        now = worker_sessions(dp)
        up = [i for i, (a, b) in enumerate(zip(before, now)) if b == a + 1]
        return up[0] + 1 if len(up) == 1 else None
    return wait_until(what, grown, timeout=scaled(5)) - 1


def client_on(dp, lab, want, tries=32):
    """A client socket whose address the dataplane hands to worker `want`."""
    for k in range(tries):
        c = RawClient(lab)
        before = worker_sessions(dp)
        check(connect(c, f"ho-probe-{k}") == 0, "probe: CONNACK refused")
        w = worker_of(dp, before, "the probe's session counted on a worker")
        c.send(m_disconnect())  # CleanSession=1: the probe's session ends
        c.expect(DISCONNECT, timeout=REPLY_S)
        wait_until("the probe's session gone", lambda: sum(worker_sessions(dp)) == sum(before), timeout=scaled(5))
        if w == want:
            log(f"probe {k}: port {c.sock.getsockname()[1]} goes to worker {w}")
            return c
        c.close()
    raise TestFailure(f"no source port of {tries} tried went to worker {want}")


def resent(c, flags, mid):
    """A PUBLISH sent again (DUP) under a MsgId the client has seen: our acknowledgement was late or
    lost (QoS 1 and 2 allow it); it is answered again but is not another copy. A copy the fan-out
    made twice would come under a new MsgId."""
    seen = c.__dict__.setdefault("seen_mids", set())
    if flags & 0x80 and mid in seen:
        c.__dict__["resends"] = c.__dict__.get("resends", 0) + 1
        return True
    seen.add(mid)
    return False


def trace(c, kind, tid, name=None):
    """What client c got since it connected: gateway REGISTERs and PUBLISHes (normal topic ids)."""
    c.__dict__.setdefault("trace", []).append((kind, tid, name))


def registered_first(c):
    """Whether every PUBLISH under a normal topic id came after a gateway REGISTER of that id."""
    known = set()
    for kind, tid, _ in c.__dict__.get("trace", []):
        if kind == "REGISTER":
            known.add(tid)
        elif tid not in known:
            return False
    return True


def receive(c, n, timeout=5.0):
    """n PUBLISHes (data, topic id, QoS) as the client gets them, acknowledged (QoS 1 PUBACK, QoS 2
    PUBREC then PUBCOMP for the PUBREL); gateway REGISTERs answered; DUP resends not counted."""
    got, deadline = [], time.monotonic() + scaled(timeout)
    while len(got) < n:
        left = deadline - time.monotonic()
        check(left > 0, f"{len(got)} of {n} PUBLISHes within {timeout} s: {got}")
        m = c.recv(left)
        if m is None:
            continue
        mtype, body = m
        if mtype == REGISTER:
            trace(c, "REGISTER", c.regack(body)[0], c.gw_registers[-1][2])
        elif mtype == PUBLISH:
            flags, tid, mid = struct.unpack("!BHH", body[:5])
            qos = (flags >> 5) & 3
            if flags & 3 == 0:
                trace(c, "PUBLISH", tid)
            if not resent(c, flags, mid):
                got.append((body[5:], tid, qos))
            if qos == 1:
                c.send(m_puback(tid, mid))
            elif qos == 2:
                c.send(m_pubx(PUBREC, mid))
        elif mtype == PUBREL:
            c.send(m_pubx(PUBCOMP, struct.unpack("!H", body[:2])[0]))
        else:
            raise TestFailure(f"unexpected message 0x{mtype:02x} {body.hex()}")
    return got


def quiet(c, wait=0.8):
    """Nothing but the tail of a QoS 2 exchange (PUBREL) or a resend comes any more."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        m = c.recv(max(0.01, deadline - time.monotonic()))
        if m is None:
            continue
        if m[0] == PUBREL:
            c.send(m_pubx(PUBCOMP, struct.unpack("!H", m[1][:2])[0]))
            continue
        if m[0] == PUBLISH:
            flags, tid, mid = struct.unpack("!BHH", m[1][:5])
            if resent(c, flags, mid):
                c.send(m_pubx(PUBREC, mid) if flags & 0x60 == F_QOS2 else m_puback(tid, mid))
                continue
        raise TestFailure(f"expected nothing more, got 0x{m[0]:02x} {m[1].hex()}")


def publish_qos2(pub, tid, data):
    mid = pub.next_id()
    pub.send(m_publish(tid, mid, data, F_QOS2))
    pub.expect(PUBREC, timeout=REPLY_S)
    pub.send(m_pubx(PUBREL, mid))
    pub.expect(PUBCOMP, timeout=REPLY_S)


SLOW, BURST = 5, 100  # per publisher: messages before the move, then a burst sent as the CONNECT goes


def streams(dp, lab):
    """Part 3: two numbered QoS 1 streams, one from each worker, while the subscriber moves."""
    sub = client_on(dp, lab, 0)
    pubs = [client_on(dp, lab, w) for w in (0, 1)]
    moved = None
    try:
        check(connect(sub, "streamer", flags=0) == 0, "streamer: CONNACK refused")
        tid, rc = subscribe(sub, "e2e/ho/stream", F_QOS1)
        check(rc == 0, f"SUBACK rc {rc}")
        ptids = []
        for w, p in enumerate(pubs):
            check(connect(p, f"stream-pub-{w}") == 0, "stream publisher: CONNACK refused")
            ptids.append(register(p, "e2e/ho/stream"))
        moved = client_on(dp, lab, 1)
        sub.send(m_disconnect())
        sub.expect(DISCONNECT, timeout=REPLY_S)
        acked, errors, go, sent_n = [], [], threading.Event(), [0, 0]

        def run(w):
            try:
                p = pubs[w]
                for k in range(SLOW):  # buffered on worker 0 for the away subscriber
                    data = f"w{w}-{k}".encode()
                    p.send(m_publish(ptids[w], p.next_id(), data, F_QOS1))
                    p.expect(PUBACK, timeout=5)
                    acked.append(data)
                go.wait(scaled(10))
                sent = {}
                for k in range(SLOW, SLOW + BURST):  # PUBACKs read after the burst
                    mid = p.next_id()
                    sent[mid] = f"w{w}-{k}".encode()
                    p.send(m_publish(ptids[w], mid, sent[mid], F_QOS1))
                    sent_n[w] += 1
                    time.sleep(0.0005)  # ~1000 a second: the move happens in the middle
                while sent:
                    body = p.expect(PUBACK, timeout=5)
                    _, mid, rc = struct.unpack("!HHB", body)
                    if rc == 0 and mid in sent:
                        acked.append(sent.pop(mid))
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(repr(e))

        threads = [threading.Thread(target=run, args=(w,)) for w in (0, 1)]
        for t in threads:
            t.start()
        wait_until("the slow part of both streams acknowledged", lambda: len(acked) >= 2 * SLOW or errors,
                   timeout=scaled(10))
        go.set()
        # The CONNECT goes while the bursts are on their way: copies before the cut are buffered on
        # worker 0 (or still in its peer ring), the ones after it go live from worker 1.
        wait_until("both bursts under way", lambda: min(sent_n) >= BURST // 3 or errors, timeout=scaled(10),
                   step=0.0005)
        moved.send(m_connect("streamer", flags=0))
        got, connack = [], None
        deadline = time.monotonic() + scaled(20)
        while (any(t.is_alive() for t in threads) or len(got) < len(acked)) and time.monotonic() < deadline:
            m = moved.recv(0.2)
            if m is None:
                continue
            if m[0] == CONNACK:
                connack = m[1][0]
            elif m[0] == PUBLISH:
                check(connack is not None, "a PUBLISH before the CONNACK")
                flags, t_id, mid = struct.unpack("!BHH", m[1][:5])
                trace(moved, "PUBLISH", t_id)
                if not resent(moved, flags, mid):
                    got.append(m[1][5:])
                moved.send(m_puback(t_id, mid))
            elif m[0] == REGISTER:
                trace(moved, "REGISTER", moved.regack(m[1])[0], moved.gw_registers[-1][2])
        for t in threads:
            t.join()
        check(not errors, f"publishers: {errors}")
        check(connack == 0, f"CONNACK rc {connack} from the new port")
        quiet(moved, 1.0)
        snap = dp.snapshot()
        ev = events(snap)
        log("streams: " + ", ".join(f"{k} {ev[k]}" for k in (
            "handover_done", "delivery_buffered", "delivery_buffer_full", "delivery_inflight_full", "deliveries",
            "qos1_retransmits", "peer_forwards", "peer_ring_full", "handover_cut_forced")) +
            f"; drops {snap['totals']['dropped']}")
        dups = sorted({g for g in got if got.count(g) > 1})
        missing = sorted(set(acked) - set(got))
        log(f"streams: {len(acked)} acknowledged, {len(got)} received, {len(dups)} duplicated, "
            f"{len(missing)} missing ({moved.__dict__.get('resends', 0)} DUP resends of a late PUBACK)")
        check(not dups, f"duplicated: {dups[:10]}")
        check(not missing, f"missing: {missing[:10]}")
        regs = [r for r in moved.__dict__.get("trace", []) if r[0] == "REGISTER"]
        check(regs[:1] == [("REGISTER", tid, "e2e/ho/stream")] and registered_first(moved),
              f"the stream's kept id {tid} REGISTERed before its first PUBLISH: {moved.__dict__.get('trace', [])[:4]}")
        check(len(got) == len(acked) == 2 * (SLOW + BURST), f"{len(got)} received of {len(acked)} acknowledged")
    finally:
        sub.close()
        for p in pubs:
            p.close()
        if moved:
            moved.close()


def wake_until_pingresp(c, client_id, timeout=10.0):
    """PINGREQ with the ClientId, then everything up to its PINGRESP: gateway REGISTERs answered (the
    address proof among them), PUBLISHes acknowledged. Returns (copies in arrival order, the order of
    message types seen); DUP resends are not copies."""
    c.send(m_pingreq(client_id))
    got, seen, deadline = [], [], time.monotonic() + scaled(timeout)
    while True:
        left = deadline - time.monotonic()
        check(left > 0, f"no PINGRESP within {timeout} s after {seen}, copies {got}")
        m = c.recv(left)
        if m is None:
            continue
        mtype, body = m
        seen.append(mtype)
        if mtype == PINGRESP:
            return got, seen
        if mtype == REGISTER:
            c.regack(body)
        elif mtype == PUBLISH:
            flags, tid, mid = struct.unpack("!BHH", body[:5])
            if not resent(c, flags, mid):
                got.append(body[5:])
            c.send(m_puback(tid, mid))
        else:
            raise TestFailure(f"unexpected message 0x{mtype:02x} {body.hex()} while waking")


N_ASLEEP = 5


def wake_from_new_port(dp, lab):
    """Part 4: the sleeper's PINGREQ from a port of the other worker claims its session."""
    sl, pub, woke = RawClient(lab), RawClient(lab), None
    try:
        before = worker_sessions(dp)
        check(connect(sl, "sleeper", flags=0) == 0, "sleeper: CONNACK refused")
        a = worker_of(dp, before, "the sleeper's session counted on a worker")
        tid, rc = subscribe(sl, "e2e/ho/sleep", F_QOS1)
        check(rc == 0, f"SUBACK rc {rc}")
        check(connect(pub, "sleep-pub") == 0, "publisher: CONNACK refused")
        ptid = register(pub, "e2e/ho/sleep")
        ev0 = events(dp.snapshot())
        sl.send(m_disconnect(60))
        sl.expect(DISCONNECT, timeout=REPLY_S)
        wait_event(dp, "session_asleep", ev0["session_asleep"] + 1, "the sleeper asleep")
        want = [f"zz{k}".encode() for k in range(N_ASLEEP)]
        for data in want:
            pub.send(m_publish(ptid, pub.next_id(), data, F_QOS1))
            pub.expect(PUBACK, timeout=REPLY_S)
        wait_event(dp, "delivery_buffered", ev0["delivery_buffered"] + N_ASLEEP,
                   f"{N_ASLEEP} copies buffered for the sleeper")
        sl.expect_nothing(0.3)

        woke = client_on(dp, lab, 1 - a)
        ev1 = events(dp.snapshot())
        ws0 = worker_sessions(dp)
        got, seen = wake_until_pingresp(woke, b"sleeper")
        names = [r[2] for r in woke.gw_registers]
        log(f"sleeper on worker {a} woke from port {woke.sock.getsockname()[1]} (worker {1 - a}): "
            f"{[hex(t) for t in seen]}, gateway REGISTERs {names}, copies {got}")
        check(seen[0] == REGISTER and names[:1] == ["$SYS/proof"],
              f"the proof REGISTER answers the PINGREQ first, saw {[hex(t) for t in seen]} {names}")
        check(got == want, f"buffered copies {got}, want each of {want} once, in order")
        quiet(woke)
        sl.expect_nothing(0.2)
        ws, ev = worker_sessions(dp), events(dp.snapshot())
        delta = {k: ev[k] - ev1[k] for k in ("session_wake_moved", "handover_claims", "handover_done",
                                             "handover_out", "handover_failed", "session_awake",
                                             "address_proven", "wake_refused")}
        log(f"wake: sessions per worker {ws0} -> {ws}; {delta}")
        check(ws[a] == ws0[a] - 1 and ws[1 - a] == ws0[1 - a] + 1,
              f"sessions per worker {ws0} before the wake, {ws} after: the session did not move")
        check(delta["session_wake_moved"] == 1 and delta["handover_done"] == 1 and delta["handover_out"] == 1
              and delta["session_awake"] == 1 and delta["address_proven"] == 1, f"{delta}")
        check(delta["handover_failed"] == 0 and delta["wake_refused"] == 0, f"{delta}")

        # Asleep again, at the new address: the next copy is buffered, the next PINGREQ gets it.
        pub.send(m_publish(ptid, pub.next_id(), b"zz-later", F_QOS1))
        pub.expect(PUBACK, timeout=REPLY_S)
        wait_event(dp, "delivery_buffered", ev1["delivery_buffered"] + 1, "the later copy buffered")
        woke.expect_nothing(0.3)
        got, seen = wake_until_pingresp(woke, b"sleeper")
        check(got == [b"zz-later"] and seen == [PUBLISH, PINGRESP], f"second wake: {[hex(t) for t in seen]} {got}")
        quiet(woke, 0.5)
        sl.expect_nothing(0.2)
        woke.send(m_disconnect())
        woke.expect(DISCONNECT, timeout=REPLY_S)
    finally:
        sl.close()
        pub.close()
        if woke:
            woke.close()


NODE = bytes([0x01, 0x02])
ENCAPSULATED = 0xFE


class Node:
    """A wireless node behind a forwarder (spec 5.5): its messages leave forwarder socket c (a
    RawClient) encapsulated with its id, and everything for it must come back so."""

    def __init__(self, c, node=NODE):
        self.c, self.node = c, node

    def send(self, inner):
        self.c.send(bytes([3 + len(self.node), ENCAPSULATED, 0]) + self.node + inner)

    def expect(self, mtype, timeout=REPLY_S):
        """The next message of mtype for the node, answering gateway REGISTERs on the way."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            check(left > 0, f"node {self.node.hex()}: no message type {mtype:#04x} within {scaled(timeout):.0f} s")
            self.c.sock.settimeout(left)
            try:
                data, _ = self.c.sock.recvfrom(65535)
            except socket.timeout:
                continue
            check(len(data) > 3 and data[1] == ENCAPSULATED and data[3:data[0]] == self.node,
                  f"not encapsulated for node {self.node.hex()}: {data.hex()}")
            m = decode(data[data[0]:])
            if m[0] == mtype:
                return m[1]
            check(m[0] == REGISTER, f"node {self.node.hex()}: expected {mtype:#04x}, got {m[0]:#04x} {m[1].hex()}")
            tid, mid = struct.unpack("!HH", m[1][:4])
            self.send(msg(REGACK, struct.pack("!HHB", tid, mid, 0)))


def node_moves(dp, lab, pub):
    """5. A forwarded node's CleanSession=0 session moves with it to a forwarder of the other worker."""
    f1, f2 = RawClient(lab), None
    try:
        before, ev0 = worker_sessions(dp), events(dp.snapshot())
        n1 = Node(f1)
        n1.send(m_connect("ho-node", 60, 0))
        check(n1.expect(CONNACK)[0] == 0, "node: CONNACK refused")
        a = worker_of(dp, before, "the node's session counted on a worker")
        n1.send(m_subscribe("e2e/ho/node", 1, F_QOS1))
        _, tid, _, rc = struct.unpack("!BHHB", n1.expect(SUBACK))
        check(rc == 0, f"node: SUBACK rc {rc}")
        n1.send(m_disconnect())
        n1.expect(DISCONNECT)
        wait_event(dp, "session_kept_offline", ev0["session_kept_offline"] + 1, "the node's session kept")
        p = register(pub, "e2e/ho/node")
        pub.send(m_publish(p, pub.next_id(), b"node-kept", F_QOS1))
        pub.expect(PUBACK, timeout=REPLY_S)
        wait_event(dp, "delivery_buffered", ev0["delivery_buffered"] + 1, "the node's copy buffered")
        f2 = client_on(dp, lab, 1 - a)
        ws0 = worker_sessions(dp)
        n2 = Node(f2)
        n2.send(m_connect("ho-node", 60, 0))
        check(n2.expect(CONNACK)[0] == 0, "node: CONNACK refused through the second forwarder")
        for want in (b"node-kept", b"node-live"):
            if want == b"node-live":
                pub.send(m_publish(p, pub.next_id(), want, F_QOS1))
                pub.expect(PUBACK, timeout=REPLY_S)
            body = n2.expect(PUBLISH)
            flags, ttid, mid = struct.unpack("!BHH", body[:5])
            log(f"node through the second forwarder: {body[5:]} topic id {ttid} flags {flags:#04x}")
            check(body[5:] == want and ttid == tid and flags & 0x60 == F_QOS1,
                  f"node copy {body.hex()}, want {want} under topic id {tid} at QoS 1")
            n2.send(m_puback(ttid, mid))
        ws = worker_sessions(dp)
        check(ws[a] == ws0[a] - 1 and ws[1 - a] == ws0[1 - a] + 1,
              f"sessions per worker {ws0} before the node moved, {ws} after")
        f1.expect_nothing(0.3)
    finally:
        f1.close()
        if f2:
            f2.close()


def main(args):
    roles = {"lcores": [{"lcore": 1, "roles": ["rx", "tx"]}, {"lcore": 2, "roles": ["worker"]},
                        {"lcore": 3, "roles": ["worker"]}]}
    with Lab("hand") as lab:
        dp = Dataplane("hand-stream", lab, overrides={**roles, "security.address_proof": False,
                                                      "mqttsn.offline_buffer": 255})
        i = dp.cmd.index("-l")
        dp.cmd[i:i + 2] = ["--lcores", "0@0,1@1,2@1,3@1"]
        with dp:
            streams(dp, lab)
            stats = dp.stop()
        ev = events(stats)
        log(f"streams: handover_done {ev['handover_done']} failed {ev['handover_failed']} "
            f"delivery_buffered {ev['delivery_buffered']} of {2 * (SLOW + BURST)} (the others live after the move) "
            f"buffer_full {ev['delivery_buffer_full']}")
        check(ev["handover_done"] == 1 and ev["handover_failed"] == 0 and ev["handover_cut_forced"] == 0,
              "the streamer moved once, its old worker past the cut")
        check_conservation(stats)

        dp = Dataplane("hand", lab, overrides=roles)
        i = dp.cmd.index("-l")  # three lcores on this 2-core machine: lcores 1..3 share CPU 1
        dp.cmd[i:i + 2] = ["--lcores", "0@0,1@1,2@1,3@1"]
        with dp:
            first, pub, moved = RawClient(lab), RawClient(lab), None
            try:
                before = worker_sessions(dp)
                check(connect(first, "mover", flags=0) == 0, "mover: CONNACK refused")
                a = worker_of(dp, before, "the mover's session counted on a worker")
                tid_exact, rc = subscribe(first, "e2e/ho/exact", F_QOS1)
                check(rc == 0, f"SUBACK rc {rc} for the exact filter")
                _, rc = subscribe(first, "e2e/ho/+/w", F_QOS2)
                check(rc == 0, f"SUBACK rc {rc} for the wildcard filter")
                check(connect(pub, "ho-pub") == 0, "publisher: CONNACK refused")
                p_exact, p_wild = register(pub, "e2e/ho/exact"), register(pub, "e2e/ho/x/w")
                first.send(m_disconnect())
                first.expect(DISCONNECT, timeout=REPLY_S)
                wait_event(dp, "session_kept_offline", 1, "the CleanSession=0 session kept after DISCONNECT")
                pub.send(m_publish(p_exact, pub.next_id(), b"kept-q1", F_QOS1))
                pub.expect(PUBACK, timeout=REPLY_S)
                publish_qos2(pub, p_wild, b"kept-q2")
                wait_event(dp, "delivery_buffered", 2, "both copies buffered on the mover's worker")
                log(f"mover on worker {a}; subscriptions and 2 copies buffered there")

                moved = client_on(dp, lab, 1 - a)
                ws0 = worker_sessions(dp)
                moved.send(m_connect("mover", flags=0))
                body = moved.expect(CONNACK, timeout=REPLY_S)
                check(body[0] == 0, f"CONNACK rc {body[0]} from the new port")
                got = receive(moved, 2)
                log(f"after the move: {got}; {moved.__dict__['trace']}")
                check(("REGISTER", tid_exact, "e2e/ho/exact") in moved.trace and registered_first(moved),
                      f"a PUBLISH before the REGISTER of its id (kept {tid_exact}): {moved.trace}")
                check([g[0] for g in got] == [b"kept-q1", b"kept-q2"], f"buffered copies {got}, want both in order")
                check(got[0][1] == tid_exact and got[0][2] == 1, f"exact copy topic id/QoS {got[0][1:]}, SUBACK "
                      f"gave {tid_exact} at QoS 1")
                check(got[1][2] == 2, f"wildcard copy at QoS {got[1][2]}, want 2")
                quiet(moved)
                publish_qos2(pub, p_wild, b"live-q2")
                pub.send(m_publish(p_exact, pub.next_id(), b"live-q1", F_QOS1))
                pub.expect(PUBACK, timeout=REPLY_S)
                got = receive(moved, 2)
                check(sorted(g[0] for g in got) == [b"live-q1", b"live-q2"], f"live copies {got}")
                quiet(moved)
                ws = worker_sessions(dp)
                ev = events(dp.snapshot())
                check(ws[a] == ws0[a] - 1 and ws[1 - a] == ws0[1 - a] + 1,
                      f"sessions per worker {ws0} before the move, {ws} after: the session did not move")
                log(f"sessions per worker {ws0} -> {ws}; handover_claims {ev['handover_claims']} done "
                    f"{ev['handover_done']} out {ev['handover_out']} failed {ev['handover_failed']}")
                check(ev["handover_done"] == 1 and ev["handover_out"] == 1, "one session handed over")

                # A clean CONNECT of the ClientId on the first worker ends it on the other one.
                check(connect(first, "mover") == 0, "clean CONNECT refused")
                wait_event(dp, "handover_ended", 1, "the old session ended on the other worker")
                pub.send(m_publish(p_exact, pub.next_id(), b"after-clean", F_QOS1))
                pub.expect(PUBACK, timeout=REPLY_S)
                first.expect_nothing(0.5)
                quiet(moved, 0.3)  # at most a late PUBREL of the ended session's QoS 2 tail
                wake_from_new_port(dp, lab)
                node_moves(dp, lab, pub)
            finally:
                first.close()
                pub.close()
                if moved:
                    moved.close()
            stats = dp.stop()
        ev = events(stats)
        shown = {k: ev[k] for k in ("handover_claims", "handover_done", "handover_out", "handover_ended",
                                    "handover_failed", "handover_late", "handover_state_dropped",
                                    "handover_duplicate", "session_resumed", "delivery_buffered",
                                    "session_wake_moved", "wake_refused")}
        log(f"events: {shown}")
        # the mover's CONNECT, the sleeper's PINGREQ and the node's CONNECT
        check(ev["handover_done"] == 3 and ev["handover_out"] == 3 and ev["handover_ended"] == 1, f"{shown}")
        check(ev["session_wake_moved"] == 1 and ev["wake_refused"] == 0, f"{shown}")
        check(ev["handover_failed"] == 0 and ev["handover_state_dropped"] == 0 and ev["handover_duplicate"] == 0,
              f"{shown}")
        check(len(stats["workers"]) == 2, f"{len(stats['workers'])} workers, expected 2")
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
