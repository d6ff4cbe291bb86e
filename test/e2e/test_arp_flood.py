#!/usr/bin/env python3
"""ARP flood against the dataplane's neighbour table, from the lab's client namespace through a raw
AF_PACKET socket on its veth (every address inside 198.18.0.0/15):

  20,000 frames with random sender MACs, paced at 10,000/s:
    requests for the appliance from on-link senders 198.18.K.10-127   -> answered; learnt while
                                                                          there is room (arp_not_learnt after)
    replies to the appliance from on-link senders 198.18.K.128-254    -> drops.arp_unsolicited
    requests and replies from off-link senders (198.19.x.y, 198.18.K+1.y) -> drops.arp_off_link
    replies claiming the static neighbour 198.18.K.2 with another MAC  -> drops.arp_static_conflict
  against a table of `neighbours: 64` with 198.18.K.2 (client A) configured static.

Then: client A (static) still gets PINGRESP; client B (198.18.K.3), which never spoke before the
flood, gets CONNACK and PINGRESP (its pending entry evicts the oldest learnt one); 5,000 ICMP echo
requests from spoofed on-link sources 198.18.K.128-254 (each an address we then ask ARP for, in vain)
evict the flood's entries and each other but not client B's, whose next PINGREQ is answered at once,
and the ARP requests they cause stay within arp_requests_per_s (1000/s); the table never
holds more than its capacity; every drop reason counts at most what was sent of its kind (exactly,
when no frame was lost on the veth). With `arp_max_age_s: 3`, the flood's entries are then freed by
aging (events.arp_expired), both clients still get PINGRESP, and conservation holds after stop."""
import os
import random
import socket
import struct
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, PINGRESP, Dataplane, Lab, RawClient, TestFailure, _libc, CLONE_NEWNET,  # noqa: E402
                     check, check_conservation, events, lab_config, log, m_connect, m_pingreq, nonzero, run_test,
                     scaled)

CAPACITY = 64
FRAMES = 20000
SEND_LIMIT_S = 30.0
RATE = 10000  # frames/s: fast for ARP, slow enough that the af_packet ring keeps up on a shared 2-core box
ECHOES = 5000
MAX_AGE_S = 3  # arp_max_age_s: short, so the garbage the flood left is seen to go
RETRY_S = 1.0  # a client's wait before it repeats: below MAX_AGE_S, or its fresh entry ages out first


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip_bytes(s):
    return socket.inet_aton(s)


def arp_frame(op, eth_dst, sender_mac, sender_ip, target_mac, target_ip):
    eth = eth_dst + sender_mac + struct.pack("!H", 0x0806)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sender_mac + sender_ip + target_mac + target_ip
    return (eth + arp).ljust(60, b"\0")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def echo_frame(dp_mac, smac, src, dst, ident, seq):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"fanout-arp-flood"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return (dp_mac + smac + struct.pack("!H", 0x0800) + ip + icmp).ljust(60, b"\0")


def send_paced(s, frames):
    """Send at RATE frames/s; returns (sent, seconds)."""
    t0 = time.monotonic()
    n = 0
    for f in frames:
        s.send(f)
        n += 1
        if n % 50 == 0:
            ahead = t0 + n / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        if time.monotonic() - t0 > SEND_LIMIT_S:
            break
    return n, time.monotonic() - t0


def random_mac(rng):
    return bytes([0x02, 0xfa] + [rng.randrange(256) for _ in range(4)])  # locally administered unicast


def build_flood(rng, lab, dp_mac):
    """(frames, sent-per-kind) for the flood; sender addresses by kind as in the docstring."""
    appl = ip_bytes(lab.appliance_ip)
    bcast = b"\xff" * 6
    zero = b"\0" * 6
    frames, sent = [], {"req_on": 0, "rep_on": 0, "off": 0, "static": 0}
    for i in range(FRAMES):
        smac = random_mac(rng)
        r = rng.random()
        if r < 0.40:
            sip = ip_bytes(lab.addr(rng.randrange(10, 128)))
            frames.append(arp_frame(1, bcast, smac, sip, zero, appl))
            sent["req_on"] += 1
        elif r < 0.70:
            sip = ip_bytes(lab.addr(rng.randrange(128, 255)))
            frames.append(arp_frame(2, dp_mac, smac, sip, smac, appl))
            sent["rep_on"] += 1
        elif r < 0.95:
            off = lab.off_link(rng)
            op = 1 if rng.random() < 0.5 else 2
            frames.append(arp_frame(op, bcast if op == 1 else dp_mac, smac, ip_bytes(off), zero, appl))
            sent["off"] += 1
        else:
            frames.append(arp_frame(2, dp_mac, smac, ip_bytes(lab.client_ip), smac, appl))
            sent["static"] += 1
    return frames, sent


