#!/usr/bin/env python3
"""A copy too long for one UDP datagram is silently aborted (MQTT-SN 1.2 section 6.10): pcap-driven, no
lab. The dataplane runs on net_pcap (--vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap, --duration 2)
with a jumbo MTU (ports[0].mtu 9000, mempool.rx_buffer_bytes 9018, so a 9010-byte frame is one receive
mbuf) and the longest message it takes (limits.max_message_bytes 65489: 65535 less the Ethernet, 802.1Q,
IPv4 and UDP headers). No kernel or veth MTU is involved: the frames are built here and read back from
out.pcap.

A copy is never longer than the message that came in, except by a forwarder's encapsulation (5.5: length,
type, Ctrl and a Wireless Node Id of up to 16 bytes, 19 bytes in all). Only with a jumbo MTU does a
message that long arrive at all: 8 IPv4 fragments of 8976 bytes (DPDK reassembles at most 8), each
fragment at MTU 1500 would be 1480 bytes and the message 45 of them.

Clients of the leased subnet 198.18.K.0/24, each first sending an ARP request for the appliance:
  198.18.K.2 the publisher: CONNECT, then two PUBLISHes at QoS 1 to the predefined topic 7 ("big/blob"),
             each as 8 IPv4 fragments of jumbo frames: A with a 65479-byte payload (a 65488-byte
             message), B with a 65480-byte payload (65489 bytes, the limit);
  198.18.K.3 an ordinary subscriber: CONNECT, SUBSCRIBE "big/blob" at QoS 0;
  198.18.K.4 a forwarder for one node with a 16-byte node id: the node's CONNECT and SUBSCRIBE
             "big/blob" at QoS 0, encapsulated.
security.address_proof is off: with it on, each new session's CONNACK waits for the client to echo
the appliance's proof REGISTER, and a pcap written before the run cannot echo anything (the same
reason bench/workload.py turns it off).

Must hold: the ordinary subscriber gets both copies whole (its IP stack reassembles them from 8
fragments each, no frame over the MTU, DF clear), payload bytes identical, under the topic id its
SUBACK gave; the node gets copy A encapsulated (19 + 9 + 65479 = 65507 bytes, exactly the most one
UDP datagram over IPv4 holds) and nothing for B (65508 bytes): that copy is dropped as frame_too_big,
the only drop anywhere; the publisher gets its two PUBACKs (accepted) as normal. The events say two
datagrams reassembled, three fragmented, two Encapsulated messages in and three out (CONNACK, SUBACK,
copy A), out.pcap holds every frame the appliance counted as sent, and conservation holds."""
import os
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, F_QOS0, F_QOS1, PUBACK, PUBLISH, SUBACK, TID_PREDEFINED, Dataplane,  # noqa: E402
                     SubnetLease, check, check_conservation, decode, events, log, m_connect, m_publish,
                     m_subscribe, nonzero, remove_workdir, run_test, workdir)
from test_pcap_bytes import arp, csum, eth, ipv4, pad60, read_pcap, udp, write_pcap  # noqa: E402

MTU = 9000
MAX_MESSAGE = 65489                 # limits.max_message_bytes at its most
UDP_MAX = 65535 - 20 - 8            # the longest UDP payload over IPv4
PUB_HDR = 9                         # a PUBLISH in the 3-octet length form: 01 len len type flags tid msgid
NODE = bytes(range(0xA0, 0xB0))     # a 16-byte Wireless Node Id, the longest there is
ENCAP_HDR = 3 + len(NODE)           # length, type 0xFE, Ctrl, node id
ENCAPSULATED = 0xFE
TOPIC, TOPIC_ID = "big/blob", 7
PMD_MAC = "02:70:63:61:70:00"       # net_pcap's MAC for its first port (checked against the log)
MQTTSN_PORT = 1883
PAYLOAD_A = MAX_MESSAGE - PUB_HDR - 1   # the node's copy is exactly UDP_MAX bytes: sent
PAYLOAD_B = MAX_MESSAGE - PUB_HDR       # one byte more: over one datagram, aborted
MACS = {2: bytes.fromhex("02005e200002"), 3: bytes.fromhex("02005e200003"), 4: bytes.fromhex("02005e200004")}
PORTS = {2: 40002, 3: 40003, 4: 40004}


def encap(inner, ctrl=0):
    return bytes([ENCAP_HDR, ENCAPSULATED, ctrl]) + NODE + inner


