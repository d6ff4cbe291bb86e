#!/usr/bin/env python3
"""Wire check with tshark: a short mixed workload on the lab while tshark captures on the
lab's veth pair (client end; see the comment in main); every packet the appliance emitted must decode without a
malformed field or an expert error (IPv4 and UDP checksums verified), and the MQTT-SN message
types it emitted must be exactly the expected ones.

Workload: ARP (the client's neighbour entry is flushed first) + ping; raw MQTT-SN clients:
CONNECT, REGISTER, SUBSCRIBE to a wildcard (-> REGISTER from the gateway, REGACK), SUBSCRIBE
exact, PUBLISH QoS 0 and QoS 1 (-> PUBACK; deliveries at QoS 1 acked with PUBACK), PINGREQ ->
PINGRESP, DISCONNECT -> DISCONNECT; then a short fanout-loadgen QoS 1 run with keepalive 2."""
import os
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (DISCONNECT, F_QOS0, F_QOS1, PINGRESP, PUBACK, PUBLISH, REGISTER, Capture, Dataplane,  # noqa: E402
                     Lab, RawClient, check, check_conservation, log, loadgen, m_disconnect, m_pingreq, m_puback,
                     m_publish, m_regack, mqttsn_types_from, run_test, scaled, tshark_fields, tshark_problems)

EXPECTED_TYPES = {"CONNACK", "REGACK", "SUBACK", "REGISTER", "PUBLISH", "PUBACK", "PINGRESP", "DISCONNECT"}


def raw_workload(lab):
    sub, pub = RawClient(lab), RawClient(lab)
    try:
        check(sub.connect("tssub") == 0, "subscriber CONNACK refused")
        _, rc = sub.subscribe("ts/+/v", F_QOS1)
        check(rc == 0, f"SUBACK rc {rc} for ts/+/v")
        exact_tid, rc = sub.subscribe("ts/exact", F_QOS0)
        check(rc == 0, f"SUBACK rc {rc} for ts/exact")
        check(pub.connect("tspub") == 0, "publisher CONNACK refused")
        tid_v = pub.register("ts/1/v")
        tid_x = pub.register("ts/exact")
        pub.send(m_publish(tid_v, 0, b"qos0 wildcard", F_QOS0))
        mid = pub.next_id()
        pub.send(m_publish(tid_v, mid, b"qos1 wildcard", F_QOS1))
        body = pub.expect(PUBACK)
        check(struct.unpack("!HHB", body)[2] == 0, f"PUBACK {body.hex()}")
        mid = pub.next_id()
        pub.send(m_publish(tid_x, mid, b"qos1 exact", F_QOS1))
        pub.expect(PUBACK)
        got, names = [], {exact_tid: "ts/exact"}
        deadline = time.monotonic() + scaled(3)
        while len(got) < 3 and time.monotonic() < deadline:
            m = sub.recv(0.5)
            if m is None:
                continue
            mtype, b = m
            if mtype == REGISTER:
                t, mid2 = struct.unpack("!HH", b[:4])
                names[t] = b[4:].decode()
                sub.send(m_regack(t, mid2))
            elif mtype == PUBLISH:
                flags, t, mid2 = struct.unpack("!BHH", b[:5])
                got.append((names.get(t), b[5:]))
                if flags & 0x60 == F_QOS1:
                    sub.send(m_puback(t, mid2))
        log(f"raw subscriber received {got}")
        check(sorted(got) == sorted([("ts/1/v", b"qos0 wildcard"), ("ts/1/v", b"qos1 wildcard"),
                                     ("ts/exact", b"qos1 exact")]), f"subscriber got {got}")
        for c in (sub, pub):
            c.send(m_pingreq())
            c.expect(PINGRESP)
            c.send(m_disconnect())
            c.expect(DISCONNECT)
    finally:
        sub.close()
        pub.close()


