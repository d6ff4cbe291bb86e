#!/usr/bin/env python3
"""MQTT-SN messages larger than one frame, on the lab (veth MTU 1500).

A publisher and a subscriber (UDP sockets in the client namespace, IP_PMTUDISC_DONT so the kernel
fragments what is longer than the MTU) on one topic:
  1. a 6000-byte QoS 0 PUBLISH leaves the publisher as 5 IPv4 fragments, is reassembled on the rx
     lcore, fanned out, and leaves the appliance as fragments again: the subscriber's kernel hands it
     over whole, byte for byte (events frag_reassembled, tx_fragmented; frag_merged 4); tshark, on the
     client's end, sees 5 well-formed fragments of at most 1500 bytes, one identification, DF clear,
     and decodes their reassembly as the MQTT-SN PUBLISH;
  2. a QoS 1 PUBLISH of exactly limits.max_message_bytes (8192) is delivered whole and PUBACKed;
     one byte more is refused (drops.message_too_big, each of its 6 fragments), never delivered,
     never answered;
  2b. a 7000-byte QoS 1 PUBLISH to a QoS 1 subscriber that does not acknowledge at first: the copy
     kept for retransmission (a chain of held-pool mbufs) goes out again as fragments, DUP set, whole;
  3. a 20000-byte message is refused: its first fragment shows the size (UDP length), and the 13
     that follow are refused as belonging to it (message_too_big 14, nothing held: the kernel
     sends fragments in order);
  4. forged fragments (raw socket): with reassembly.max_flows 4, the first fragments of 6 datagrams
     that never complete: 4 wait and time out, 2 find no room (frag_table_full); a duplicated first
     fragment gives its datagram up (frag_invalid 2);
  5. IPv6 (the port has ipv6:, the client end 2001:2:0:K::2): a 6000-byte QoS 0 PUBLISH from an IPv4
     publisher and one from an IPv6 publisher reach an IPv6 subscriber whole, byte for byte: each
     copy leaves the appliance as 5 IPv6 fragments (tx_fragmented +2) that the subscriber's kernel
     reassembles; tshark sees, per copy, 5 fragments of at most 1500 bytes with one identification,
     every one but the last carrying a multiple of 8 bytes, M set on all but the last, and decodes
     their reassembly as the MQTT-SN PUBLISH.
Every received fragment has its fate: rx == delivered + answered + frag_merged + dropped, at a
settled snapshot and after stop.

--split runs it all with the roles on separate lcores (rx+tx, worker, worker, as e2e-split-roles):
reassembly on the rx lcore ahead of the worker rings, publishes between workers sharing the large
buffer, fragmentation on the tx lcore.

The dataplane runs on the af_xdp PMD whatever --pmd says: the af_packet PMD joins a packet fanout
with PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles before the PMD sees any fragment, and the
PMD then cuts the datagram to its 2048-byte frame (ip_bad_length); docs/dataplane.md#fragments."""
import re
import socket
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_DUP, F_QOS0, F_QOS1, PUBACK, PUBLISH, Capture, Dataplane, Lab, RawClient,  # noqa: E402
                     _ip_checksum, check, check_conservation, events, lab_config, log, m_puback, m_publish,
                     run_test, tshark_fields, tshark_problems, wait_until)

MAX_MSG = 8192  # limits.max_message_bytes (the default, set explicitly)
TIMEOUT_MS = 300
MAX_FLOWS = 4
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0
HDR = 9  # long-form PUBLISH: 0x01, length (2), type, flags, topic id (2), msg id (2)


def pattern(n, seed):
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


def drops(s):
    return s["totals"]["drops"]


def totals(s):
    return s["totals"]


def fragmenting(c):
    c.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    return c


def settled(dp, what, cond):
    """A snapshot with nothing in the pipeline (no fragment held) that satisfies cond."""
    def ok():
        s = dp.snapshot()
        t = totals(s)
        return s if t["in_pipeline"] == 0 and t["out"]["in_pipeline"] == 0 and cond(s) else None
    return wait_until(what, ok, timeout=10)


