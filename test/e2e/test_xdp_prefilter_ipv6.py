#!/usr/bin/env python3
"""The XDP pre-filter in front of net_af_xdp with an IPv6 address on the port (ports[0].ipv6).

The dataplane runs on net_af_xdp with xdp_prog=fanout_prefilter.bpf.o and ipv6 2001:2:0:K::1/64; the
client namespace has 2001:2:0:K::2/64; the veth's root side has IPv6 on, with a kernel address of its
own (2001:2:0:K::100) and the link-local address from the MAC (the dataplane's link-local address too).
Checked:
  1. ND and ICMPv6 through AF_XDP: `ping -6` of the appliance is answered by the dataplane (its
     icmp6_echo_requests counter grows by the echoes sent), the client kernel holds our MAC for it;
  2. MQTT-SN over UDP/IPv6: CONNECT, SUBSCRIBE and a QoS 1 PUBLISH round trip; a client address that
     never solicited us gets its CONNACK once our own Neighbor Solicitation is answered (the
     Advertisement comes back to our address through the program); a 3000-byte PUBLISH crosses as
     IPv6 fragments, is reassembled by the dataplane and delivered whole; every frame the dataplane
     took was redirected by the program (verdict redirected == dataplane rx);
  3. other IPv6 is the kernel's: ping -6 of the kernel's address and of the link-local address are
     answered by the kernel (verdict passed grows, the dataplane's echo counter does not);
  4. `fanoutctl block add` of an IPv6 prefix: its CONNECTs are dropped in XDP (verdict blocked, the
     prefix's own count, no CONNECT at the dataplane); `block del` restores it;
  5. `fanoutctl limit set`: two addresses of one /64 share one token bucket (what reaches the dataplane
     of their flood stays within one burst + rate x time), while an IPv4 client is still answered;
  6. conservation at exit, no XDP program left, pins removed."""
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS1, PINGRESP, PUBACK, Control, Dataplane, Lab, RawClient, check,  # noqa: E402
                     check_conservation, events, log, m_connect, m_pingreq, m_publish, remove_workdir, run_test,
                     wait_until, workdir)
from test_ipv6 import config_text, link_local, neighbour_state, ping6, recv_publish  # noqa: E402
from test_xdp_prefilter import PIN_ROOT, ensure_bpffs, xdp_attached  # noqa: E402

RATE, BURST = 10, 50
FLOOD_EACH = 300


def kernel_ipv6(lab, addr):
    """IPv6 on the veth's root side (the lab keeps it off): its link-local address, which the
    dataplane's shares, and addr/64, both without duplicate address detection."""
    i = lab.dp_if
    for k, v in ((f"net.ipv6.conf.{i}.accept_dad", 0), (f"net.ipv6.conf.{i}.router_solicitations", 0),
                 (f"net.ipv6.conf.{i}.accept_ra", 0), (f"net.ipv6.conf.{i}.disable_ipv6", 0)):
        subprocess.run(["sysctl", "-qw", f"{k}={v}"], check=True)
    subprocess.run(["ip", "-6", "addr", "add", f"{addr}/64", "dev", i, "nodad"], check=True)


def snap_counts(dp):
    s = dp.settled_snapshot()
    t = s["totals"]
    return s, t["xdp"], t["rx"], events(s)


