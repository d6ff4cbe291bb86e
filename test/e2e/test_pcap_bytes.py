#!/usr/bin/env python3
"""Exact wire bytes, pcap-driven, no lab: the dataplane runs on the net_pcap PMD
(--vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap, appliance 198.18.K.1/24 on a subnet the harness
leases, --duration 2).

Run 1 feeds a broadcast ARP request only, to learn the PMD's MAC (also read from the "port 0:"
log line). Run 2 feeds, from client 198.18.K.2 / 02:00:5e:10:00:02:
  ARP request who-has 198.18.K.1 (broadcast; teaches the appliance the client's MAC)
  ICMP echo request (id 0x4242, seq 1, 56 bytes of data)
  MQTT-SN CONNECT (client id "pcapcli", keepalive 30, clean session) from udp/40000 to 1883
  MQTT-SN PINGREQ
and checks out.pcap frame by frame against frames built here: the ARP reply, the ICMP echo
reply (IPv4 and ICMP checksums recomputed here), the CONNACK (03 05 00) and the PINGRESP (02 17),
with Ethernet/IPv4/UDP headers (addresses, ports, lengths, DF, TTL 64, valid checksums). Frames
shorter than 60 bytes may be zero-padded to 60 (what a NIC does). Conservation holds."""
import os
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Dataplane, SubnetLease, check, check_conservation, lab_config, log, m_connect,  # noqa: E402
                     m_pingreq, remove_workdir, run_test, workdir)

APP_IP = CLI_IP = None  # the appliance (.1) and the client (.2) of the leased subnet, set by main
CLI_MAC = bytes.fromhex("02005e100002")
BCAST = b"\xff" * 6
CLI_PORT, MQTTSN_PORT = 40000, 1883


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def mac_bytes(s):
    return bytes.fromhex(s.replace(":", ""))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, src, etype):
    return dst + src + struct.pack("!H", etype)


def ipv4(src, dst, proto, payload, ident=0, flags_frag=0x4000, ttl=64, tos=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, flags_frag, ttl, proto, 0, ip4(src), ip4(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(src, dst, sport, dport, data):
    ln = 8 + len(data)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, ln)
    h = struct.pack("!HHHH", sport, dport, ln, 0)
    ck = csum(pseudo + h + data) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, ln, ck) + data


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip4(spa), tha, ip4(tpa))


def icmp_echo(typ, ident, seq, data):
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    return struct.pack("!BBHHH", typ, 0, csum(h + data), ident, seq) + data


