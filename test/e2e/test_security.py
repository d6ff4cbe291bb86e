#!/usr/bin/env python3
"""Attacks from a hostile network, against a real dataplane on the lab (docs/security.md):

  reflection      CONNECT + SUBSCRIBE '#' forged with a victim's address (raw socket), then 500
                  publishes: the victim gets no PUBLISH and no more frame bytes than were forged in
                  its name; the unproven session ends after security.proof_timeout_ms.
  keepalive 0     refused (CONNACK 0x03) by default.
  session theft   CONNECT clean=0 with a live, proven ClientId from another address: CONNACK 0x03;
                  the owner gets all 20 messages, the other address none.
  packet loop     DISCONNECT (and PUBACK) from an unknown address: no reply at all.
  exhaustion      REGISTER flood past security.topics_per_session: refused 0x01 past the quota
                  while another client still registers; CONNECTs past security.sessions_per_source
                  from one address refused 0x01 while another address still connects.
  error replies   a flood of requests from an unknown address gets at most the error-reply burst.
  martians        source port < 1024, source 127.0.0.1 and the appliance's own address: dropped
                  under their named reasons.
Conservation holds at the end."""
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, DISCONNECT, PUBLISH, REGACK, REGISTER, Dataplane,  # noqa: E402
                     Lab, RawClient, RawSender, check, check_conservation, decode, events, log, m_connect,
                     m_disconnect, m_pingreq, m_publish, m_puback, m_register, m_subscribe, nonzero, run_test, wait_until,
                     wire_bytes)

TOPICS_QUOTA = 40
SESSIONS_QUOTA = 6
ERR_BURST = 10


def drain(sock, wait=0.3):
    """Every datagram that arrives on sock until it is quiet for `wait` s: [(type, body, size)]."""
    got = []
    sock.settimeout(wait)
    while True:
        try:
            data, _ = sock.recvfrom(65535)
        except OSError:
            return got
        try:
            t, body = decode(data)
        except ValueError:
            t, body = -1, data
        got.append((t, body, len(data)))


def publish_n(pub, tid, n, tag):
    for i in range(n):
        pub.send(m_publish(tid, 0, f"{tag}-{i}".encode()))