def main(args):
    ensure_bpffs()
    obj = Path(args.build_dir) / "dataplane" / "xdp" / "fanout_prefilter.bpf.o"
    check(obj.is_file(), f"{obj} missing: build first")
    with Lab("xdp6", clients=1) as lab:
        lab.enable_ipv6()
        kaddr6 = lab.addr6(0x100)
        kernel_ipv6(lab, kaddr6)
        pin_dir = PIN_ROOT / lab.dp_if
        vdev = f"net_af_xdp0,iface={lab.dp_if},xdp_prog={obj}"
        sock = Path(f"/tmp/fo-e2e-xdp6-{os.getpid()}.sock")
        ctl_dir = workdir("xdp6-control")
        try:
            with Control(sock, ctl_dir) as ctl, \
                    Dataplane("xdp6", lab, vdev=vdev, config_text=config_text(lab, "net_af_xdp0"),
                              extra_app=["--control", str(sock)]) as dp:
                check(f"maps pinned in {pin_dir}" in dp.log(), "the dataplane did not report the pre-filter's pins")
                check(f"ipv6 {lab.appliance_ip6}/64" in dp.log(), "the dataplane did not report its IPv6 address")
                check(xdp_attached(lab.dp_if) is not None, f"no XDP program on {lab.dp_if}")
                ll = link_local(dp.port_mac())

                # 1. ND and ICMPv6 echo answered by the dataplane
                _, v0, rx0, ev0 = snap_counts(dp)
                wait_until("ping -6 of the appliance answered",
                           lambda: ping6(lab, lab.appliance_ip6, 1).returncode == 0, timeout=15, step=0.2)
                r = ping6(lab, lab.appliance_ip6)
                check(r.returncode == 0 and " 0% packet loss" in r.stdout, f"ping -6 not answered:\n{r.stdout}")
                st = neighbour_state(lab, lab.appliance_ip6)
                check(dp.port_mac().lower() in st.lower() and any(x in st for x in ("REACHABLE", "STALE", "DELAY")),
                      f"the client did not resolve {lab.appliance_ip6} to our MAC: {st!r}")
                s, v1, rx1, ev1 = snap_counts(dp)
                echoes = ev1["icmp6_echo_requests"] - ev0["icmp6_echo_requests"]
                log(f"ping -6 {lab.appliance_ip6}: the dataplane's icmp6_echo_requests +{echoes}, verdicts "
                    f"redirected +{v1['redirected'] - v0['redirected']}, dataplane rx +{rx1 - rx0}; neighbour {st}")
                check(echoes >= 4, f"the dataplane counted {echoes} ICMPv6 echo requests, 4 or more were answered")

                # 2. MQTT-SN over IPv6 through AF_XDP
                sub6 = RawClient(lab, family=socket.AF_INET6)
                pub6 = RawClient(lab, family=socket.AF_INET6)
                sub4 = RawClient(lab)
                try:
                    check(sub6.connect("x6sub") == 0, "IPv6 subscriber: CONNECT refused")
                    _, rc = sub6.subscribe("x6/t", F_QOS1)
                    check(rc == 0, f"IPv6 SUBACK rc {rc}")
                    check(sub4.connect("x4sub") == 0, "IPv4 subscriber: CONNECT refused")
                    _, rc = sub4.subscribe("x6/big", F_QOS1)
                    check(rc == 0, f"IPv4 SUBACK rc {rc}")
                    check(pub6.connect("x6pub") == 0, "IPv6 publisher: CONNECT refused")
                    tid = pub6.register("x6/t")
                    for i in range(3):
                        mid = pub6.next_id()
                        pub6.send(m_publish(tid, mid, f"over v6 {i}".encode(), F_QOS1))
                        check(struct.unpack("!HHB", pub6.expect(PUBACK))[2] == 0, "PUBACK refused")
                        p = recv_publish(sub6)
                        check(p is not None and p[3] == f"over v6 {i}".encode(),
                              f"IPv6 subscriber: publish {i} missing ({p})")
                    log("CONNECT, SUBSCRIBE, QoS 1 PUBLISH/PUBACK and the delivery over IPv6 through the pre-filter")
                    # a 3000-byte PUBLISH: IPv6 fragments, reassembled by the dataplane
                    tbig = pub6.register("x6/big")
                    data = bytes(i % 251 for i in range(3000))
                    pub6.send(m_publish(tbig, pub6.next_id(), data, F_QOS1))
                    check(struct.unpack("!HHB", pub6.expect(PUBACK, timeout=5))[2] == 0, "PUBACK of 3000 bytes")
                    p = recv_publish(sub4, 5)
                    check(p is not None and p[3] == data, "the IPv4 subscriber did not get the 3000 bytes whole")
                    log("3000-byte PUBLISH over IPv6: fragments through the pre-filter, reassembled, delivered whole")
                finally:
                    for c in (sub6, pub6, sub4):
                        c.close()
                # a client address that never solicited us: our solicitation's answer comes back to us
                third = lab.addr6(3)
                lab.run(["ip", "-6", "addr", "add", f"{third}/64", "dev", lab.cl_if, "nodad"])
                c3 = RawClient(lab, bind_ip=third, family=socket.AF_INET6)
                try:
                    check(c3.connect("x6third") == 0, f"client at {third}: CONNECT refused")
                finally:
                    c3.close()
                s, v2, rx2, ev2 = snap_counts(dp)
                log(f"after MQTT-SN over IPv6: verdicts {v2}, dataplane rx {rx2}, events nd_solicitations_sent "
                    f"{ev2['nd_solicitations_sent']}, nd_learnt {ev2['nd_learnt']}, frag_reassembled "
                    f"{ev2['frag_reassembled']}")
                check(ev2["nd_solicitations_sent"] >= 1 and ev2["nd_learnt"] >= 2,
                      f"ND through the pre-filter: nd_solicitations_sent {ev2['nd_solicitations_sent']}, "
                      f"nd_learnt {ev2['nd_learnt']}")
                check(ev2["frag_reassembled"] >= 1, "no IPv6 datagram reassembled")
                check(v2["redirected"] == rx2, f"redirected {v2['redirected']} != dataplane rx {rx2}")
                check(s["totals"]["mqttsn_rx"].get("CONNECT") == 4, f"CONNECTs {s['totals']['mqttsn_rx']}")

                # 3. the kernel's IPv6: its address and the link-local one
                r = ping6(lab, kaddr6)
                check(r.returncode == 0 and " 0% packet loss" in r.stdout, f"ping -6 {kaddr6}:\n{r.stdout}")
                r = ping6(lab, f"{ll}%{lab.cl_if}", count=2)
                check(r.returncode == 0 and " 0% packet loss" in r.stdout, f"ping -6 {ll}:\n{r.stdout}")
                s3, v3, rx3, ev3 = snap_counts(dp)
                log(f"ping -6 of the kernel's {kaddr6} (3) and of {ll} (2): passed +{v3['passed'] - v2['passed']}, "
                    f"dataplane rx +{rx3 - rx2}, icmp6_echo_requests +{ev3['icmp6_echo_requests'] - ev2['icmp6_echo_requests']}")
                check(v3["passed"] - v2["passed"] >= 5, f"passed grew only {v3['passed'] - v2['passed']}")
                check(ev3["icmp6_echo_requests"] == ev2["icmp6_echo_requests"],
                      "an echo request for the kernel reached the dataplane")
                drops = ("ip6_not_for_us", "nd_not_for_us", "icmp_unsupported")
                seen = {k: s3["totals"]["drops"][k] - s["totals"]["drops"][k] for k in drops}
                check(not any(seen.values()) and rx3 - rx2 <= 4,
                      f"the kernel's IPv6 reached the dataplane: {seen}, rx +{rx3 - rx2}")

                # 4. a blocked IPv6 prefix
                wait_until("fanout-control to know the pins", lambda: ctl.ctl("xdp")[0] == 0, timeout=10)
                blocked = lab.addr6(4)
                prefix = f"{blocked}/126"
                lab.run(["ip", "-6", "addr", "add", f"{blocked}/64", "dev", lab.cl_if, "nodad"])
                log(f"fanoutctl block add {prefix}: {ctl.ctl_ok('block', 'add', prefix).strip()}")
                b = RawClient(lab, bind_ip=blocked, family=socket.AF_INET6)
                try:
                    v0 = dp.snapshot()["totals"]["xdp"]
                    connects0 = dp.snapshot()["totals"]["mqttsn_rx"].get("CONNECT", 0)
                    for _ in range(20):
                        b.send(m_connect("x6blocked"))
                    b.expect_nothing(0.5)
                    v1 = wait_until("20 blocked verdicts", lambda: (
                        lambda x: x if x["blocked"] - v0["blocked"] >= 20 else None)(dp.snapshot()["totals"]["xdp"]),
                        timeout=5)
                    ent = {e["prefix"]: e["drops"] for e in ctl.ctl_json("block", "list")["entries"]}
                    log(f"20 CONNECTs from {blocked}: blocked +{v1['blocked'] - v0['blocked']}; block list {ent}")
                    check(ent.get(prefix, 0) >= 20, f"block list: {ent}")
                    check(dp.snapshot()["totals"]["mqttsn_rx"].get("CONNECT", 0) == connects0,
                          "a CONNECT of the blocked prefix reached the dataplane")
                    ctl.ctl_ok("block", "del", prefix)
                    check(b.connect("x6unblocked") == 0, "CONNECT refused after block del")
                finally:
                    b.close()

                # 5. the rate limit per /64: ::2 and ::3 share a bucket; IPv4 has its own
                log(f"fanoutctl limit set {RATE} {BURST}: {ctl.ctl_ok('limit', 'set', RATE, BURST).strip()}")
                c4 = RawClient(lab)
                f2 = lab.udp_socket(lab.client_ip6, family=socket.AF_INET6)
                f3 = lab.udp_socket(third, family=socket.AF_INET6)
                try:
                    check(c4.connect("x4other") == 0, "IPv4 client: CONNECT refused")
                    _, v0, rx0, _ = snap_counts(dp)
                    t0 = time.monotonic()
                    for f in (f2, f3):
                        for _ in range(FLOOD_EACH):
                            f.sendto(m_pingreq(), (lab.appliance_ip6, 1883))
                    took = time.monotonic() - t0
                    c4.send(m_pingreq())
                    c4.expect(PINGRESP)
                    _, v1, rx1, _ = snap_counts(dp)
                    d = {k: v1[k] - v0[k] for k in v0}
                    # all but the IPv4 PINGREQ (an ND frame among them would count against the flood)
                    through = d["redirected"] - 1
                    # the program runs as the veth takes each frame: refill only while the flood is sent
                    bound = BURST + RATE * (took + 0.5)
                    check(bound < 2 * BURST, f"the flood took {took:.2f} s: too long to tell one bucket from two")
                    log(f"{FLOOD_EACH} PINGREQ each from {lab.client_ip6} and {third} in {took:.3f} s: verdicts "
                        f"{d}, dataplane rx +{rx1 - rx0}; to the dataplane of the flood <= {through} "
                        f"(one /64 bucket: bound {bound:.0f}; a bucket per address would let {2 * BURST} through)")
                    check(through <= bound, f"{through} of the flood reached the dataplane, bound {bound:.0f}")
                    check(d["rate_limited"] >= 2 * FLOOD_EACH - bound,
                          f"rate_limited {d['rate_limited']} of {2 * FLOOD_EACH} (bound {bound:.0f})")
                    check(d["redirected"] + d["rate_limited"] >= 2 * FLOOD_EACH + 1,
                          f"verdicts {d} short of the {2 * FLOOD_EACH + 1} packets sent")
                finally:
                    c4.close()
                    f2.close()
                    f3.close()
                ctl.ctl_ok("limit", "set", 0)

                # 6. exit: conservation, the program and the pins gone
                final = dp.stop()
                check_conservation(final)
                drops = {k: v for k, v in final["totals"]["drops"].items() if v}
                log(f"dataplane drops: {drops}; verdicts {final['totals']['xdp']}")
            check(xdp_attached(lab.dp_if) is None, f"an XDP program still on {lab.dp_if} after exit")
            check(not pin_dir.exists(), f"{pin_dir} still there after exit")
        finally:
            remove_workdir(ctl_dir)
            sock.unlink(missing_ok=True)


if __name__ == "__main__":
    run_test(main, "XDP pre-filter with IPv6: ND, ICMPv6 echo, MQTT-SN over IPv6, kernel traffic, block, /64 limit")
