#!/usr/bin/env python3
"""Forwarder encapsulation (MQTT-SN 1.2 section 5.5) on the lab: one UDP socket plays a forwarder
for two wireless nodes (node ids 01:02 and ab) and also speaks for itself, and a direct client
publishes.

Through the forwarder, each node CONNECTs, SUBSCRIBEs (node A to a wildcard at QoS 1, node B to an
exact name at QoS 0), and node B REGISTERs and PUBLISHes at QoS 1; every message goes out wrapped
in an Encapsulated frame. Must hold: every reply and delivery for a node comes back to the
forwarder's socket encapsulated with that node's id and Ctrl 0 (CONNACK, the address-proof
REGISTER, SUBACK, REGISTER, PUBLISH copies at QoS 1 and 0, PUBACK, PINGRESP, DISCONNECT), the two
nodes are two sessions beside the forwarder's own (whose CONNACK comes back bare), each node gets
exactly the copies its subscription asks for (also a 768-byte payload, whose copies chain the
encapsulation and PUBLISH header in front of the shared payload), an unacknowledged QoS 1 copy is
retransmitted to the same node, and a SEARCHGW from a node (radius 1) gets its GWINFO back
encapsulated with Ctrl 1. An Encapsulated message inside another and a 17-byte node id are dropped
with their own reasons. The events encapsulated_rx / encapsulated_tx equal what the sockets counted,
tshark decodes every Encapsulated frame the appliance sent (node ids, Ctrl, the inner messages)
without a malformed field, and conservation holds after stop."""
import os
import socket
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, DISCONNECT, F_QOS0, F_QOS1, MQTTSN_TYPE_NAMES, PINGRESP, PUBACK,  # noqa: E402
                     PUBLISH, REGACK, REGISTER, SUBACK, Capture, Dataplane, Lab, RawClient, TestFailure, check,
                     check_conservation, decode, events, log, m_connect, m_disconnect, m_pingreq, m_puback,
                     m_publish, m_regack, m_register, m_subscribe, run_test, scaled, sessions, tshark_fields,
                     tshark_problems, wait_until)

ENCAPSULATED = 0xFE
NODE_A, NODE_B = b"\x01\x02", b"\xab"


def encap(node, inner, ctrl=0):
    return bytes([3 + len(node), ENCAPSULATED, ctrl]) + node + inner


class Forwarder:
    """One UDP socket for several nodes: sends their messages encapsulated, and sorts what comes
    back by node id (the forwarder's own messages come back bare, under node None)."""

    def __init__(self, lab):
        self.c = RawClient(lab)
        self.queues = {}
        self.rx_encap = 0   # Encapsulated datagrams received
        self.ctrls = []     # (node, inner type, Ctrl) of each
        self.tx_encap = 0

    def close(self):
        self.c.close()

    def send(self, node, inner):
        if node is None:
            self.c.send(inner)
            return
        self.c.send(encap(node, inner))
        self.tx_encap += 1

    def _pump(self, timeout):
        self.c.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.c.sock.recvfrom(65535)
        except socket.timeout:
            return False
        if data[1] == ENCAPSULATED and data[0] != 1:
            n = data[0]
            ctrl, node, inner = data[2], data[3:n], data[n:]
            self.rx_encap += 1
        else:
            ctrl, node, inner = None, None, data
        mtype, body = decode(inner)
        if node is not None:
            self.ctrls.append((node, mtype, ctrl))
        self.queues.setdefault(node, []).append((mtype, body))
        return True

    def recv(self, node, timeout):
        end = time.monotonic() + timeout
        while not self.queues.get(node):
            left = end - time.monotonic()
            if left <= 0:
                return None
            self._pump(left)
        return self.queues[node].pop(0)

    def expect(self, node, mtype, timeout=2.0):
        """The next message for node, answering gateway REGISTERs (the address proof) on the way."""
        timeout = scaled(timeout)
        end = time.monotonic() + timeout
        while True:
            m = self.recv(node, max(0.0, end - time.monotonic()))
            if m is None:
                raise TestFailure(f"node {node.hex() if node else 'forwarder'}: no "
                                  f"{MQTTSN_TYPE_NAMES.get(mtype)} within {timeout:.0f} s")
            if m[0] == mtype:
                return m[1]
            if m[0] == REGISTER:
                tid, mid = struct.unpack("!HH", m[1][:4])
                self.send(node, m_regack(tid, mid))
                continue
            raise TestFailure(f"node {node.hex() if node else 'forwarder'}: expected "
                              f"{MQTTSN_TYPE_NAMES.get(mtype)}, got {MQTTSN_TYPE_NAMES.get(m[0], hex(m[0]))}")


