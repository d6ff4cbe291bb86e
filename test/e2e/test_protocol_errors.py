#!/usr/bin/env python3
"""MQTT-SN protocol errors against the dataplane on the lab, with raw UDP clients:

  PUBLISH QoS 1 to a topic id never registered     -> PUBACK (same topic id, msg id) rc 0x02
  PUBLISH QoS 2 with MsgId 0                       -> PUBACK rc 0x03 (no MsgId to release it by)
  CONNECT with the Will flag, WILLTOPIC "perr/#"   -> WILLTOPICREQ, then CONNACK rc 0x03 (a wildcard will topic)
  PUBLISH from a client that never CONNECTed        -> DISCONNECT
  malformed datagrams (bad length field, truncated) -> no reply; drops.mqttsn_malformed counts each
and the session of the client that sent the malformed datagrams still answers PINGREQ. The
matching events (publish_invalid_topic, qos2_no_msg_id, will_rejected, not_connected) count one each, and conservation holds after stop."""
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, DISCONNECT, F_CLEAN, F_QOS1, F_QOS2, F_WILL, PINGRESP, PUBACK,  # noqa: E402
                     WILLTOPICREQ, Dataplane, Lab, RawClient, check, check_conservation, events, log, m_connect,
                     m_pingreq, m_publish, m_willtopic, nonzero, run_test)

MALFORMED = [
    ("empty datagram", b""),
    ("one byte", b"\x01"),
    ("length 16 > datagram 2 (PINGREQ)", b"\x10\x16"),
    ("length 2 < datagram 3 (PINGREQ + 1)", b"\x02\x16\x00"),
    ("length 0", b"\x00\x16"),
    ("long form, length 5 > datagram 4", b"\x01\x00\x05\x16"),
    ("long form, length 3 < header 4", b"\x01\x00\x03\x16"),
    ("PUBLISH truncated after flags+topic id", b"\x05\x0c\x20\x00\x01"),
    ("CONNECT truncated before duration", b"\x04\x04\x04\x01"),
    ("REGACK truncated", b"\x04\x0b\x00\x01"),
    ("SUBSCRIBE without topic", b"\x05\x12\x00\x00\x01"),
]


def main(args):
    with Lab("proto") as lab, Dataplane("proto", lab) as dp:
        results = []
        c = RawClient(lab)
        w = RawClient(lab)
        n = RawClient(lab)
        try:
            # PUBLISH before CONNECT -> DISCONNECT
            n.send(m_publish(1, 1, b"who am i", F_QOS1))
            n.expect(DISCONNECT)
            results.append("PUBLISH before CONNECT -> DISCONNECT")

            check(c.connect("perr") == 0, "CONNACK refused for a plain CONNECT")
            # unregistered topic id
            mid = c.next_id()
            c.send(m_publish(0x0077, mid, b"nobody registered this", F_QOS1))
            tid, rmid, rc = struct.unpack("!HHB", c.expect(PUBACK))
            results.append(f"PUBLISH QoS 1 to unregistered topic id 0x0077 -> PUBACK topic 0x{tid:04x} msg {rmid} rc 0x{rc:02x}")
            check(tid == 0x0077 and rmid == mid and rc == 0x02, results[-1] + f" (want topic 0x0077 msg {mid} rc 0x02)")
            # QoS 2 without a MsgId
            reg = c.register("perr/qos2")
            c.send(m_publish(reg, 0, b"exactly once please", F_QOS2))
            tid, rmid, rc = struct.unpack("!HHB", c.expect(PUBACK))
            results.append(f"PUBLISH QoS 2, MsgId 0 -> PUBACK topic 0x{tid:04x} msg {rmid} rc 0x{rc:02x}")
            check(tid == reg and rmid == 0 and rc == 0x03, results[-1] + f" (want topic 0x{reg:04x} msg 0 rc 0x03)")
            # Will flag
            w.send(m_connect("perrwill", 60, F_CLEAN | F_WILL))
            w.expect(WILLTOPICREQ)
            w.send(m_willtopic("perr/#"))
            body = w.expect(CONNACK)
            results.append(f"CONNECT with Will flag, wildcard WILLTOPIC -> CONNACK rc 0x{body[0]:02x}")
            check(body == b"\x03", results[-1] + f" (body {body.hex()}, want 03)")

            before = dp.snapshot()
            for what, data in MALFORMED:
                c.send(data)
                m = c.recv(0.3)
                results.append(f"malformed: {what} ({data.hex() or 'empty'}) -> "
                               f"{'no reply' if m is None else 'reply type 0x%02x %s' % (m[0], m[1].hex())}")
                check(m is None, results[-1])
            after = dp.snapshot()
            c.send(m_pingreq())
            c.expect(PINGRESP)
            results.append("PINGREQ after the malformed datagrams -> PINGRESP (session kept)")
        finally:
            for r in results:
                log(r)
            for x in (c, w, n):
                x.close()
        d_before, d_after = before["totals"]["drops"], after["totals"]["drops"]
        delta = {k: d_after[k] - d_before[k] for k in d_after if d_after[k] != d_before[k]}
        log(f"drops added by the {len(MALFORMED)} malformed datagrams: {delta}")
        check(delta == {"mqttsn_malformed": len(MALFORMED)},
              f"want drops.mqttsn_malformed +{len(MALFORMED)} and nothing else, got {delta}")
        stats = dp.stop()
        ev = events(stats)
        wanted = {"publish_invalid_topic": 1, "qos2_no_msg_id": 1, "will_rejected": 1,
                  "not_connected": 1}
        got = {k: ev[k] for k in wanted}
        log(f"events: {nonzero(ev)}; mqttsn_rx {stats['totals']['mqttsn_rx']}")
        check(got == wanted, f"events {got}, want {wanted}")
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