def raw_fragment(sock, src, dst, ident, offset, more, data):
    """One forged IPv4 fragment of a UDP datagram (offset in bytes, a multiple of 8)."""
    flags = (0x2000 if more else 0) | (offset // 8)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, flags, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    sock.sendto(ip + data, (dst, 0))


def ipv6_fragments(lab, dp):
    """5. Copies to an IPv6 subscriber over the MTU leave as IPv6 fragments."""
    sub6 = RawClient(lab, family=socket.AF_INET6)
    pub4 = fragmenting(RawClient(lab))
    pub6 = RawClient(lab, family=socket.AF_INET6)  # the kernel fragments UDP over IPv6 past the MTU
    try:
        check(sub6.connect("fragsub6") == 0, "IPv6 subscriber: CONNACK refused")
        tid_s, rc = sub6.subscribe("frag/v6")
        check(rc == 0, f"SUBACK rc {rc}")
        check(pub4.connect("fragpub4") == 0, "IPv4 publisher: CONNACK refused")
        check(pub6.connect("fragpub6") == 0, "IPv6 publisher: CONNACK refused")
        t4, t6 = pub4.register("frag/v6"), pub6.register("frag/v6")
        s0 = settled(dp, "the IPv6 clients connected", lambda s: True)
        pcap = str(Path(dp.dir) / "out6.pcap")
        with Capture(lab.cl_if, pcap, bpf=f"ip6 src host {lab.appliance_ip6}", ns=lab.ns):
            for pub, tid, fam, seed in ((pub4, t4, "IPv4", 6), (pub6, t6, "IPv6", 7)):
                data = pattern(6000 - HDR, seed)
                pub.send(m_publish(tid, 0, data, F_QOS0))
                body = sub6.expect(PUBLISH, 3.0)
                got = body[5:]
                check(got == data, f"from the {fam} publisher the IPv6 subscriber got {len(got)} bytes, want the "
                      f"{len(data)} sent" + ("" if len(got) != len(data) else " (content differs)"))
                check(struct.unpack("!H", body[1:3])[0] == tid_s, "PUBLISH on another topic id")
        s1 = settled(dp, "the two 6000-byte copies to the IPv6 subscriber accounted for",
                     lambda s: events(s)["tx_fragmented"] >= events(s0)["tx_fragmented"] + 2)
        ev0, ev1 = events(s0), events(s1)
        txf = ev1["tx_fragmented"] - ev0["tx_fragmented"]
        reasm = ev1["frag_reassembled"] - ev0["frag_reassembled"]
        failed = s1["totals"]["out"]["drops"]["fragment_failed"] - s0["totals"]["out"]["drops"]["fragment_failed"]
        log(f"IPv6 subscriber, 6000 bytes from an IPv4 and an IPv6 publisher: tx_fragmented +{txf}, "
            f"frag_reassembled +{reasm}, fragment_failed +{failed}")
        check(txf == 2 and reasm == 2 and failed == 0,
              f"want tx_fragmented +2, frag_reassembled +2, fragment_failed +0; got +{txf}, +{reasm}, +{failed}")
        frags = tshark_fields(pcap, ["ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.plen",
                                     "frame.len"], "ipv6.fraghdr")
        log("IPv6 fragments sent (id, offset, M, payload length, frame length): " +
            " ".join("/".join(f) for f in frags))
        ids = []
        for f in frags:
            if f[0] not in ids:
                ids.append(f[0])
        check(len(frags) == 10 and len(ids) == 2, f"want 2 datagrams of 5 fragments each, got {frags}")
        for ident in ids:
            mine = [f for f in frags if f[0] == ident]
            more = [f[2] in ("1", "True") for f in mine]
            check(len(mine) == 5 and more == [True] * 4 + [False],
                  f"identification {ident}: want 5 fragments, M on all but the last: {mine}")
            check(all(int(f[4]) <= 1514 for f in mine), f"a fragment over the MTU: {mine}")
            check(all((int(f[3]) - 8) % 8 == 0 for f in mine[:-1]),
                  f"a fragment but the last whose data is not a multiple of 8 bytes: {mine}")
            check(sum(int(f[3]) - 8 for f in mine) == 8 + 6000, f"fragments of {ident} do not add up to the datagram")
        whole = tshark_fields(pcap, ["mqttsn.msg.type", "udp.length"], "mqttsn")
        check(len(whole) == 2 and all(w[0] in ("0x0c", "12") and w[1] == str(8 + 6000) for w in whole),
              f"tshark's reassembly: want two PUBLISHes of {8 + 6000} UDP bytes, got {whole}")
        problems, detail = tshark_problems(pcap)
        check(not problems, f"tshark flags what the appliance sent over IPv6:\n{problems}\n{detail[:3000]}")
        log("IPv6 fragments: 2 x 5, one identification each, 8-byte multiples, reassembled by tshark and the kernel")
    finally:
        for c in (sub6, pub4, pub6):
            c.close()


def main(args):
    overrides = {"limits.max_message_bytes": MAX_MSG, "reassembly.timeout_ms": TIMEOUT_MS,
                 "reassembly.max_flows": MAX_FLOWS}
    if args.split:
        overrides["lcores"] = [{"lcore": 1, "roles": ["rx", "tx"]}, {"lcore": 2, "roles": ["worker"]},
                               {"lcore": 3, "roles": ["worker"]}]
    with Lab("frag") as lab:
        lab.enable_ipv6()
        text = lab_config(f"{lab.appliance_ip}/24", lab.vdev("af_xdp").split(",")[0], overrides)
        text = re.sub(r"(?m)^(\s*)(ipv4:.*)$", lambda m: f"{m.group(1)}{m.group(2)}\n{m.group(1)}ipv6: {lab.appliance_ip6}/64",
                      text, count=1)
        dp = Dataplane("frag", lab, config_text=text, pmd="af_xdp")
        if args.split:
            i = dp.cmd.index("-l")  # three lcores on this 2-core machine: lcores 1..3 share CPU 1
            dp.cmd[i:i + 2] = ["--lcores", "0@0,1@1,2@1,3@1"]
        with dp:
            run(lab, dp)


def run(lab, dp):
    sub, pub = fragmenting(RawClient(lab)), fragmenting(RawClient(lab))
    try:
        check(sub.connect("fragsub") == 0, "subscriber: CONNACK refused")
        tid_s, rc = sub.subscribe("frag/big")
        check(rc == 0, f"SUBACK rc {rc}")
        check(pub.connect("fragpub") == 0, "publisher: CONNACK refused")
        tid_p = pub.register("frag/big")
        s0 = dp.snapshot()

        # 1. 6000 bytes, QoS 0
        data = pattern(6000 - HDR, 1)
        pcap = str(Path(dp.dir) / "out.pcap")
        with Capture(lab.cl_if, pcap, bpf=f"src host {lab.appliance_ip}", ns=lab.ns):
            pub.send(m_publish(tid_p, 0, data, F_QOS0))
            body = sub.expect(PUBLISH, 3.0)
        got = body[5:]
        check(len(got) == len(data) and got == data,
              f"subscriber got {len(got)} bytes, want the {len(data)} sent"
              + ("" if len(got) != len(data) else " (content differs)"))
        check(struct.unpack("!H", body[1:3])[0] == tid_s, "PUBLISH on another topic id")
        s1 = settled(dp, "the 6000-byte publish accounted for",
                     lambda s: events(s)["tx_fragmented"] > events(s0)["tx_fragmented"])
        ev0, ev1 = events(s0), events(s1)
        merged = totals(s1)["frag_merged"] - totals(s0)["frag_merged"]
        log(f"6000-byte message: frag_reassembled +{ev1['frag_reassembled'] - ev0['frag_reassembled']}, "
            f"frag_merged +{merged}, tx_fragmented +{ev1['tx_fragmented'] - ev0['tx_fragmented']}")
        check(ev1["frag_reassembled"] - ev0["frag_reassembled"] == 1, "want one datagram reassembled")
        check(merged == 4, f"frag_merged +{merged}, want 4 (5 fragments of 6017 UDP bytes at MTU 1500)")
        check(ev1["tx_fragmented"] - ev0["tx_fragmented"] == 1, "want the subscriber's copy sent as fragments")
        frags = tshark_fields(pcap, ["ip.id", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.len"],
                              "ip.flags.mf == 1 || ip.frag_offset > 0")
        log("fragments sent (id, DF, MF, offset, length): " + " ".join("/".join(f) for f in frags))
        check(len(frags) == 5 and len({f[0] for f in frags}) == 1 and int(frags[0][0], 0) != 0,
              f"want 5 fragments of one non-zero identification, got {frags}")
        check(all(f[1] in ("0", "False") and int(f[4]) <= 1500 for f in frags), "a fragment with DF or over 1500 bytes")
        whole = tshark_fields(pcap, ["mqttsn.msg.type", "udp.length"], "mqttsn")
        check(whole == [["0x0c", str(8 + len(data) + HDR)]] or whole == [["12", str(8 + len(data) + HDR)]],
              f"tshark's reassembly: want one PUBLISH of {8 + len(data) + HDR} UDP bytes, got {whole}")
        problems, detail = tshark_problems(pcap, lab.appliance_ip)
        check(not problems, f"tshark flags what the appliance sent:\n{problems}\n{detail[:3000]}")

        # 2. exactly the limit (QoS 1), then one byte more
        data = pattern(MAX_MSG - HDR, 2)
        pub.send(m_publish(tid_p, 77, data, F_QOS1))
        tid, mid, prc = struct.unpack("!HHB", pub.expect(PUBACK, 3.0))
        check(mid == 77 and prc == 0, f"PUBACK msg id {mid} rc {prc} for the {MAX_MSG}-byte message")
        got = sub.expect(PUBLISH, 3.0)[5:]
        check(got == data, f"subscriber got {len(got)} bytes of the {MAX_MSG}-byte message, want it whole")
        d0 = drops(dp.snapshot())
        pub.send(m_publish(tid_p, 78, pattern(MAX_MSG - HDR + 1, 3), F_QOS1))
        s2 = settled(dp, "the message one byte over the limit refused",
                     lambda s: drops(s)["message_too_big"] + drops(s)["frag_timeout"]
                     >= d0["message_too_big"] + d0["frag_timeout"] + 6)
        big, tmo = (drops(s2)[k] - d0[k] for k in ("message_too_big", "frag_timeout"))
        log(f"{MAX_MSG + 1}-byte message (6 fragments): message_too_big +{big}, frag_timeout +{tmo}")
        check(big == 6 and tmo == 0, f"want message_too_big +6, frag_timeout +0; got +{big}, +{tmo}")
        pub.expect_nothing(0.3)
        sub.expect_nothing(0.3)

        # 2b. QoS 1 subscriber: the retransmission is built from the held copy, a chain of mbufs
        q1 = fragmenting(RawClient(lab))
        try:
            check(q1.connect("fragq1") == 0, "QoS 1 subscriber: CONNACK refused")
            tid_q, rc = q1.subscribe("frag/q1", F_QOS1)
            check(rc == 0, f"SUBACK rc {rc} for the QoS 1 subscription")
            tid_pq = pub.register("frag/q1")
            r0 = events(dp.snapshot())["qos1_retransmits"]
            data = pattern(7000 - HDR, 5)
            pub.send(m_publish(tid_pq, 79, data, F_QOS1))
            check(struct.unpack("!HHB", pub.expect(PUBACK, 3.0))[1:] == (79, 0), "PUBACK for the 7000 bytes")
            first = q1.expect(PUBLISH, 3.0)
            flags, _, mid = struct.unpack("!BHH", first[:5])
            check(flags & F_QOS1 and first[5:] == data,
                  f"QoS 1 copy: flags 0x{flags:02x}, {len(first) - 5} bytes, want QoS 1 and the {len(data)} sent")
            again = q1.expect(PUBLISH, 5.0)  # not acknowledged: sent again after retry_interval_ms
            check(again[0] & F_DUP and struct.unpack("!H", again[3:5])[0] == mid and again[5:] == data,
                  f"retransmission: flags 0x{again[0]:02x}, {len(again) - 5} bytes, want DUP, msg id {mid} "
                  "and the message whole")
            q1.send(m_puback(tid_q, mid))
            s2b = settled(dp, "the QoS 1 copy acknowledged",
                          lambda s: events(s)["qos1_acked"] >= 1 and events(s)["qos1_retransmits"] > r0)
            log(f"7000-byte QoS 1 copy: sent, resent (qos1_retransmits +{events(s2b)['qos1_retransmits'] - r0}) "
                "and acknowledged, whole both times")
        finally:
            q1.close()

        # 3. far over the limit: the fragments that show it are refused at once, the others time out
        d0 = drops(dp.snapshot())
        pub.send(m_publish(tid_p, 0, pattern(20000 - HDR, 4), F_QOS0))
        s3 = settled(dp, "the 20000-byte message's 14 fragments refused",
                     lambda s: drops(s)["message_too_big"] + drops(s)["frag_timeout"]
                     >= d0["message_too_big"] + d0["frag_timeout"] + 14)
        d3 = drops(s3)
        big, tmo = d3["message_too_big"] - d0["message_too_big"], d3["frag_timeout"] - d0["frag_timeout"]
        log(f"20000-byte message (14 fragments): message_too_big +{big}, frag_timeout +{tmo}")
        check(big == 14 and tmo == 0, f"want message_too_big +14 and frag_timeout +0, got +{big} and +{tmo}")
        sub.expect_nothing(0.3)
    finally:
        sub.close()
        pub.close()

    # 4. forged fragments: table full, timeout, invalid
    raw = lab.raw_socket()
    try:
        d0 = drops(dp.snapshot())
        head = struct.pack("!HHHH", 40000, 1883, 8 + 64, 0)  # first fragment: UDP header + 8 bytes
        for ident in range(1, 7):
            raw_fragment(raw, lab.client_ip, lab.appliance_ip, ident, 0, True, head + bytes(8))
        s4 = settled(dp, "6 incomplete datagrams: 4 held then timed out, 2 refused",
                     lambda s: drops(s)["frag_timeout"] - d0["frag_timeout"] >= MAX_FLOWS)
        d4 = drops(s4)
        full, tmo = d4["frag_table_full"] - d0["frag_table_full"], d4["frag_timeout"] - d0["frag_timeout"]
        log(f"6 first fragments, max_flows {MAX_FLOWS}: frag_table_full +{full}, frag_timeout +{tmo}")
        check(full == 6 - MAX_FLOWS and tmo == MAX_FLOWS,
              f"want frag_table_full +{6 - MAX_FLOWS} and frag_timeout +{MAX_FLOWS}, got +{full}, +{tmo}")
        for _ in range(2):
            raw_fragment(raw, lab.client_ip, lab.appliance_ip, 99, 0, True, head + bytes(8))
        s5 = settled(dp, "a duplicated first fragment given up",
                     lambda s: drops(s)["frag_invalid"] > d4["frag_invalid"])
        inv = drops(s5)["frag_invalid"] - d4["frag_invalid"]
        check(inv == 2, f"frag_invalid +{inv}, want 2 (the datagram's first fragment and its duplicate)")
    finally:
        raw.close()

    ipv6_fragments(lab, dp)

    # every large buffer and fragment reference back in its pool: none leaked on any path above
    pools = {m["name"]: m for m in dp.snapshot()["mempools"]}
    log("pools in use: " + ", ".join(f"{n} {pools[n]['in_use']}/{pools[n]['size']}"
                                     for n in ("fo_large", "fo_indirect", "fo_held") if n in pools))
    check(pools["fo_large"]["in_use"] == 0 and pools["fo_indirect"]["in_use"] == 0 and pools["fo_held"]["in_use"] == 0,
          "large, indirect or held mbufs still in use after every message was accounted for")
    stats = dp.stop()
    check_conservation(stats)
    t = totals(stats)
    log(f"final: frag_merged {t['frag_merged']}, peer_forwards {t['events']['peer_forwards']}, drops "
        f"{dict((k, v) for k, v in t['drops'].items() if v and ('frag' in k or 'too_big' in k))}")


if __name__ == "__main__":
    run_test(main, __doc__, lambda ap: ap.add_argument("--split", action="store_true",
                                                       help="rx+tx, worker, worker on three lcores"))