def payload(tag, n):
    return bytes((tag * 31 + i * 7 + (i >> 8)) & 0xFF for i in range(n))


def config(app_ip):
    return f"""ports:
  - device: net_pcap0
    ipv4: {app_ip}/24
    mtu: {MTU}
lcores:
  - lcore: 1
    roles: [rx, worker, tx]
mempool: {{ mbufs: 4095, header_mbufs: 4095, large_mbufs: 64, rx_buffer_bytes: {MTU + 18} }}
limits: {{ max_message_bytes: {MAX_MESSAGE} }}
mqttsn:
  max_sessions: 64
  max_topics: 64
  max_client_topics: 256
  max_subscriptions: 256
  max_inflight: 256
  max_inflight_per_session: 16
  predefined_topics:
    - {{ id: {TOPIC_ID}, name: "{TOPIC}" }}
security:
  address_proof: false   # a pcap written before the run cannot echo the proof REGISTER
"""


class Net:
    def __init__(self, lease):
        self.app = lease.addr(1)
        self.ip = {h: lease.addr(h) for h in MACS}
        self.pmd = bytes.fromhex(PMD_MAC.replace(":", ""))

    def arp_request(self, h):
        return pad60(eth(b"\xff" * 6, MACS[h], 0x0806) + arp(1, MACS[h], self.ip[h], b"\0" * 6, self.app))

    def datagram(self, h, data, ident):
        fr = eth(self.pmd, MACS[h], 0x0800) + ipv4(self.ip[h], self.app, 17,
                                                   udp(self.ip[h], self.app, PORTS[h], MQTTSN_PORT, data),
                                                   ident=ident, flags_frag=0x4000)
        return pad60(fr)

    def fragments(self, h, data, ident):
        """The UDP datagram as IPv4 fragments of MTU-sized frames (DF clear, every one but the last
        MF and a multiple of 8 bytes)."""
        dgram = udp(self.ip[h], self.app, PORTS[h], MQTTSN_PORT, data)
        step = (MTU - 20) & ~7
        out = []
        for off in range(0, len(dgram), step):
            more = off + step < len(dgram)
            ff = (0x2000 if more else 0) | off // 8
            out.append(eth(self.pmd, MACS[h], 0x0800) + ipv4(self.ip[h], self.app, 17, dgram[off:off + step],
                                                             ident=ident, flags_frag=ff))
        return out


def parse_out(frames):
    """out.pcap's frames as whole UDP datagrams per destination IP: [(udp payload, fragments)], with
    the IPv4 fragments put back together here; also the ARP replies and the largest frame."""
    by_dst, partial, arps = {}, {}, 0
    for fr in frames:
        etype = struct.unpack("!H", fr[12:14])[0]
        if etype == 0x0806:
            arps += 1
            continue
        check(etype == 0x0800, f"out.pcap: ethertype {etype:#x}")
        ip = fr[14:]
        ihl = (ip[0] & 15) * 4
        total, ident, ff = struct.unpack("!HHH", ip[2:8])
        check(csum(ip[:ihl]) == 0, "out.pcap: a bad IPv4 header checksum")
        check(ip[9] == 17, f"out.pcap: IP protocol {ip[9]}")
        dst = ".".join(str(b) for b in ip[16:20])
        body = ip[ihl:total]
        if ff & 0x3FFF == 0:  # a whole datagram
            by_dst.setdefault(dst, []).append((ip[:ihl], body, 1))
            continue
        check(not ff & 0x4000, "out.pcap: a fragment with DF set")
        key = (dst, ident)
        p = partial.setdefault(key, {"parts": {}, "last": None, "hdr": ip[:ihl]})
        p["parts"][(ff & 0x1FFF) * 8] = body
        if not ff & 0x2000:
            p["last"] = (ff & 0x1FFF) * 8 + len(body)
        got = sum(len(b) for b in p["parts"].values())
        if p["last"] is not None and got == p["last"]:
            data = b"".join(p["parts"][o] for o in sorted(p["parts"]))
            check(len(data) == p["last"], f"out.pcap: fragments of {key} overlap or leave holes")
            by_dst.setdefault(dst, []).append((p["hdr"], data, len(p["parts"])))
            del partial[key]
    check(not partial, f"out.pcap: fragments of {len(partial)} datagram(s) never completed: {list(partial)}")
    out = {}
    for dst, lst in by_dst.items():
        for hdr, dgram, nfrag in lst:
            sport, dport, ulen, ck = struct.unpack("!HHHH", dgram[:8])
            check(ulen == len(dgram), f"to {dst}: UDP length {ulen} != datagram {len(dgram)}")
            pseudo = hdr[12:16] + hdr[16:20] + struct.pack("!BBH", 0, 17, ulen)
            check(ck != 0 and csum(pseudo + dgram) == 0, f"to {dst}: bad UDP checksum on a {ulen}-byte datagram")
            check(sport == MQTTSN_PORT, f"to {dst}: UDP source port {sport}")
            out.setdefault(dst, []).append((dport, dgram[8:], nfrag))
    return out, arps, max(len(f) for f in frames)


