#!/usr/bin/env python3
"""MQTT-SN workload pcaps for fanout-dataplane benchmarks (net_pcap replay, pktgen profiles).

Writes into --out DIR:
  preamble.pcap  for port 0: every client's ARP request for the appliance, CONNECT, then the subscribers'
                 SUBSCRIBEs (exact topic names or one wildcard each) — the sessions a benchmark runs on;
  steady.pcap    for port 1: the publishers' ARP requests (so PUBACKs resolve) and then rounds of PUBLISHes
                 over the topics, payload sizes and QoS mix asked for; meant to be replayed in a loop
                 (net_pcap infinite_rx=1);
  dataplane.yaml a dataplane config for the two ports (net_pcap0 = preamble, net_pcap1 = steady), with the
                 topics predefined (publishes use predefined topic ids) and tables sized for the workload;
  workload.json  what was generated: clients, addresses, topics, per-frame-kind counts, expected fan-out.

Addresses (all in 198.18.0.0/15): port 0 is 198.18.200.1/24, port 1 198.18.201.1/16 (so the clients in
198.18.200.0/24 are on-link on both ports). Clients share a few IPs and differ by UDP port. Subscribers
subscribe at QoS 0 (a looped capture never acknowledges QoS 1 deliveries). The Ethernet destination of
each frame is the MAC net_pcap gives its port (02:70:63:61:70:<n>, n = creation order) unless --mac0/--mac1.

  bench/workload.py --out /tmp/wl --publishers 4 --subscribers 16 --topics 8 --payload 64 --qos-mix 0
  bench/workload.py --out /tmp/wl --subscribers 64 --wildcard --payload 16,64,256,1024 --qos-mix 0:90,1:10"""
import argparse
import json
import struct
import sys
from pathlib import Path

APPLIANCE = ("198.18.200.1", "198.18.201.1")
CLIENT_NET = "198.18.200."
CLIENTS_PER_IP = 64
MQTTSN_PORT = 1883