def main(args):
    with Lab("fwd") as lab, Dataplane("fwd", lab) as dp:
        pcap = os.path.join(dp.dir, "fwd.pcapng")
        app = lab.appliance_ip
        fw = Forwarder(lab)
        pub = RawClient(lab)
        try:
            with Capture(lab.cl_if, pcap, bpf=f"udp and host {app}", ns=lab.ns):
                # Two nodes and the forwarder itself: three sessions from one socket.
                for node, cid in ((NODE_A, "fwd-node-a"), (NODE_B, "fwd-node-b")):
                    fw.send(node, m_connect(cid))
                    check(fw.expect(node, CONNACK)[0] == 0, f"{cid}: CONNACK refused")
                fw.send(None, m_connect("fwd-itself"))
                check(fw.expect(None, CONNACK)[0] == 0, "forwarder's own CONNACK refused")
                check(pub.connect("fwd-pub") == 0, "publisher CONNACK refused")
                s = dp.snapshot()
                check(sessions(s) == 4, f"{sessions(s)} sessions after 4 CONNECTs (want 4: two nodes, the "
                                        f"forwarder, the publisher)")

                # Subscriptions (the address proof goes to each node encapsulated and is echoed so).
                fw.send(NODE_A, m_subscribe("fwd/+/t", 1, F_QOS1))
                check(fw.expect(NODE_A, SUBACK)[-1] == 0, "node A: SUBACK refused")
                fw.send(NODE_B, m_subscribe("fwd/x/t", 2, F_QOS0))
                sb = fw.expect(NODE_B, SUBACK)
                check(sb[-1] == 0, "node B: SUBACK refused")
                tid_b_x = struct.unpack("!H", sb[1:3])[0]

                # A direct publish reaches both nodes, each with its node id.
                tid = pub.register("fwd/x/t")
                pub.send(m_publish(tid, 7, b"direct-q1", F_QOS1))
                pub.expect(PUBACK)
                body = fw.expect(NODE_A, PUBLISH)  # after the REGISTER of fwd/x/t, answered
                flags, a_tid, a_mid = struct.unpack("!BHH", body[:5])
                check(body[5:] == b"direct-q1" and flags & 0x60 == F_QOS1, f"node A got {body.hex()}")
                # Not acknowledged: retransmitted, to node A again.
                body = fw.expect(NODE_A, PUBLISH, timeout=6.0)
                check(body[5:] == b"direct-q1" and body[0] & 0x80, f"node A's retransmission {body.hex()}")
                fw.send(NODE_A, m_puback(a_tid, a_mid))
                body = fw.expect(NODE_B, PUBLISH)
                flags, b_tid, _ = struct.unpack("!BHH", body[:5])
                check(body[5:] == b"direct-q1" and flags & 0x60 == F_QOS0 and b_tid == tid_b_x,
                      f"node B got {body.hex()} (want QoS 0 on topic id {tid_b_x})")

                # A payload past the inline limit: each copy is a header mbuf (Ethernet, IPv4, UDP, the
                # encapsulation, the PUBLISH header) chained in front of the shared received payload.
                big = bytes(range(256)) * 3
                pub.send(m_publish(tid, 0, big, F_QOS0))
                for node in (NODE_A, NODE_B):
                    body = fw.expect(node, PUBLISH)
                    check(body[5:] == big, f"node {node.hex()}: the {len(big)}-byte payload came back "
                                           f"{len(body) - 5} bytes long or changed")

                # Node B publishes through the forwarder: node A gets it, B does not (not subscribed).
                fw.send(NODE_B, m_register("fwd/b/t", 3))
                ra = fw.expect(NODE_B, REGACK)
                b_pub_tid = struct.unpack("!H", ra[:2])[0]
                check(ra[-1] == 0, "node B: REGACK refused")
                fw.send(NODE_B, m_publish(b_pub_tid, 4, b"from-node-b", F_QOS1))
                pa = fw.expect(NODE_B, PUBACK)
                check(struct.unpack("!HHB", pa) == (b_pub_tid, 4, 0), f"node B: PUBACK {pa.hex()}")
                body = fw.expect(NODE_A, PUBLISH)
                check(body[5:] == b"from-node-b", f"node A got {body.hex()} (want from-node-b)")
                fw.send(NODE_A, m_puback(*struct.unpack("!HH", body[1:5])))

                # Refused: an encapsulation inside another, a 17-byte node id.
                before = dp.snapshot()["totals"]["drops"]
                fw.c.send(encap(b"\x09", encap(NODE_A, m_pingreq())))
                fw.c.send(encap(b"0123456789abcdefg", m_pingreq()))
                after = wait_until("the two refused datagrams to be counted",
                                   lambda: (lambda d: d if d.get("mqttsn_encap_nested", 0) >
                                            before.get("mqttsn_encap_nested", 0) and
                                            d.get("mqttsn_node_id_refused", 0) >
                                            before.get("mqttsn_node_id_refused", 0) else None)(
                                                dp.snapshot()["totals"]["drops"]), timeout=5)
                delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
                log(f"drops from the nested and the over-long encapsulation: {delta}")
                check(delta == {"mqttsn_encap_nested": 1, "mqttsn_node_id_refused": 1}, f"drops added: {delta}")

                # SEARCHGW through the forwarder: GWINFO back to that node, the radius in Ctrl.
                fw.send(NODE_B, bytes([3, 0x01, 1]))
                gw = fw.expect(NODE_B, 0x02)
                check(len(gw) >= 1, f"GWINFO {gw.hex()}")

                # PINGREQ and DISCONNECT per node; the forwarder's own session goes last.
                fw.send(NODE_A, m_pingreq())
                fw.expect(NODE_A, PINGRESP)
                for node in (NODE_A, NODE_B, None):
                    fw.send(node, m_disconnect())
                    fw.expect(node, DISCONNECT)
                pub.send(m_disconnect())
                pub.expect(DISCONNECT)
                for node in (NODE_A, NODE_B, None):
                    check(not fw.queues.get(node), f"node {node}: unexpected {fw.queues.get(node)}")
                s = wait_until("every session to end", lambda: (lambda s: s if sessions(s) == 0 else None)(
                    dp.snapshot()), timeout=5)
        finally:
            fw.close()
            pub.close()
        bad_ctrl = [(n.hex(), t, c) for n, t, c in fw.ctrls if c != (1 if t == 0x02 else 0)]
        check(not bad_ctrl, f"Ctrl octets (want 0, 1 for the GWINFO answering a radius-1 SEARCHGW): {bad_ctrl}")
        ev = events(s)
        log(f"forwarder socket: sent {fw.tx_encap} Encapsulated (+2 refused), received {fw.rx_encap}; events "
            f"encapsulated_rx {ev['encapsulated_rx']}, encapsulated_tx {ev['encapsulated_tx']}")
        # The nested one is taken apart once (its outer layer) before being refused.
        check(ev["encapsulated_rx"] == fw.tx_encap + 1, f"encapsulated_rx {ev['encapsulated_rx']} != "
                                                         f"{fw.tx_encap} sent + 1 (the nested one's outer layer)")
        check(ev["encapsulated_tx"] == fw.rx_encap, f"encapsulated_tx {ev['encapsulated_tx']} != {fw.rx_encap} received")
        stats = dp.stop()
        check_conservation(stats)

        rows = tshark_fields(pcap, ["mqttsn.wireless.node.id", "mqttsn.control.info", "mqttsn.msg.type"],
                             f"ip.src == {app} && mqttsn.msg.type == 0xfe")
        by_node = {}
        for node, ctrl, types in rows:
            inner = [MQTTSN_TYPE_NAMES.get(int(t, 0), t) for t in types.split(",")[1:]]
            # tshark 4.0 shows a node id of up to 4 bytes as a number (0x0102 -> 258)
            key = node.replace(":", "") if ":" in node else f"{int(node, 0):x}"
            by_node.setdefault(key, []).extend(inner)
            check(int(ctrl, 0) in (0, 1), f"tshark: Ctrl {ctrl} from the appliance")
        log(f"tshark: Encapsulated frames from the appliance: {len(rows)}; inner types by node: "
            f"{ {k: sorted(set(v)) for k, v in by_node.items()} }")
        check(len(rows) == fw.rx_encap, f"tshark saw {len(rows)} Encapsulated frames from the appliance, the "
                                        f"socket received {fw.rx_encap}")
        nid = {n: f"{int.from_bytes(n, 'big'):x}" for n in (NODE_A, NODE_B)}
        check(set(by_node) == set(nid.values()), f"tshark: node ids {sorted(by_node)} (want {sorted(nid.values())})")
        want_a = {"CONNACK", "REGISTER", "SUBACK", "PUBLISH", "PINGRESP", "DISCONNECT"}
        want_b = {"CONNACK", "REGISTER", "SUBACK", "PUBLISH", "REGACK", "PUBACK", "GWINFO", "DISCONNECT"}
        check(set(by_node[nid[NODE_A]]) == want_a, f"tshark: node A inner types {sorted(set(by_node[nid[NODE_A]]))}")
        check(set(by_node[nid[NODE_B]]) == want_b, f"tshark: node B inner types {sorted(set(by_node[nid[NODE_B]]))}")
        problems, detail = tshark_problems(pcap, app)
        if problems:
            print(detail[:20000])
        check(not problems, f"tshark flags appliance-emitted packets:\n{problems}")


if __name__ == "__main__":
    run_test(main, __doc__.splitlines()[0])