def pad60(frame):
    return frame + b"\0" * max(0, 60 - len(frame))


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    data = Path(path).read_bytes()
    check(len(data) >= 24, f"{path}: {len(data)} bytes, no pcap header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise AssertionError(f"{path}: not a pcap file (magic {magic.hex()})")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    check(linktype == 1, f"{path}: linktype {linktype}, want 1 (Ethernet)")
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def hexdump(b):
    return " ".join(b[i:i + 16].hex(" ") for i in range(0, len(b), 16))


def compare(name, got, want):
    """Exact match, or want zero-padded to 60 bytes when want is shorter."""
    ok = got == want or (len(want) < 60 and got == pad60(want))
    if not ok:
        diffs = [i for i in range(max(len(got), len(want)))
                 if i >= len(got) or i >= len(want) or got[i] != want[i]]
        raise AssertionError(f"{name}: bytes differ (got {len(got)} bytes, want {len(want)}; first differing "
                             f"offsets {diffs[:12]})\n  got : {hexdump(got)}\n  want: {hexdump(want)}")
    log(f"{name}: {len(got)} bytes match exactly")


def run_pcap(tag, frames):
    d = workdir(tag)
    try:
        inp, out = os.path.join(d, "in.pcap"), os.path.join(d, "out.pcap")
        write_pcap(inp, frames)
        cfg = lab_config(f"{APP_IP}/24", "net_pcap0")
        with Dataplane(tag, vdev=f"net_pcap0,rx_pcap={inp},tx_pcap={out}", config_text=cfg, duration=2) as dp:
            stats = dp.wait_exit(30)
            mac = dp.port_mac(0)
            log_text = dp.log()
        check(mac is not None, "no 'port 0: ... mac' line in the dataplane log:\n" + log_text)
        return mac_bytes(mac), read_pcap(out), stats
    finally:
        remove_workdir(d)


def main(args):
    with SubnetLease("pcap-bytes") as net:
        global APP_IP, CLI_IP
        APP_IP, CLI_IP = net.addr(1), net.addr(2)
        pcap_runs()


def pcap_runs():
    arp_req = eth(BCAST, CLI_MAC, 0x0806) + arp(1, CLI_MAC, CLI_IP, b"\0" * 6, APP_IP)
    arp_req = pad60(arp_req)
    mac, out1, stats1 = run_pcap("pcap1", [arp_req])
    log(f"net_pcap0 MAC {mac.hex(':')}; run 1 wrote {len(out1)} frame(s)")
    check_conservation(stats1)
    want_arp = pad60(eth(CLI_MAC, mac, 0x0806) + arp(2, mac, APP_IP, CLI_MAC, CLI_IP))
    check(len(out1) == 1, f"run 1: want exactly the ARP reply, got {len(out1)} frames: "
                          f"{[hexdump(f) for f in out1]}")
    compare("run 1 ARP reply", out1[0], want_arp)

    echo_data = bytes(range(56))
    echo_req = eth(mac, CLI_MAC, 0x0800) + ipv4(CLI_IP, APP_IP, 1, icmp_echo(8, 0x4242, 1, echo_data),
                                                ident=0x1234, flags_frag=0, ttl=64)
    connect = m_connect("pcapcli", 30)
    check(connect == bytes([13, 0x04, 0x04, 0x01, 0x00, 30]) + b"pcapcli", f"CONNECT encoding {connect.hex()}")
    connect_fr = eth(mac, CLI_MAC, 0x0800) + ipv4(CLI_IP, APP_IP, 17, udp(CLI_IP, APP_IP, CLI_PORT, MQTTSN_PORT, connect),
                                                  ident=1, flags_frag=0x4000)
    ping_fr = eth(mac, CLI_MAC, 0x0800) + ipv4(CLI_IP, APP_IP, 17, udp(CLI_IP, APP_IP, CLI_PORT, MQTTSN_PORT, m_pingreq()),
                                               ident=2, flags_frag=0x4000)
    mac2, out, stats = run_pcap("pcap2", [arp_req, echo_req, pad60(connect_fr), pad60(ping_fr)])
    check(mac2 == mac, f"the PMD's MAC changed between runs: {mac.hex(':')} then {mac2.hex(':')}")
    t = stats["totals"]
    log(f"run 2: out.pcap has {len(out)} frames; rx {t['rx']} delivered {t['delivered']} answered {t['answered']} "
        f"dropped {t['dropped']}; mqttsn_rx {t['mqttsn_rx']}")
    for i, f in enumerate(out):
        log(f"  out[{i}] {len(f)} B: {hexdump(f[:64])}{' ...' if len(f) > 64 else ''}")
    check_conservation(stats)
    check(t["rx"] == 4 and t["dropped"] == 0, f"run 2: want rx 4, dropped 0; got rx {t['rx']} drops "
                                                 f"{ {k: v for k, v in t['drops'].items() if v} }")

    want_echo = eth(CLI_MAC, mac, 0x0800) + ipv4(APP_IP, CLI_IP, 1, icmp_echo(0, 0x4242, 1, echo_data),
                                                 ident=0x1234, flags_frag=0, ttl=64)
    want_connack = eth(CLI_MAC, mac, 0x0800) + ipv4(APP_IP, CLI_IP, 17,
                                                    udp(APP_IP, CLI_IP, MQTTSN_PORT, CLI_PORT, b"\x03\x05\x00"))
    want_pingresp = eth(CLI_MAC, mac, 0x0800) + ipv4(APP_IP, CLI_IP, 17,
                                                     udp(APP_IP, CLI_IP, MQTTSN_PORT, CLI_PORT, b"\x02\x17"))
    check(len(out) == 4, f"run 2: want 4 frames (ARP reply, echo reply, CONNACK, PINGRESP), got {len(out)}")
    compare("ARP reply", out[0], want_arp)
    compare("ICMP echo reply", out[1], want_echo)
    compare("CONNACK", out[2], want_connack)
    compare("PINGRESP", out[3], want_pingresp)


if __name__ == "__main__":
    run_test(main, __doc__)