def main(args):
    with SubnetLease("too-long") as lease:
        run(Net(lease))


def run(net):
    pa, pb = payload(1, PAYLOAD_A), payload(2, PAYLOAD_B)
    pub_a = m_publish(TOPIC_ID, 1, pa, qos_flag=F_QOS1, tid_type=TID_PREDEFINED)
    pub_b = m_publish(TOPIC_ID, 2, pb, qos_flag=F_QOS1, tid_type=TID_PREDEFINED)
    check(len(pub_a) == MAX_MESSAGE - 1 and len(pub_b) == MAX_MESSAGE, f"PUBLISH sizes {len(pub_a)}, {len(pub_b)}")
    check(ENCAP_HDR + len(pub_a) == UDP_MAX and ENCAP_HDR + len(pub_b) == UDP_MAX + 1,
          "the node's copies straddle one datagram's limit")
    frags_a, frags_b = net.fragments(2, pub_a, 0x0A0A), net.fragments(2, pub_b, 0x0B0B)
    check(len(frags_a) == 8 and len(frags_b) == 8, f"{len(frags_a)}, {len(frags_b)} fragments; DPDK takes 8")
    check(max(len(f) for f in frags_a + frags_b) == 14 + MTU - 4, "fragments fill the MTU (8976 + 20 bytes)")
    frames = [net.arp_request(h) for h in (2, 3, 4)]
    frames += [net.datagram(2, m_connect("too-long-pub", 60), 1),
               net.datagram(3, m_connect("too-long-sub", 60), 2),
               net.datagram(4, encap(m_connect("too-long-node", 60)), 3),
               net.datagram(3, m_subscribe(TOPIC, 0x31, F_QOS0), 4),
               net.datagram(4, encap(m_subscribe(TOPIC, 0x41, F_QOS0)), 5)]
    frames += frags_a + frags_b

    d = workdir("too-long")
    try:
        inp, outp = os.path.join(d, "in.pcap"), os.path.join(d, "out.pcap")
        write_pcap(inp, frames)
        log(f"in.pcap: {len(frames)} frames, the largest {max(len(f) for f in frames)} bytes")
        with Dataplane("too-long", vdev=f"net_pcap0,rx_pcap={inp},tx_pcap={outp}", config_text=config(net.app),
                       duration=2) as dp:
            stats = dp.wait_exit(30)
            mac = dp.port_mac(0)
            text = dp.log()
        check(mac == PMD_MAC, f"net_pcap0's MAC is {mac}, the frames were built for {PMD_MAC}:\n{text}")
        check(f" mtu {MTU} " in text, f"the port line does not say mtu {MTU}:\n{text}")
        out = read_pcap(outp)
    finally:
        remove_workdir(d)

    t = stats["totals"]
    o = t["out"]
    ev = events(stats)
    summary = check_conservation(stats)
    by_dst, arps, largest = parse_out(out)
    log(f"out.pcap: {len(out)} frames (largest {largest} bytes), {arps} ARP replies, datagrams per client "
        f"{ {d: [(len(p), n) for _, p, n in v] for d, v in by_dst.items()} }")
    log(f"events: {nonzero(ev)}")
    check(largest <= 14 + MTU, f"a {largest}-byte frame left a port of MTU {MTU}")
    check(arps == 3, f"{arps} ARP replies, want 3")
    check(t["rx"] == len(frames), f"rx {t['rx']}, {len(frames)} frames fed")
    check(t["dropped"] == 0, f"rx drops: {nonzero(t['drops'])}")
    check(o["sent"] == len(out), f"the appliance counted {o['sent']} sent, out.pcap holds {len(out)}")
    check(nonzero(o["drops"]) == {"frame_too_big": 1},
          f"out drops {nonzero(o['drops'])}, want frame_too_big 1 (the node's copy of B) and nothing else")

    # the publisher: CONNACK, then a PUBACK (accepted) for each PUBLISH
    pub = [decode(p) for _, p, _ in by_dst.get(net.ip[2], [])]
    want = [(CONNACK, b"\x00"), (PUBACK, struct.pack("!HHB", TOPIC_ID, 1, 0)),
            (PUBACK, struct.pack("!HHB", TOPIC_ID, 2, 0))]
    check(pub == want, f"publisher got {[(m, b.hex()) for m, b in pub]}, want {[(m, b.hex()) for m, b in want]}")

    # the ordinary subscriber: CONNACK, SUBACK, both copies whole
    sub = by_dst.get(net.ip[3], [])
    check(all(dport == PORTS[3] for dport, _, _ in sub), "subscriber: a datagram to another port")
    types = [decode(p)[0] for _, p, _ in sub]
    check(types == [CONNACK, SUBACK, PUBLISH, PUBLISH], f"subscriber got types {types}")
    flags, tid, mid, rc = struct.unpack("!BHHB", decode(sub[1][1])[1])
    check(rc == 0 and mid == 0x31, f"SUBACK msgid {mid:#x} rc {rc}")
    for (_, p, nfrag), data, name in ((sub[2], pa, "A"), (sub[3], pb, "B")):
        mtype, body = decode(p)
        f2, tid2, mid2 = struct.unpack("!BHH", body[:5])
        # a name predefined for the receiver goes out under its predefined id, whatever id SUBACK gave
        check(f2 & 0x03 == TID_PREDEFINED and tid2 == TOPIC_ID and f2 & 0x60 == F_QOS0 and mid2 == 0,
              f"subscriber copy {name}: flags {f2:#x} topic {tid2} msgid {mid2}, want predefined {TOPIC_ID} "
              f"at QoS 0 (SUBACK gave topic {tid})")
        check(body[5:] == data, f"subscriber copy {name}: payload differs ({len(body) - 5} bytes, want {len(data)})")
        check(nfrag == 8, f"subscriber copy {name}: {nfrag} fragments, want 8 at MTU {MTU}")
        log(f"subscriber copy {name}: {len(p)}-byte PUBLISH, {nfrag} fragments, payload intact")

    # the node behind the forwarder: CONNACK, SUBACK and copy A encapsulated; nothing for B
    fwd = by_dst.get(net.ip[4], [])
    check(all(dport == PORTS[4] for dport, _, _ in fwd), "forwarder: a datagram to another port")
    inner = []
    for _, p, nfrag in fwd:
        check(p[0] == ENCAP_HDR and p[1] == ENCAPSULATED and p[2] == 0 and p[3:ENCAP_HDR] == NODE,
              f"forwarder: a datagram not encapsulated for the node: {p[:ENCAP_HDR].hex()}")
        inner.append((decode(p[ENCAP_HDR:]), len(p), nfrag))
    types = [m for (m, _), _, _ in inner]
    check(types == [CONNACK, SUBACK, PUBLISH],
          f"node got types {types}, want CONNACK, SUBACK and copy A only (copy B is over one datagram)")
    (_, body), size, nfrag = inner[2]
    check(size == UDP_MAX, f"node copy A: {size} bytes, want {UDP_MAX}")
    f2, tid2 = struct.unpack("!BH", body[:3])
    check(f2 & 0x03 == TID_PREDEFINED and tid2 == TOPIC_ID and f2 & 0x60 == F_QOS0,
          f"node copy A: flags {f2:#x} topic {tid2}")
    check(body[5:] == pa, "node copy A: payload differs")
    log(f"node copy A: {size}-byte Encapsulated PUBLISH (the most a datagram holds) in {nfrag} fragments; "
        f"copy B ({UDP_MAX + 1} bytes) dropped as frame_too_big")

    check(ev["frag_reassembled"] == 2, f"frag_reassembled {ev['frag_reassembled']}, want 2")
    check(ev["tx_fragmented"] == 3, f"tx_fragmented {ev['tx_fragmented']}, want 3 (two copies to the "
                                    f"subscriber, one to the node)")
    check(ev["encapsulated_rx"] == 2, f"encapsulated_rx {ev['encapsulated_rx']}, want 2")
    check(ev["encapsulated_tx"] == 3, f"encapsulated_tx {ev['encapsulated_tx']}, want 3 (CONNACK, SUBACK, copy A)")
    log("conservation: " + summary)


if __name__ == "__main__":
    run_test(main, __doc__)