def raw_socket_in(lab):
    """An AF_PACKET socket bound to the client veth, made inside the namespace by this thread's
    switch there and back (the socket stays bound to the namespace's interface)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/var/run/netns/{lab.ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError("setns into the lab namespace failed")
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
            s.bind((lab.cl_if, 0))
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError("setns back failed")
    finally:
        os.close(fd)
        os.close(own)
    return s


def connect_retrying(c, client_id, tries=5):
    """CONNECT until CONNACK: the first answer to a client the table does not know yet is lost
    while its ARP is under way (out drop no_neighbour), so a client repeats, as MQTT-SN ones do."""
    for i in range(round(scaled(tries))):  # a slow build may answer later; the interval stays
        c.send(m_connect(client_id, 60))
        m = c.recv(RETRY_S)
        while m is not None and m[0] != CONNACK:
            m = c.recv(RETRY_S)
        if m is not None:
            return m[1][0], i + 1
    raise TestFailure(f"{client_id}: no CONNACK after {round(scaled(tries))} CONNECTs")


def ping_retrying(c, tries=3):
    """PINGREQ until PINGRESP: after its entry aged out, a client's first answer waits for ARP."""
    for i in range(round(scaled(tries))):
        c.send(m_pingreq())
        m = c.recv(RETRY_S)
        if m is not None and m[0] == PINGRESP:
            return i + 1
    raise TestFailure(f"no PINGRESP after {tries} PINGREQs")


