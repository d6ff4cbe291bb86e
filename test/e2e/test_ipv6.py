#!/usr/bin/env python3
"""IPv6 next to IPv4 on the lab: the client namespace gets 2001:2:0:K::2/64 (the benchmarking prefix,
RFC 5180, leased per lab like the IPv4 /24s), the appliance 2001:2:0:K::1/64 (ports[0].ipv6).

1. Neighbor Discovery and ICMPv6: `ping -6` of the appliance's address is answered, which needs the
   kernel's Neighbor Solicitation for it answered (the kernel then holds our MAC, REACHABLE or STALE)
   (the client learnt from its solicitation); a second client address that never solicited us gets its
   CONNACK once our own solicitation for it is answered (nd_solicitations_sent, frame_awaits_arp); the
   link-local address (fe80:: from the MAC) answers a ping too.
2. MQTT-SN over UDP/IPv6 next to IPv4: a subscriber on IPv6 and one on IPv4 on the same topic, a
   publisher on each family; every PUBLISH reaches both subscribers, each in its own family, and QoS 1
   PUBACKs come back over IPv6. A CleanSession=0 session over IPv6 is taken back from a new port of the
   same address with its subscription, and is not taken over from the client's IPv4 address.
3. tshark decodes what the appliance sent over IPv6 (NA, NS, echo replies and the MQTT-SN frames,
   among them the 3000-byte copy as 3 IPv6 fragments of one identification, reassembled) without a
   malformed field or an expert error, checksums verified.
4. The conservation sums hold after stop, and the IPv6 drops seen are named ones."""
import socket
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, F_QOS0, F_QOS1, PUBACK, PUBLISH, REGISTER, Capture, Dataplane, Lab,  # noqa: E402
                     RawClient, check, check_conservation, events, lab_config, log, m_connect, m_puback,
                     m_publish, run_test, scaled, tshark_fields, tshark_read, wait_until)

F_CLEAN_OFF = 0x00


def config_text(lab, device, overrides=None):
    """The lab's config (with overrides) and ports[0].ipv6, the appliance's lab IPv6 address."""
    text = lab_config(f"{lab.appliance_ip}/24", device, overrides)
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.strip().startswith("ipv4:"))
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    lines.insert(i + 1, f"{indent}ipv6: {lab.appliance_ip6}/64")
    return "\n".join(lines) + "\n"


def link_local(mac):
    b = bytes(int(x, 16) for x in mac.split(":"))
    eui = bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:6]
    return "fe80::" + ":".join(f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2))


def ping6(lab, addr, count=3):
    r = lab.run(["ping", "-6", "-n", "-c", str(count), "-i", "0.2", "-W", str(int(scaled(2))), addr], timeout=30,
                check_rc=False)
    log(f"ping -6 {addr}: {r.stdout.strip().splitlines()[-2] if r.stdout.strip() else r.stderr.strip()}")
    return r


def neighbour_state(lab, addr):
    r = lab.run(["ip", "-6", "neigh", "show", addr, "dev", lab.cl_if], check_rc=False)
    return r.stdout.strip()