# MQTT-SN v1.2 message types and flags
CONNECT, SUBSCRIBE, PUBLISH = 0x04, 0x12, 0x0C
F_CLEAN = 0x04
TID_NORMAL, TID_PREDEFINED = 0x00, 0x01
QOS_FLAG = {0: 0x00, 1: 0x20, -1: 0x60}


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def udp_frame(smac, dmac, sip, dip, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, ip4(sip), ip4(dip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    c = csum(ip4(sip) + ip4(dip) + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return dmac + smac + b"\x08\x00" + ip + udp


def arp_request(smac, sip, target_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, smac, ip4(sip), b"\0" * 6, ip4(target_ip))
    return b"\xff" * 6 + smac + b"\x08\x06" + body


def mqttsn(mtype, body):
    n = len(body) + 2
    if n < 256:
        return struct.pack("!BB", n, mtype) + body
    return struct.pack("!BHB", 1, n + 2, mtype) + body


def m_connect(cid, keepalive=3600):
    return mqttsn(CONNECT, struct.pack("!BBH", F_CLEAN, 1, keepalive) + cid.encode())


def m_subscribe(topic, msgid):
    return mqttsn(SUBSCRIBE, struct.pack("!BH", QOS_FLAG[0] | TID_NORMAL, msgid) + topic.encode())


def m_publish(topic_id, msgid, qos, data):
    return mqttsn(PUBLISH, struct.pack("!BHH", QOS_FLAG[qos] | TID_PREDEFINED, topic_id, msgid) + data)


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.n = 0

    def add(self, frame):
        if len(frame) < 60:
            frame = frame + b"\0" * (60 - len(frame))
        self.f.write(struct.pack("<IIII", self.n // 1000000, self.n % 1000000, len(frame), len(frame)) + frame)
        self.n += 1

    def close(self):
        self.f.close()


class Client:
    def __init__(self, kind, i, idx):
        self.kind, self.i = kind, i
        host = 10 + idx // CLIENTS_PER_IP
        self.ip = f"{CLIENT_NET}{host}"
        self.mac = bytes([0x02, 0x66, 0x62, 0x00, host >> 8, host & 0xFF])
        self.port = 20000 + idx % CLIENTS_PER_IP
        self.cid = f"{kind}{i}"


def parse_mix(s):
    """'0' or '0:90,1:10' -> [(qos, weight)]"""
    out = []
    for part in s.split(","):
        q, _, w = part.partition(":")
        q = int(q)
        if q not in QOS_FLAG:
            raise SystemExit(f"--qos-mix: QoS {q} is not -1, 0 or 1")
        out.append((q, int(w) if w else 100))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--subscribers", type=int, default=1, help="every subscriber subscribes to every topic")
    ap.add_argument("--topics", type=int, default=4)
    ap.add_argument("--topic-pattern", default="bench/t{t}", help="topic names; {t} is the topic index")
    ap.add_argument("--wildcard", action="store_true",
                    help="subscribers use one wildcard filter (the pattern's {t} level -> +) instead of exact names")
    ap.add_argument("--payload", default="64", help="payload sizes in bytes, cycled: 64 or 16,64,256,1024")
    ap.add_argument("--qos-mix", default="0", help="publish QoS weights: 0, or 0:90,1:10 (QoS -1 allowed)")
    ap.add_argument("--frames", type=int, default=8192, help="PUBLISH frames in steady.pcap (default 8192)")
    ap.add_argument("--mac0", default="02:70:63:61:70:00")
    ap.add_argument("--mac1", default="02:70:63:61:70:01")
    ap.add_argument("--ports", default="net_pcap0,net_pcap1", help="device names for dataplane.yaml")
    ap.add_argument("--lcore", type=int, default=1)
    ap.add_argument("--sink", action="store_true",
                    help="dataplane.yaml also routes every topic to a Redis Streams sink (written-mode PUBACKs) "
                         "at 127.0.0.1:6379 (for fanout-core-replay, which models the sink's ring)")
    a = ap.parse_args()

    sizes = [int(x) for x in a.payload.split(",")]
    if any(s < 1 or s > 1400 for s in sizes):
        raise SystemExit("--payload: sizes must be 1..1400 bytes")
    if a.publishers < 1 or a.subscribers < 0 or a.topics < 1 or a.topics > 60000:
        raise SystemExit("need >= 1 publisher, >= 0 subscribers, 1..60000 topics")
    mix = parse_mix(a.qos_mix)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    topics = [a.topic_pattern.format(t=t) for t in range(a.topics)]
    subs = [Client("s", i, i) for i in range(a.subscribers)]
    pubs = [Client("p", i, a.subscribers + i) for i in range(a.publishers)]
    gw_mac = (mac(a.mac0), mac(a.mac1))
    counts = {"arp": 0, "connect": 0, "subscribe": 0, "publish": 0}

    pre = Pcap(out / "preamble.pcap")
    seen_ip = set()
    for c in subs + pubs:
        if c.ip not in seen_ip:
            pre.add(arp_request(c.mac, c.ip, APPLIANCE[0]))
            counts["arp"] += 1
            seen_ip.add(c.ip)
    for c in subs + pubs:
        pre.add(udp_frame(c.mac, gw_mac[0], c.ip, APPLIANCE[0], c.port, MQTTSN_PORT, m_connect(c.cid)))
        counts["connect"] += 1
    # a wildcard subscriber's filter: every level of the pattern that holds {t} becomes '+'
    wild_filter = "/".join("+" if "{t}" in lv else lv for lv in a.topic_pattern.split("/"))
    filters = [wild_filter] if a.wildcard else topics
    for c in subs:
        for k, f in enumerate(filters):
            pre.add(udp_frame(c.mac, gw_mac[0], c.ip, APPLIANCE[0], c.port, MQTTSN_PORT, m_subscribe(f, k + 1)))
            counts["subscribe"] += 1
    pre.close()

    st = Pcap(out / "steady.pcap")
    for ip_ in sorted({c.ip for c in pubs}):
        c = next(p for p in pubs if p.ip == ip_)
        st.add(arp_request(c.mac, c.ip, APPLIANCE[1]))
    steady_arp = st.n
    wsum = sum(w for _, w in mix)
    qos_seq = []
    for q, w in mix:
        qos_seq += [q] * w
    msgid = {p.cid: 0 for p in pubs}
    per_qos = {}
    per_size = {}
    for n in range(a.frames):
        p = pubs[n % len(pubs)]
        t = (n // len(pubs)) % len(topics)
        q = qos_seq[(n * 37) % wsum]  # spread the mix evenly over the frames
        size = sizes[n % len(sizes)]
        mid = 0
        if q == 1:
            msgid[p.cid] = msgid[p.cid] % 65535 + 1
            mid = msgid[p.cid]
        data = struct.pack("!I", n) + bytes((n + i) & 0xFF for i in range(max(0, size - 4)))
        st.add(udp_frame(p.mac, gw_mac[1], p.ip, APPLIANCE[1], p.port, MQTTSN_PORT, m_publish(t + 1, mid, q,
                                                                                              data[:size])))
        per_qos[q] = per_qos.get(q, 0) + 1
        per_size[size] = per_size.get(size, 0) + 1
    counts["publish"] = a.frames
    st.close()

    n_clients = len(subs) + len(pubs)
    dev0, dev1 = a.ports.split(",")
    predefined = "\n".join(f'    - {{ id: {i + 1}, name: "{t}" }}' for i, t in enumerate(topics))
    (out / "dataplane.yaml").write_text(f"""# generated by bench/workload.py {' '.join(sys.argv[1:])}
ports:
  - device: {dev0}
    ipv4: {APPLIANCE[0]}/24
  - device: {dev1}
    ipv4: {APPLIANCE[1]}/16
lcores:
  - lcore: {a.lcore}
    roles: [rx, worker, tx]
burst: 32
rings: {{ worker: 8192, tx: 16384, peer: 1024 }}
mempool: {{ mbufs: 65535, header_mbufs: 65535, cache: 256 }}
mqttsn:
  max_sessions: {max(1024, 2 * n_clients)}
  max_topics: {max(1024, 2 * len(topics) + 16)}
  max_client_topics: {max(4096, 4 * n_clients * min(len(topics), 64))}
  max_subscriptions: {max(4096, 2 * len(subs) * len(filters))}
  max_inflight: 65536
  max_inflight_per_session: 1024
  predefined_topics:
{predefined}
security:
  address_proof: false      # a replayed capture cannot echo the appliance's proof REGISTER
  sessions_per_source: 0    # the workload's clients share a few addresses (one per {CLIENTS_PER_IP} ports)
""" + ("""routes:
  - { name: to-redis, filter: "#", sink: redis, stream: "fanout:{topic}" }
sinks:
  - name: redis
    redis: 127.0.0.1:6379
    puback: written
""" if a.sink else ""))
    desc = {
        "args": vars(a), "publishers": len(pubs), "subscribers": len(subs), "topics": topics,
        "filters": filters, "fanout": len(subs), "payload_sizes": per_size, "qos": per_qos,
        "preamble_frames": pre.n, "steady_frames": st.n, "steady_arp_frames": steady_arp,
        "steady_publish_frames": a.frames, "sink": a.sink, "counts": counts, "appliance": APPLIANCE,
        "clients": [{"id": c.cid, "ip": c.ip, "port": c.port} for c in subs + pubs],
    }
    (out / "workload.json").write_text(json.dumps(desc, indent=1) + "\n")
    print(f"workload: {len(pubs)} publishers, {len(subs)} subscribers x {len(filters)} "
          f"{'wildcard' if a.wildcard else 'exact'} filters, {len(topics)} topics; preamble {pre.n} frames, "
          f"steady {st.n} frames (payload {','.join(map(str, sizes))} B, QoS {per_qos}) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
