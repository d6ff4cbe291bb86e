#!/usr/bin/env python3
"""Gateway discovery (MQTT-SN 6.1, the `discovery:` config), seen from the lab client namespace.

The dataplane advertises every second (discovery.interval_s: 1) to the default destination, the
limited broadcast on its MQTT-SN port, and may broadcast 2 GWINFOs a second per worker.
  1. A UDP socket bound to 0.0.0.0:1883 in the namespace receives ADVERTISE from the appliance's
     address and port: GwId 1 (mqttsn.gateway_id), Duration 1, sent to 255.255.255.255 with TTL 1
     (discovery.ttl), one about every second (each gap 0.7..1.6 s); events.advertise_sent counts them.
  2. SEARCHGW sent to the subnet broadcast from port P: GWINFO (GwId 1) comes back to the subnet
     broadcast and port P, its TTL the search's radius (1 -> 1, 0 -> 255: the whole network, 5.3.9).
     A third search within the same second is over the budget: answered to the searcher alone
     (gwinfo_broadcast_limited). A SEARCHGW sent to the appliance's own address is answered to the
     searcher alone.
  3. Another run advertising to one host (the client's address, port 9999, not yet resolved): the first
     advert waits for ARP and goes out on a retry; ADVERTISE arrives at that address.
  4. Another advertising to the multicast group 239.1.2.3:9998 with TTL 4: a socket that joined the
     group receives it, sent to the group with TTL 4; a SEARCHGW (radius 1) that socket sends to the
     group is answered by GWINFO to the group and its port (from the appliance's 1883), TTL 1.
  5. Over IPv6 (ports[0].ipv6, the client's IPv6 on): discovery.destination6 ff02::4d51 with port6 9997
     and TTL 3. A socket in the client namespace joined to the group on the client veth receives
     ADVERTISE from the appliance's global IPv6 address and 1883, sent to the group with hop limit 3;
     its SEARCHGWs to the group (radius 1, then 0) are answered by GWINFO to the group and 9997, hop
     limit 1 and 255 (gwinfo_broadcast); one to the appliance's own IPv6 address by GWINFO to the
     searcher alone. tshark decodes the appliance's frames to the group as MQTT-SN without a malformed
     field or an expert error, checksums verified. Another run with discovery.gwinfo: unicast answers
     a SEARCHGW to the group to the searcher alone.
Conservation holds after each stop."""
import socket
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Capture, Dataplane, Lab, check, check_conservation, events, log, msg,  # noqa: E402
                     run_test, scaled, tshark_fields, tshark_read, wait_until)
from test_ipv6 import config_text, link_local  # noqa: E402

IP_PKTINFO, IP_RECVTTL, IP_TTL = 8, 12, 2
SO_TIMESTAMPNS = 35  # SCM_TIMESTAMPNS too: the kernel's receive time, not when this process got to it
ADVERTISE, SEARCHGW, GWINFO = 0x00, 0x01, 0x02
ADVERTS = 4


def listener(lab, port):
    def make():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind(("0.0.0.0", port))
        s.settimeout(0.2)
        return s
    return lab._in_ns(make)


def recv(s):
    """(data, source, header destination address, TTL) of the next datagram, or None. recv.at: its
    kernel receive time in seconds (SO_TIMESTAMPNS), or None when the socket does not ask for it."""
    try:
        data, anc, _, src = s.recvmsg(2048, 256)
    except socket.timeout:
        return None
    dst = ttl = recv.at = None
    for level, kind, val in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", val[:16])
            recv.at = sec + nsec / 1e9
        elif level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            dst = socket.inet_ntoa(val[8:12])
        elif level == socket.IPPROTO_IP and kind == IP_TTL:
            ttl = struct.unpack("i", val[:4])[0]
    return data, src, dst, ttl