def recv_publish(c, timeout=3.0):
    """The next PUBLISH (REGISTERs answered on the way): (topic id, msg id, flags, data)."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        m = c.recv(max(0.05, deadline - time.monotonic()))
        if m is None:
            continue
        mtype, b = m
        if mtype == REGISTER:
            c.regack(b)
            continue
        if mtype == PUBLISH:
            flags, tid, mid = struct.unpack("!BHH", b[:5])
            if flags & 0x60 == F_QOS1:
                c.send(m_puback(tid, mid))
            return tid, mid, flags, b[5:]
    return None


def pubsub_both_families(lab):
    sub6 = RawClient(lab, family=socket.AF_INET6)
    sub4 = RawClient(lab)
    pub6 = RawClient(lab, family=socket.AF_INET6)
    pub4 = RawClient(lab)
    try:
        check(sub6.connect("v6sub") == 0, "IPv6 subscriber: CONNACK refused")
        check(sub4.connect("v4sub") == 0, "IPv4 subscriber: CONNACK refused")
        for c in (sub6, sub4):
            _, rc = c.subscribe("mixed/+/t", F_QOS1)
            check(rc == 0, f"SUBACK rc {rc}")
        check(pub6.connect("v6pub") == 0, "IPv6 publisher: CONNACK refused")
        check(pub4.connect("v4pub") == 0, "IPv4 publisher: CONNACK refused")
        t6 = pub6.register("mixed/6/t")
        t4 = pub4.register("mixed/4/t")
        n = 5
        for i in range(n):
            for pub, tid, fam in ((pub6, t6, "v6"), (pub4, t4, "v4")):
                mid = pub.next_id()
                pub.send(m_publish(tid, mid, f"{fam} {i}".encode(), F_QOS1))
                body = pub.expect(PUBACK)
                check(struct.unpack("!HHB", body)[2] == 0, f"{fam} publisher: PUBACK {body.hex()}")
        for sub, fam in ((sub6, "IPv6"), (sub4, "IPv4")):
            got = set()
            for _ in range(2 * n):
                p = recv_publish(sub)
                check(p is not None, f"{fam} subscriber: {len(got)} of {2 * n} publishes arrived")
                got.add(p[3])
            want = {f"{fam2} {i}".encode() for fam2 in ("v6", "v4") for i in range(n)}
            check(got == want, f"{fam} subscriber got {sorted(got)}")
            log(f"{fam} subscriber: all {2 * n} publishes of both families arrived")
    finally:
        for c in (sub6, sub4, pub6, pub4):
            c.close()


def sessions_over_ipv6(lab):
    """CleanSession=0 over IPv6 behaves as over IPv4: a new port of the same address (NAT rebinding)
    takes the session back with its subscription; a live, proven session is not taken over from
    another address, and an IPv4 and an IPv6 address are two addresses (connect_rejected_owner)."""
    c6 = RawClient(lab, family=socket.AF_INET6)
    try:
        c6.send(m_connect("v6persistent", 60, F_CLEAN_OFF))
        check(c6.expect(CONNACK)[0] == 0, "CleanSession=0 CONNACK over IPv6 refused")
        _, rc = c6.subscribe("moving/topic", F_QOS0)
        check(rc == 0, f"SUBACK rc {rc}")
    finally:
        c6.close()
    again = RawClient(lab, family=socket.AF_INET6)  # another source port of the same address
    pub = RawClient(lab)
    v4 = RawClient(lab)
    try:
        again.send(m_connect("v6persistent", 60, F_CLEAN_OFF))
        check(again.expect(CONNACK, skip=(REGISTER,))[0] == 0, "CleanSession=0 CONNACK from a new port refused")
        check(pub.connect("movingpub") == 0, "publisher CONNACK refused")
        tid = pub.register("moving/topic")
        deadline = time.monotonic() + scaled(5)
        p = None
        while p is None and time.monotonic() < deadline:  # until the new port has echoed its proof
            pub.send(m_publish(tid, 0, b"after the rebinding", F_QOS0))
            p = recv_publish(again, 0.5)
        check(p is not None and p[3] == b"after the rebinding",
              "the session taken back from a new IPv6 port did not get the publish on its subscription")
        log("CleanSession=0 session resumed from a new IPv6 port with its subscription")
        v4.send(m_connect("v6persistent", 60, F_CLEAN_OFF))
        rc = v4.expect(CONNACK)[0]
        check(rc == 0x03, f"a CONNECT over IPv4 took the proven IPv6 session over (CONNACK {rc:#x})")
        log("the proven IPv6 session stayed with its owner against a CONNECT over IPv4 (CONNACK 0x03)")
    finally:
        again.close()
        pub.close()
        v4.close()


def large_over_ipv6(lab):
    """A 3000-byte PUBLISH over IPv6 crosses the link as IPv6 fragments (the client kernel splits it at
    MTU 1500; net_af_packet's defragmentation is IPv4's only): reassembled (rte_ipv6_frag), accepted,
    PUBACKed over IPv6 and delivered whole to an IPv4 subscriber (in IPv4 fragments) and to an IPv6
    one (in IPv6 fragments, which the client kernel reassembles)."""
    sub = RawClient(lab)
    sub6 = RawClient(lab, family=socket.AF_INET6)
    pub = RawClient(lab, family=socket.AF_INET6)
    try:
        check(sub.connect("bigsub") == 0, "subscriber CONNACK refused")
        check(sub6.connect("bigsub6") == 0, "IPv6 subscriber CONNACK refused")
        for c in (sub, sub6):
            _, rc = c.subscribe("big/t", F_QOS0)
            check(rc == 0, f"SUBACK rc {rc}")
        check(pub.connect("bigpub6") == 0, "IPv6 publisher CONNACK refused")
        tid = pub.register("big/t")
        data = bytes(i % 251 for i in range(3000))
        mid = pub.next_id()
        pub.send(m_publish(tid, mid, data, F_QOS1))  # the 3-octet length form
        ack = pub.expect(PUBACK, timeout=5)
        check(struct.unpack("!HHB", ack)[2] == 0, f"PUBACK {ack.hex()}")
        p = recv_publish(sub, 5)
        check(p is not None and p[3] == data, "the IPv4 subscriber did not get the 3000 bytes whole")
        p = recv_publish(sub6, 5)
        check(p is not None and p[3] == data, "the IPv6 subscriber did not get the 3000 bytes whole")
        log("3000-byte PUBLISH over IPv6: reassembled from fragments, PUBACKed, delivered whole over IPv4 "
            "and over IPv6")
    finally:
        for c in (sub, sub6, pub):
            c.close()


def main(args):
    with Lab("ipv6") as lab:
        lab.enable_ipv6()
        cap_path = f"/tmp/fanout-e2e-ipv6-{lab.subnet}.pcap"
        with Dataplane("ipv6", lab=lab, config_text=config_text(lab, lab.vdev().split(",")[0])) as dp:
            check(f"ipv6 {lab.appliance_ip6}/64" in dp.log(), "the dataplane did not report its IPv6 address")
            ll = link_local(dp.port_mac())
            with Capture(lab.cl_if, cap_path, bpf="ip6", ns=lab.ns):
                # until the first echo is answered (the client's IPv6 comes up with the test), then
                # three in a row
                wait_until("ping -6 of the appliance answered", lambda: ping6(lab, lab.appliance_ip6, 1).returncode == 0,
                           timeout=15, step=0.2)
                r = ping6(lab, lab.appliance_ip6)
                check(r.returncode == 0 and " 0% packet loss" in r.stdout, f"ping -6 not answered:\n{r.stdout}")
                st = neighbour_state(lab, lab.appliance_ip6)
                check(dp.port_mac().lower() in st.lower() and any(x in st for x in ("REACHABLE", "STALE", "DELAY")),
                      f"the kernel did not resolve {lab.appliance_ip6} to our MAC: {st!r}")
                log(f"kernel neighbour entry: {st}")
                r = ping6(lab, f"{ll}%{lab.cl_if}", count=2)
                check(r.returncode == 0, f"ping -6 of the link-local {ll} not answered:\n{r.stdout}")
                # A second client address that never solicited us (the kernel's entry for our address
                # serves it): our CONNACK to it waits for our own Neighbor Solicitation to be answered.
                third = lab.addr6(3)
                lab.run(["ip", "-6", "addr", "add", f"{third}/64", "dev", lab.cl_if, "nodad"])
                c3 = RawClient(lab, bind_ip=third, family=socket.AF_INET6)
                try:
                    check(c3.connect("v6third") == 0, f"client at {third}: CONNACK refused")
                finally:
                    c3.close()
                log(f"client at {third}: CONNACK after our Neighbor Solicitation for it")
                pubsub_both_families(lab)
                sessions_over_ipv6(lab)
                large_over_ipv6(lab)
            snap = dp.snapshot()
            port = snap["ports"][0]
            check(port["ipv6"] == f"{lab.appliance_ip6}/64" and port["neighbours6"] >= 2,
                  f"stats port: ipv6 {port['ipv6']!r}, neighbours6 {port['neighbours6']}")
            ev = events(snap)
            check(ev["nd_solicitations_sent"] >= 1 and ev["nd_learnt"] >= 2 and ev["frame_awaits_arp"] >= 1 and ev["connect_rejected_owner"] == 1 and ev["frag_reassembled"] >= 1,
                  f"no ND resolution of the client: {({k: v for k, v in ev.items() if k.startswith('nd_')})}")
            check(ev["tx_fragmented"] == 2, f"tx_fragmented {ev['tx_fragmented']}: want the 3000 bytes sent as "
                  "IPv4 fragments to one subscriber and as IPv6 fragments to the other")
            final = dp.stop()
        check_conservation(final)
        drops = {k: v for k, v in final["totals"]["drops"].items() if v}
        log(f"drops: {drops}")
        # what the client kernel sends besides: MLD reports (33:33:00:00:00:16) are not for us
        check(set(drops) <= {"eth_not_for_us", "ip6_not_for_us"}, f"unexpected drops {drops}")
        # tshark: what the appliance sent over IPv6
        ours = f"ipv6.src == {lab.appliance_ip6} || ipv6.src == {ll}"
        flt = f"({ours}) && (_ws.malformed || _ws.expert.severity >= \"Error\")"
        bad = tshark_read(cap_path, ["-Y", flt]).strip()
        check(not bad, f"tshark flags frames the appliance sent over IPv6:\n{bad}\n" +
              tshark_read(cap_path, ["-Y", flt, "-V"]))
        rows = tshark_fields(cap_path, ["icmpv6.type", "mqttsn.msg.type"], display_filter=ours)
        icmp = {r[0] for r in rows if r[0]}
        mq = {r[1] for r in rows if len(r) > 1 and r[1]}
        log(f"appliance IPv6 frames: ICMPv6 types {sorted(icmp)}, MQTT-SN types {sorted(mq)}, {len(rows)} frames")
        check({"129", "135", "136"} <= icmp, f"ICMPv6 types sent {icmp}: want echo reply, NS and NA")
        check({"0x05", "0x0b", "0x0c", "0x0d", "0x13"} <= mq, f"MQTT-SN types sent over IPv6 {mq}")
        frags = tshark_fields(cap_path, ["ipv6.fraghdr.ident", "ipv6.fraghdr.more", "ipv6.plen"],
                              display_filter=f"({ours}) && ipv6.fraghdr")
        big = tshark_fields(cap_path, ["udp.length"], display_filter=f"({ours}) && mqttsn && ipv6.fragments")
        log(f"IPv6 fragments the appliance sent (id, M, payload length): {frags}; reassembled: {big}")
        check(len(frags) == 3 and len({f[0] for f in frags}) == 1 and
              [f[1] in ("1", "True") for f in frags] == [True, True, False], f"want 3 fragments of one datagram: {frags}")
        check(big == [[str(8 + 9 + 3000)]], f"tshark did not reassemble the 3000-byte PUBLISH (UDP {8 + 9 + 3000}): {big}")
        Path(cap_path).unlink(missing_ok=True)


if __name__ == "__main__":
    run_test(main, "IPv6: ND, ICMPv6 echo, MQTT-SN over UDP/IPv6 next to IPv4, tshark, conservation")