def main(args):
    with Lab("tshark") as lab, Dataplane("tshark", lab) as dp:
        pcap = os.path.join(dp.dir, "wire.pcapng")
        app = lab.appliance_ip
        # The capture runs on the client end of the veth pair (inside the namespace): on the
        # dataplane end the kernel hands tshark only the received frames, because net_af_packet
        # transmits with PACKET_QDISC_BYPASS, which skips the taps. Both ends carry the same frames.
        with Capture(lab.cl_if, pcap, bpf=f"arp or host {app}", ns=lab.ns):
            lab.run(["ip", "neigh", "flush", "dev", lab.cl_if])
            r = lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", app], check_rc=False)
            log("ping: " + (r.stdout.strip().splitlines() or ["?"])[-2 if len(r.stdout.strip().splitlines()) > 1 else -1])
            check(r.returncode == 0, f"ping {app} failed:\n{r.stdout}{r.stderr}")
            raw_workload(lab)
            rep, rc = loadgen(lab, ["-p", 2, "-s", 3, "--topic", "tsl/{pub}/x", "--filter", "tsl/#", "--qos", 1,
                                    "--sub-qos", 1, "--rate", 50, "--count", 100, "--keepalive", 2,
                                    "--drain-ms", 1500, "--expect-no-loss", "--quiet", "--id-prefix", "tsl"])
            check(rc == 0, f"loadgen: {rep['result']['verdict']}")
            log(f"loadgen: sent {rep['publish']['sent_msgs']}, received {rep['deliver']['received_msgs']}, "
                f"PINGREQ {rep['protocol']['pingreq_sent']} PINGRESP {rep['protocol']['pingresp']}")
        stats = dp.stop()
        check_conservation(stats)

        total = len(tshark_fields(pcap, ["frame.number"]))
        from_app = tshark_fields(pcap, ["frame.number", "_ws.col.Protocol", "_ws.col.Info"],
                                 f"eth.src == {lab.dp_mac}")
        arp_replies = tshark_fields(pcap, ["arp.src.proto_ipv4", "arp.src.hw_mac", "arp.dst.proto_ipv4"],
                                    f"arp.opcode == 2 && arp.src.proto_ipv4 == {app}")
        echo_replies = tshark_fields(pcap, ["icmp.seq"], f"ip.src == {app} && icmp.type == 0")
        types = mqttsn_types_from(pcap, app)
        client_types = mqttsn_types_from(pcap, lab.client_ip)
        log(f"captured {total} frames, {len(from_app)} from the appliance (eth.src {lab.dp_mac}); "
            f"ARP replies {len(arp_replies)} {arp_replies[:1]}; ICMP echo replies {len(echo_replies)}")
        log(f"MQTT-SN types emitted by the appliance: {dict(sorted(types.items()))}")
        log(f"MQTT-SN types sent by the clients: {dict(sorted(client_types.items()))}")
        problems, detail = tshark_problems(pcap, app)
        if problems:
            print(detail[:20000])
        check(not problems, f"tshark flags appliance-emitted packets:\n{problems}")
        others, _ = tshark_problems(pcap)
        if others:
            log(f"note: tshark flags some client-sent packets:\n{others}")
        check(total > 0 and from_app, "nothing captured from the appliance (is tshark seeing af_packet tx?)")
        check(arp_replies and all(a[1] == lab.dp_mac for a in arp_replies),
              f"no ARP reply for {app} with the dataplane MAC {lab.dp_mac}: {arp_replies}")
        check(len(echo_replies) >= 3, f"{len(echo_replies)} ICMP echo replies captured (want 3)")
        missing = EXPECTED_TYPES - set(types)
        extra = set(types) - EXPECTED_TYPES
        check(not missing and not extra,
              f"appliance MQTT-SN types: missing {sorted(missing)}, unexpected {sorted(extra)} (seen {types})")
        non_ip = tshark_fields(pcap, ["frame.number", "_ws.col.Protocol", "_ws.col.Info"],
                               f"eth.src == {lab.dp_mac} && !(arp || icmp || mqttsn)")
        check(not non_ip, f"appliance emitted frames that are neither ARP, ICMP nor MQTT-SN: {non_ip[:5]}")


if __name__ == "__main__":
    run_test(main, __doc__)