def expect_gwinfo(s, what):
    got = wait_until(f"GWINFO for {what}", lambda: recv(s), timeout=5)
    data, src, dst, ttl = got
    log(f"{what}: {data.hex()} from {src[0]}:{src[1]} to {dst}, TTL {ttl}")
    check(data == bytes([3, GWINFO, 1]), f"{what}: not GWINFO GwId 1: {data.hex()}")
    return src, dst, ttl


def joined(lab, group, port):
    s = listener(lab, port)
    mreq = socket.inet_aton(group) + socket.inet_aton(lab.client_ip)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return s


def adverts(s, n, timeout):
    """The first n ADVERTISE datagrams on s as (data, source, destination, TTL), within timeout."""
    seen = []
    deadline = time.monotonic() + scaled(timeout)
    while len(seen) < n and time.monotonic() < deadline:
        r = recv(s)
        if r and r[0][1:2] == bytes([ADVERTISE]):
            seen.append(r)
    check(len(seen) == n, f"{len(seen)} ADVERTISE within {scaled(timeout):.0f} s, want {n}")
    return seen


def group_search(lab, sock, group, port):
    """SEARCHGW (radius 1) from sock to the group: GWINFO comes back to the group and its port."""
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(lab.client_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.sendto(msg(SEARCHGW, bytes([1])), (group, port))

    def gwinfo():
        r = recv(sock)
        return r if r and r[0][1:2] == bytes([GWINFO]) else None
    data, src, dst, ttl = wait_until("GWINFO for a SEARCHGW to the group", gwinfo, timeout=5)
    log(f"SEARCHGW to {group}:{port}: {data.hex()} from {src[0]}:{src[1]} to {dst}, TTL {ttl}")
    check(data == bytes([3, GWINFO, 1]) and src == (lab.appliance_ip, 1883) and dst == group and ttl == 1,
          f"GWINFO {data.hex()} from {src} to {dst} TTL {ttl}, want 030201 from {lab.appliance_ip}:1883 "
          f"to {group} with TTL 1")


def elsewhere(lab, tag, dest, ttl, sock, search=False):
    """A dataplane advertising every second to dest with TTL ttl; two adverts on sock. search: a
    SEARCHGW from sock to dest (a group) is answered to the group."""
    ov = {"discovery": {"advertise": True, "interval_s": 1, "destination": dest, "ttl": ttl}}
    with Dataplane(tag, lab, overrides=ov) as dp:
        seen = adverts(sock, 2, 6)
        ip = dest.split(":")[0]
        log(f"to {dest}: " + ", ".join(f"{d.hex()} from {s[0]}:{s[1]} to {a} TTL {t}" for d, s, a, t in seen))
        check(all(d == bytes([5, ADVERTISE, 1, 0, 1]) and s == (lab.appliance_ip, 1883) and a == ip and t == ttl
                  for d, s, a, t in seen), f"adverts to {dest}: {seen}")
        if search:
            group_search(lab, sock, ip, int(dest.split(":")[1]))
        stats = dp.stop()
        check(events(stats)["advertise_sent"] >= 2, f"advertise_sent {events(stats)['advertise_sent']}")
        if search:
            check(events(stats)["gwinfo_broadcast"] == 1, f"gwinfo_broadcast {events(stats)['gwinfo_broadcast']}")
        check_conservation(stats)
        return stats


GROUP6, PORT6 = "ff02::4d51", 9997


def v6_config(lab, discovery):
    """The lab's config with ports[0].ipv6 (the appliance's lab address) and these discovery keys."""
    return config_text(lab, lab.vdev().split(",")[0], {"discovery": discovery})


def joined6(lab):
    """A socket on [::]:PORT6 in the client namespace, joined to GROUP6 on the client veth, which its
    own sends to the group leave by (not looped back to it)."""
    def make():
        ifindex = socket.if_nametoindex(lab.cl_if)  # the namespace's interface index
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        s.bind(("::", PORT6))
        mreq = socket.inet_pton(socket.AF_INET6, GROUP6) + struct.pack("@I", ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        s.settimeout(0.2)
        return s, ifindex
    return lab._in_ns(make)


def recv6(s):
    """(data, source address and port, header destination address, hop limit) of the next datagram."""
    try:
        data, anc, _, src = s.recvmsg(2048, 256)
    except socket.timeout:
        return None
    dst = hlim = None
    for level, kind, val in anc:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            dst = socket.inet_ntop(socket.AF_INET6, val[:16])
        elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT:
            hlim = struct.unpack("i", val[:4])[0]
    return data, src[:2], dst, hlim


def gwinfo6(sock, what):
    def got():
        r = recv6(sock)
        return r if r and r[0][1:2] == bytes([GWINFO]) else None
    data, src, dst, hlim = wait_until(f"GWINFO for {what}", got, timeout=5)
    log(f"{what}: {data.hex()} from [{src[0]}]:{src[1]} to {dst}, hop limit {hlim}")
    check(data == bytes([3, GWINFO, 1]), f"{what}: not GWINFO GwId 1: {data.hex()}")
    return src, dst, hlim


def over_ipv6(lab):
    """Part 5: ADVERTISE to the IPv6 group, SEARCHGW on it answered to it, tshark, conservation."""
    lab.enable_ipv6()
    cap_path = f"/tmp/fanout-e2e-disc6-{lab.subnet}.pcap"
    disc = {"advertise": True, "interval_s": 1, "destination6": GROUP6, "port6": PORT6, "ttl": 3}
    sock, ifindex = joined6(lab)
    try:
        with Capture(lab.cl_if, cap_path, bpf="ip6 and udp", ns=lab.ns), \
                Dataplane("disc-v6", lab=lab, config_text=v6_config(lab, disc)) as dp:
            seen = []
            deadline = time.monotonic() + scaled(8)
            while len(seen) < 2 and time.monotonic() < deadline:
                r = recv6(sock)
                if r and r[0][1:2] == bytes([ADVERTISE]):
                    seen.append(r)
            log("IPv6 adverts: " + ", ".join(f"{d.hex()} from [{s[0]}]:{s[1]} to {a} hop limit {h}"
                                             for d, s, a, h in seen))
            check(len(seen) == 2, f"{len(seen)} ADVERTISE to {GROUP6} within {scaled(8):.0f} s, want 2")
            check(all(d == bytes([5, ADVERTISE, 1, 0, 1]) and s == (lab.appliance_ip6, 1883) and a == GROUP6 and
                      h == 3 for d, s, a, h in seen),
                  f"IPv6 adverts {seen}, want 0500010001 from [{lab.appliance_ip6}]:1883 to {GROUP6}, hop limit 3")
            for radius, want in ((1, 1), (0, 255)):
                sock.sendto(msg(SEARCHGW, bytes([radius])), (GROUP6, PORT6, 0, ifindex))
                src, dst, hlim = gwinfo6(sock, f"a SEARCHGW to {GROUP6} with radius {radius}")
                check(src == (lab.appliance_ip6, 1883) and dst == GROUP6 and hlim == want,
                      f"GWINFO from {src} to {dst} hop limit {hlim}, want from [{lab.appliance_ip6}]:1883 to "
                      f"{GROUP6} with hop limit {want}")
            sock.sendto(msg(SEARCHGW, bytes([1])), (lab.appliance_ip6, 1883))
            src, dst, _ = gwinfo6(sock, "a SEARCHGW to the appliance's IPv6 address")
            check(src == (lab.appliance_ip6, 1883) and dst == lab.client_ip6,
                  f"unicast search: GWINFO from {src} to {dst}, want to the searcher {lab.client_ip6}")
            stats = dp.stop()
        ev = events(stats)
        log(f"advertise_sent {ev['advertise_sent']}, gwinfo_broadcast {ev['gwinfo_broadcast']}, "
            f"gwinfo_broadcast_limited {ev['gwinfo_broadcast_limited']}")
        check(ev["advertise_sent"] >= 4, f"advertise_sent {ev['advertise_sent']}: want IPv4 and IPv6 adverts")
        check(ev["gwinfo_broadcast"] == 2 and ev["gwinfo_broadcast_limited"] == 0,
              f"gwinfo_broadcast {ev['gwinfo_broadcast']} (want 2), limited {ev['gwinfo_broadcast_limited']}")
        check_conservation(stats)
        ours = f"ipv6.src == {lab.appliance_ip6} && ipv6.dst == {GROUP6}"
        dec = ["-d", f"udp.port=={PORT6},mqttsn"]
        flt = f"({ours}) && (_ws.malformed || _ws.expert.severity >= \"Error\")"
        bad = tshark_read(cap_path, dec + ["-Y", flt]).strip()
        check(not bad, f"tshark flags frames the appliance sent to {GROUP6}:\n{bad}")
        rows = tshark_fields(cap_path, ["mqttsn.msg.type", "ipv6.hlim", "udp.dstport", "udp.checksum.status"],
                             display_filter=f"({ours}) && mqttsn")
        kinds = {(r[0], r[1], r[2]) for r in rows}
        log(f"tshark, the appliance's frames to {GROUP6} (type, hop limit, port): {sorted(kinds)}")
        check({("0x00", "3", str(PORT6)), ("0x02", "1", str(PORT6)), ("0x02", "255", str(PORT6))} <= kinds,
              f"tshark saw {sorted(kinds)}: want ADVERTISE (hop limit 3) and GWINFO (1, 255) to port {PORT6}")
        check(all(r[3] == "1" for r in rows), f"UDP checksum status {[r[3] for r in rows]}, want all good (1)")
        Path(cap_path).unlink(missing_ok=True)
        Path(cap_path + ".stderr").unlink(missing_ok=True)
        # discovery.gwinfo: unicast: the searcher alone, the group or not
        with Dataplane("disc-v6u", lab=lab, config_text=v6_config(lab, dict(disc, gwinfo="unicast"))) as dp:
            sock.sendto(msg(SEARCHGW, bytes([1])), (GROUP6, PORT6, 0, ifindex))
            src, dst, _ = gwinfo6(sock, f"a SEARCHGW to {GROUP6} under gwinfo: unicast")
            # the kernel sends to a link-local group from its link-local address: the answer goes
            # there, from ours (the searcher's scope)
            ll = link_local(dp.port_mac())
            check(src[1] == 1883 and src[0] in (lab.appliance_ip6, ll) and not dst.startswith("ff") and
                  (dst == lab.client_ip6 or dst.startswith("fe80:")),
                  f"gwinfo: unicast: GWINFO from {src} to {dst}, want to the searcher alone")
            stats = dp.stop()
        check(events(stats)["gwinfo_broadcast"] == 0, f"gwinfo_broadcast {events(stats)['gwinfo_broadcast']}")
        check_conservation(stats)
    finally:
        sock.close()


def main(args):
    ov = {"discovery": {"advertise": True, "interval_s": 1, "gwinfo_broadcasts_per_s": 2}}
    with Lab("disc") as lab, Dataplane("disc", lab, overrides=ov) as dp:
        bcast = ".".join(lab.client_ip.split(".")[:3]) + ".255"
        wait_until("an echo reply from the appliance", lambda: lab.run(
            ["ping", "-c", "1", "-W", "1", lab.appliance_ip], check_rc=False).returncode == 0, timeout=10)
        adv = listener(lab, 1883)
        seen = []
        deadline = time.monotonic() + scaled(ADVERTS + 4)
        while len(seen) < ADVERTS and time.monotonic() < deadline:
            r = recv(adv)
            if r and r[0][1:2] == bytes([ADVERTISE]):
                seen.append((recv.at,) + r)  # the arrival, not when this (maybe descheduled) process read it
        adv.close()
        check(len(seen) == ADVERTS, f"{len(seen)} ADVERTISE within {scaled(ADVERTS + 4):.0f} s, want {ADVERTS}")
        gaps = [round(b[0] - a[0], 2) for a, b in zip(seen, seen[1:])]
        t, data, src, dst, ttl = seen[0]
        log(f"ADVERTISE {data.hex()} from {src[0]}:{src[1]} to {dst}, TTL {ttl}; gaps {gaps} s")
        check(all(x[1] == bytes([5, ADVERTISE, 1, 0, 1]) for x in seen),
              f"ADVERTISE bodies {[x[1].hex() for x in seen]}, want 0500010001 (GwId 1, Duration 1 s)")
        check(all(x[2] == (lab.appliance_ip, 1883) and x[3] == "255.255.255.255" and x[4] == 1 for x in seen),
              f"ADVERTISE addressing {[(x[2], x[3], x[4]) for x in seen]}, want from {lab.appliance_ip}:1883 "
              "to 255.255.255.255 with TTL 1")
        check(all(0.7 <= g <= scaled(1.6) for g in gaps), f"ADVERTISE gaps {gaps} s, want about 1 s each")
        sent = events(dp.snapshot())["advertise_sent"]
        check(sent >= ADVERTS, f"events.advertise_sent {sent}, want >= {ADVERTS}")

        srch = listener(lab, 41234)
        try:
            srch.sendto(msg(SEARCHGW, bytes([1])), (bcast, 1883))
            _, dst, ttl = expect_gwinfo(srch, "a broadcast SEARCHGW, radius 1")
            check(dst == bcast and ttl == 1, f"radius 1: GWINFO to {dst} with TTL {ttl}, want {bcast} with TTL 1")
            srch.sendto(msg(SEARCHGW, bytes([0])), (bcast, 1883))
            _, dst, ttl = expect_gwinfo(srch, "a broadcast SEARCHGW, radius 0")
            check(dst == bcast and ttl == 255, f"radius 0: GWINFO to {dst} with TTL {ttl}, want {bcast} with TTL 255")
            srch.sendto(msg(SEARCHGW, bytes([1])), (bcast, 1883))
            _, dst, _ = expect_gwinfo(srch, "a third broadcast SEARCHGW in the second")
            check(dst == lab.client_ip, f"over the budget: GWINFO to {dst}, want the searcher {lab.client_ip}")
            srch.sendto(msg(SEARCHGW, bytes([1])), (lab.appliance_ip, 1883))
            src, dst, _ = expect_gwinfo(srch, "a SEARCHGW to the appliance's address")
            check(dst == lab.client_ip and src == (lab.appliance_ip, 1883),
                  f"unicast search: GWINFO from {src} to {dst}, want from {lab.appliance_ip}:1883 to {lab.client_ip}")
        finally:
            srch.close()
        ev = events(dp.snapshot())
        log(f"advertise_sent {ev['advertise_sent']}, gwinfo_broadcast {ev['gwinfo_broadcast']}, "
            f"gwinfo_broadcast_limited {ev['gwinfo_broadcast_limited']}")
        check(ev["gwinfo_broadcast"] == 2 and ev["gwinfo_broadcast_limited"] == 1,
              f"gwinfo_broadcast {ev['gwinfo_broadcast']} (want 2), "
              f"gwinfo_broadcast_limited {ev['gwinfo_broadcast_limited']} (want 1)")
        stats = dp.stop()
        check_conservation(stats)

    with Lab("disc2") as lab:
        sock = listener(lab, 9999)
        try:
            st = elsewhere(lab, "disc-host", f"{lab.client_ip}:9999", 1, sock)
        finally:
            sock.close()
        check(events(st)["arp_requests_sent"] >= 1, "the host was never asked for by ARP")
        sock = joined(lab, "239.1.2.3", 9998)
        try:
            elsewhere(lab, "disc-group", "239.1.2.3:9998", 4, sock, search=True)
        finally:
            sock.close()

    with Lab("disc3") as lab:
        over_ipv6(lab)


if __name__ == "__main__":
    run_test(main, __doc__.splitlines()[0])