def main(args):
    with Lab("arp", clients=2) as lab:
        client_a, client_b = lab.client_ips[0], lab.client_ips[1]
        check(client_a == lab.addr(2) and client_b == lab.addr(3), f"lab clients {lab.client_ips}")
        cfg = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0],
                         {"neighbours": CAPACITY, "arp_max_age_s": MAX_AGE_S})
        anchor = "    mqttsn_port: 1883\n"
        check(anchor in cfg, "deploy/lab.yaml changed: no port mqttsn_port line to anchor static_neighbours")
        cfg = cfg.replace(anchor, anchor + f"    static_neighbours: [{{ ip: {client_a}, mac: \"{lab.cl_mac}\" }}]\n")
        with Dataplane("arpflood", lab, config_text=cfg) as dp:
            dp_mac = mac_bytes(dp.port_mac() or lab.dp_mac)
            a = RawClient(lab, bind_ip=client_a)
            b = RawClient(lab, bind_ip=client_b)
            try:
                rc, n = connect_retrying(a, "arp-a")
                check(rc == 0, f"client A CONNACK rc {rc}")
                a.send(m_pingreq())
                a.expect(PINGRESP)
                log(f"client A ({client_a}, static neighbour): CONNACK after {n} CONNECT(s), PINGRESP")
                before = dp.snapshot()

                rng = random.Random(0xa2f)
                frames, sent = build_flood(rng, lab, dp_mac)
                s = raw_socket_in(lab)
                try:
                    n_sent, took = send_paced(s, frames)
                finally:
                    s.close()
                check(n_sent == FRAMES, f"sent {n_sent} of {FRAMES} frames within {SEND_LIMIT_S} s")
                log(f"flood: {n_sent} ARP frames in {took:.2f} s ({n_sent / took:.0f}/s): {sent}")
                during = dp.settled_snapshot()

                a.send(m_pingreq())
                a.expect(PINGRESP)
                log("client A after the flood: PINGRESP")
                rc, n = connect_retrying(b, "arp-b")
                check(rc == 0, f"client B CONNACK rc {rc}")
                b.send(m_pingreq())
                b.expect(PINGRESP)
                log(f"client B ({client_b}, new after the flood): CONNACK after {n} CONNECT(s), PINGRESP")
                after = dp.snapshot()

                # Spoofed on-link sources we must answer (ICMP echo): each unknown one makes us ask
                # ARP for an address that never answers. Those pending entries evict the flood's old
                # entries, then each other; client B's fresh entry stays, so B's next PINGREQ is
                # answered at once.
                appl = ip_bytes(lab.appliance_ip)
                echoes = [echo_frame(dp_mac, random_mac(rng), ip_bytes(lab.addr(rng.randrange(128, 255))), appl,
                                     0x4f4e, i & 0xffff) for i in range(ECHOES)]
                s = raw_socket_in(lab)
                t_echo = time.monotonic()
                try:
                    n_echo, took_echo = send_paced(s, echoes)
                finally:
                    s.close()
                echoed = dp.settled_snapshot()
                echo_span = time.monotonic() - t_echo  # the echoes' ARP requests all fall within this
                b.send(m_pingreq())
                b.expect(PINGRESP, timeout=1.0)
                log(f"{n_echo} ICMP echoes from spoofed on-link sources in {took_echo:.2f} s; client B's next "
                    f"PINGREQ answered at once")
                time.sleep(MAX_AGE_S + 1.5)  # max age, then one sweep of the table (64 slots x 10 ms)
                aged = dp.snapshot()
                n_a, n_b = ping_retrying(a), ping_retrying(b)
                log(f"after aging: client A PINGRESP after {n_a} PINGREQ(s), client B after {n_b}")
            finally:
                a.close()
                b.close()

            def delta(x, y, key):
                return y["totals"]["drops"][key] - x["totals"]["drops"][key]

            dr = {r: delta(before, during, r) for r in ("arp_unsolicited", "arp_off_link", "arp_static_conflict")}
            ev = {e: events(during)[e] - events(before)[e] for e in ("arp_learnt", "arp_not_learnt", "arp_evicted",
                                                                      "arp_expired")}
            rx = during["totals"]["rx"] - before["totals"]["rx"]
            answered = during["totals"]["answered"] - before["totals"]["answered"]
            log(f"received {rx} of {n_sent} flood frames; answered {answered}; drops {dr}; events {ev}")
            neigh = [x["ports"][0]["neighbours"] for x in (before, during, after)]
            log(f"neighbour table entries before/after flood/after client B: {neigh} (capacity {CAPACITY})")
            check(all(x <= CAPACITY for x in neigh), f"table holds more than its capacity {CAPACITY}: {neigh}")
            check(rx >= n_sent // 2, f"the dataplane saw only {rx} of {n_sent} frames: no flood to speak of")
            check(0 < dr["arp_unsolicited"] <= sent["rep_on"], f"arp_unsolicited {dr['arp_unsolicited']} "
                  f"not in 1..{sent['rep_on']} (on-link replies sent)")
            check(0 < dr["arp_off_link"] <= sent["off"], f"arp_off_link {dr['arp_off_link']} not in 1..{sent['off']}")
            check(0 < dr["arp_static_conflict"] <= sent["static"],
                  f"arp_static_conflict {dr['arp_static_conflict']} not in 1..{sent['static']}")
            check(0 < answered <= sent["req_on"], f"answered {answered} not in 1..{sent['req_on']} (requests sent)")
            check(ev["arp_not_learnt"] > 0, "the table never filled: flood too small for the capacity")
            # Every flood frame the dataplane saw is one of the four fates above.
            fates = answered + dr["arp_unsolicited"] + dr["arp_off_link"] + dr["arp_static_conflict"]
            check(fates == rx, f"flood frames received {rx} != answered + the three ARP drops {fates}")
            if rx == n_sent:  # nothing lost on the veth: each kind counted exactly
                got = (answered, dr["arp_unsolicited"], dr["arp_off_link"], dr["arp_static_conflict"])
                want = (sent["req_on"], sent["rep_on"], sent["off"], sent["static"])
                check(got == want, f"answered/unsolicited/off-link/static-conflict {got} != sent {want}")
            ev_b = {e: events(after)[e] - events(during)[e] for e in ("arp_evicted", "arp_learnt")}
            log(f"client B's arrival: {ev_b}")
            check(ev_b["arp_evicted"] >= 1, "client B's entry found room without evicting: the table was not full")
            expired = events(aged)["arp_expired"] - events(after)["arp_expired"]
            left = aged["ports"][0]["neighbours"]
            log(f"{MAX_AGE_S + 1.5:.1f} s later: {left} entries left, {expired} expired")
            check(expired >= CAPACITY // 2, f"only {expired} entries expired after {MAX_AGE_S} s")
            check(left <= 3, f"{left} entries left after aging (want the static client and at most clients B"
                             f" and one more)")
            ev_e = {e: events(echoed)[e] - events(after)[e]
                    for e in ("arp_evicted", "arp_requests_sent", "arp_request_limited")}
            log(f"the echo flood: {ev_e}; table {echoed['ports'][0]['neighbours']} entries")
            check(ev_e["arp_evicted"] > 0 and ev_e["arp_requests_sent"] > 0,
                  f"the echoes from unknown sources made no pending entries: {ev_e}")
            # arp_requests_per_s (default 1000, bursts of 100) bounds the broadcasts they cause
            bound = 1000 * (echo_span + 1.0) + 100
            check(ev_e["arp_requests_sent"] <= bound and ev_e["arp_request_limited"] > 0,
                  f"ARP requests {ev_e['arp_requests_sent']} for {n_echo} echoes: want at most {bound:.0f},"
                  " some limited")
            check(echoed["ports"][0]["neighbours"] <= CAPACITY, "table over capacity after the echo flood")
            stats = dp.stop()
            log(f"final: neighbours {stats['ports'][0]['neighbours']}; arp events "
                f"{ {e: v for e, v in nonzero(events(stats)).items() if e.startswith('arp')} }")
            check(stats["ports"][0]["neighbours"] <= CAPACITY, "table over capacity at exit")
            check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