def main(args):
    overrides = {
        "security.topics_per_session": TOPICS_QUOTA,
        "security.sessions_per_source": SESSIONS_QUOTA,
        "security.error_replies_per_s": 1,
        "security.error_reply_burst": ERR_BURST,
        "security.proof_timeout_ms": 1500,
    }
    with Lab("sec", clients=4) as lab, Dataplane("sec", lab, overrides=overrides) as dp:
        owner_ip, other_ip, victim_ip, many_ip = lab.client_ips[:4]
        raw = RawSender(lab)
        pub = RawClient(lab)
        socks = [raw, pub]
        try:
            # The appliance learns a client's MAC from its ARP request; the lab's secondary
            # addresses share one interface whose kernel already knows the appliance, so let each
            # of them speak once (the answer's ARP resolution) before the scenarios count replies.
            for ip in (owner_ip, other_ip, victim_ip, many_ip):
                w = lab.udp_socket(ip, 0)
                wait_until(f"an answer at {ip}", lambda: w.sendto(m_pingreq(), (lab.appliance_ip, 1883)) and drain(w, 0.3))
                w.close()
            check(pub.connect("sec-pub") == 0, "publisher refused")
            tid = pub.register("sec/t")

            # ---- reflection: a forged CONNECT + SUBSCRIBE '#' in the victim's name
            victim = lab.udp_socket(victim_ip, 40001)
            socks.append(victim)
            raw.send(victim_ip, 40001, m_connect("forged", 0))  # keepalive 0: refused
            raw.send(victim_ip, 40001, m_connect("forged", 60))
            raw.send(victim_ip, 40001, m_subscribe("#", 1))
            forged_frames, forged_wire = raw.sent_frames, raw.sent_wire
            publish_n(pub, tid, 500, "refl")
            wait_until("the 500 publishes to be handled",
                     lambda: events(dp.snapshot())["publish_accepted"] >= 500)
            got = drain(victim, 0.5)
            types = [t for t, _, _ in got]
            wire = sum(wire_bytes(n) for _, _, n in got)
            log(f"reflection: forged {forged_frames} frames / {forged_wire} B in the victim's name; the victim "
                f"received {len(got)} frames / {wire} B: {types}")
            check(PUBLISH not in types, f"the victim received PUBLISHes: {types}")
            check(len(got) <= forged_frames and wire <= forged_wire,
                  f"reflection factor > 1: {wire} B to the victim for {forged_wire} B forged")
            # (The first reply may be lost while the appliance resolves the victim's MAC.)
            check(set(types) <= {CONNACK, REGISTER}, f"the victim received {types}")
            check(REGISTER in types, f"no proof REGISTER for the forged SUBSCRIBE: {types}")
            ev = events(dp.snapshot())
            check(ev["connect_rejected_keepalive"] == 1, "the keepalive-0 CONNECT was not refused")
            log(f"  delivery_unproven {ev['delivery_unproven']}, proof_sent {ev['proof_sent']}, "
                f"connect_rejected_keepalive {ev['connect_rejected_keepalive']}")
            check(ev["delivery_unproven"] >= 500, "copies for the unproven session were not counted")
            wait_until("the unproven session to expire",
                     lambda: events(dp.snapshot())["session_unproven_expired"] >= 1)
            log("  the unproven session ended after proof_timeout_ms")

            # ---- session theft
            owner = RawClient(lab, owner_ip)
            thief = RawClient(lab, other_ip)
            socks += [owner, thief]
            check(owner.connect("meter-1", flags=0) == 0, "owner refused")
            _, rc = owner.subscribe("sec/theft")
            check(rc == 0, "owner's SUBSCRIBE refused")
            check(owner.gw_registers and owner.gw_registers[0][2] == "$SYS/proof",
                  f"the owner was not asked to prove its address: {owner.gw_registers}")
            thief.send(m_connect("meter-1", 60, 0))
            body = thief.expect(CONNACK)
            log(f"theft: CONNECT clean=0 'meter-1' from {other_ip} -> CONNACK rc 0x{body[0]:02x}")
            check(body == b"\x03", f"takeover not refused: CONNACK {body.hex()}")
            ttid = pub.register("sec/theft")
            publish_n(pub, ttid, 20, "theft")
            n_owner = sum(1 for t, _, _ in drain(owner.sock, 0.5) if t == PUBLISH)
            n_thief = sum(1 for t, _, _ in drain(thief.sock, 0.3) if t == PUBLISH)
            log(f"  the owner received {n_owner} of 20, the other address {n_thief}")
            check(n_owner == 20 and n_thief == 0, f"owner {n_owner}/20, thief {n_thief}")

            # ---- packet loop
            before = dp.snapshot()["totals"]["drops"]["mqttsn_not_connected"]
            stranger = lab.udp_socket(other_ip, 40002)
            socks.append(stranger)
            for m in (m_disconnect(), m_puback(1, 1), m_disconnect(60)):
                stranger.sendto(m, (lab.appliance_ip, 1883))
            got = drain(stranger, 0.5)
            after = dp.snapshot()["totals"]["drops"]["mqttsn_not_connected"]
            log(f"loop: DISCONNECT/PUBACK from an unknown address -> {len(got)} replies; "
                f"mqttsn_not_connected +{after - before}")
            check(not got and after - before == 3, "an unknown client's DISCONNECT or ack was answered")

            # ---- exhaustion: REGISTER flood past the per-session quota
            flood = RawClient(lab, other_ip)
            socks.append(flood)
            check(flood.connect("flooder") == 0, "flooder refused")
            q0 = events(dp.snapshot())["register_rejected_quota"]
            n_flood = 3 * TOPICS_QUOTA
            for i in range(n_flood):
                flood.send(m_register(f"flood/{i}", flood.next_id()))
            rcs = [struct.unpack("!HHB", b[:5])[2] for t, b, _ in drain(flood.sock, 0.5) if t == REGACK]
            accepted, refused = rcs.count(0), rcs.count(1)
            quota = events(dp.snapshot())["register_rejected_quota"] - q0
            # (refusals to an address that has not proven itself are rate-limited: not all are sent)
            log(f"REGISTER flood: {n_flood} names -> {accepted} accepted, register_rejected_quota {quota}, "
                f"{refused} refusals 0x01 sent")
            check(accepted == TOPICS_QUOTA and quota == n_flood - TOPICS_QUOTA, "topics_per_session not enforced")
            check(pub.register("sec/after-flood") > 0, "another client's REGISTER failed after the flood")
            # sessions per source address
            many = [RawClient(lab, many_ip) for _ in range(SESSIONS_QUOTA + 3)]
            socks += many
            codes = [c.connect(f"many-{i}") for i, c in enumerate(many)]
            log(f"CONNECT x{len(many)} from {many_ip} (one address, many ports) -> return codes {codes}")
            check(codes == [0] * SESSIONS_QUOTA + [1] * 3, "sessions_per_source not enforced")
            extra = RawClient(lab, victim_ip)
            socks.append(extra)
            check(extra.connect("elsewhere") == 0, "another address could not connect")

            # ---- error replies: a stranger's requests get at most the burst
            pinger = lab.udp_socket(victim_ip, 40003)
            socks.append(pinger)
            for _ in range(100):
                pinger.sendto(m_pingreq(), (lab.appliance_ip, 1883))
            got = drain(pinger, 0.5)
            lim = dp.snapshot()["totals"]["drops"]["error_reply_limited"]
            log(f"100 PINGREQs from an unknown address -> {len(got)} DISCONNECTs, error_reply_limited {lim}")
            check(len(got) <= ERR_BURST + 3 and all(t == DISCONNECT for t, _, _ in got) and lim >= 100 - ERR_BURST - 3,
                  "error replies not rate-limited")

            # ---- martians
            d0 = dp.snapshot()["totals"]["drops"]
            low = lab.udp_socket(owner_ip, 1000)
            socks.append(low)
            low.sendto(m_connect("lowport"), (lab.appliance_ip, 1883))
            raw.send("127.0.0.1", 40000, m_connect("loop"))
            raw.send(lab.appliance_ip, 40000, m_connect("self"))
            want = {"udp_src_port_low": 1, "ip_src_loopback": 1, "ip_src_ours": 1}
            wait_until(f"drops {want}", lambda: all(dp.snapshot()["totals"]["drops"][k] - d0[k] >= v
                                                   for k, v in want.items()))
            check(not drain(low, 0.3), "a privileged source port was answered")
            log(f"martians dropped: {want}")
        finally:
            for s in socks:
                s.close()
        stats = dp.stop()
        log(f"events: {nonzero(events(stats))}")
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
