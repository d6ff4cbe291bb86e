#!/usr/bin/env python3
"""Floods beside legitimate traffic (docs/security.md, "Floods"): fanout-loadgen runs QoS 0 and
QoS 1 publishers and subscribers at a fixed rate, once alone and once while the lab floods the
appliance from the same namespace with
  - a spoofed CONNECT storm from many forged source addresses (raw socket),
  - a REGISTER flood of distinct names and a SUBSCRIBE flood of distinct filters (real clients),
  - an ARP flood with random on-link and off-link sender addresses (AF_PACKET),
  - malformed datagrams.
Every flood is bounded in count and time. The legitimate clients lose nothing in either run, their
P99 latency with the flood stays within 2x of the run without it (plus 50 ms: on a busy shared 2-core
machine the P99 of two identical runs differs by more; the quiet-machine figures are in
docs/security.md), and conservation holds. --flood-pps and --seconds set the load; the figures
go to docs/security.md."""
import os
import random
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS0, Dataplane, Lab, RawClient, RawSender, check, check_conservation, events,  # noqa: E402
                     log, loadgen_bg, loadgen_wait, m_connect, m_register, m_subscribe, nonzero, run_test,
                     scaled)



def loadgen_args(seconds, tag):
    return ["-p", 4, "-s", 4, "--topic", "legit/{pub}", "--filter", "legit/#", "--qos", 1, "--sub-qos", 1,
            "--rate", 250, "--duration", seconds, "--drain-ms", 1500, "--expect-no-loss", "--id-prefix", tag,
            "--quiet"]


def arp_frame(src_mac, sender_ip, target_ip):
    eth = b"\xff" * 6 + src_mac + b"\x08\x06"
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, socket.inet_aton(sender_ip), b"\x00" * 6,
                      socket.inet_aton(target_ip))
    return (eth + arp).ljust(60, b"\x00")


class Flood:
    """The hostile traffic, from threads in the lab namespace, at about pps packets a second in all."""

    def __init__(self, lab, pps, seconds):
        self.lab, self.pps, self.seconds = lab, pps, seconds
        self.sent = {"connect_storm": 0, "register_flood": 0, "subscribe_flood": 0, "arp_flood": 0, "malformed": 0}
        self.stop = threading.Event()
        self.threads = []
        self.errors = []

    def _paced(self, name, share, send_one):
        interval = 1.0 / max(1.0, self.pps * share)
        t_end = time.monotonic() + self.seconds
        nxt = time.monotonic()
        try:
            while not self.stop.is_set() and time.monotonic() < t_end:
                send_one(self.sent[name])
                self.sent[name] += 1
                nxt += interval
                d = nxt - time.monotonic()
                if d > 0:
                    time.sleep(d)
        except Exception as e:  # reported by the caller
            self.errors.append(f"{name}: {e!r}")

    def start(self):
        lab = self.lab
        rnd = random.Random(7)
        raw = RawSender(lab)
        reg, sub = RawClient(lab), RawClient(lab)
        reg.connect("flood-reg")
        sub.connect("flood-sub")
        mal = lab.udp_socket(lab.client_ip, 0)
        arp = lab._in_ns(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
        arp.bind((lab.cl_if, 0))
        self.socks = [raw, reg, sub, mal, arp]

        def storm(i):
            raw.send(lab.addr(100 + rnd.randrange(150)), 1024 + rnd.randrange(60000), m_connect(f"storm{i}", 60))

        def regs(i):
            reg.send(m_register(f"flood/r/{i}", i % 65535 + 1))

        def subs(i):
            sub.send(m_subscribe(f"flood/s/{i}/+", i % 65535 + 1, F_QOS0))

        def arps(i):
            on_link = i % 2 == 0
            # (not the legitimate clients' own addresses, .2-.9: a neighbour claiming a known
            # address with another MAC is ARP spoofing, which only static entries stop; security.md)
            ip = lab.addr(10 + rnd.randrange(240)) if on_link else lab.off_link(rnd)
            arp.send(arp_frame(bytes([2, 0x66, rnd.randrange(256), rnd.randrange(256), rnd.randrange(256),
                                      rnd.randrange(256)]), ip, lab.appliance_ip))

        def malformed(i):
            n = rnd.randrange(0, 40)
            mal.sendto(bytes([n + 5, rnd.randrange(256)]) + os.urandom(n), (lab.appliance_ip, 1883))

        for name, share, fn in (("connect_storm", 0.3, storm), ("register_flood", 0.15, regs),
                                ("subscribe_flood", 0.15, subs), ("arp_flood", 0.3, arps),
                                ("malformed", 0.1, malformed)):
            t = threading.Thread(target=self._paced, args=(name, share, fn), daemon=True)
            t.start()
            self.threads.append(t)

    def join(self):
        for t in self.threads:
            t.join(scaled(self.seconds + 10))
        self.stop.set()
        for s in self.socks:
            s.close()
        check(not self.errors, f"flood threads failed: {self.errors}")


def run_load(lab, seconds, tag, flood=None):
    p = loadgen_bg(lab, loadgen_args(seconds, tag))
    if flood:
        flood.start()
    rep, rc = loadgen_wait(p, timeout=seconds + 60)
    if flood:
        flood.join()
    d, lat = rep["deliver"], rep["latency_us"]
    log(f"{'with flood' if flood else 'alone     '}: {d['received_msgs']}/{d['expected_msgs']} received, lost "
        f"{d['lost_msgs']}, duplicated {d['duplicated_msgs']}; latency p50 {lat['p50']:.0f} us, p99 {lat['p99']:.0f} us, "
        f"max {lat['max']:.0f} us; verdict {rep['result']['verdict']}")
    check(rc == 0 and d["lost_msgs"] == 0, f"legitimate traffic lost messages: {rep['result']['verdict']}")
    return lat["p99"]


def main(args):
    overrides = {}
    with Lab("flood") as lab, Dataplane("flood", lab, overrides=overrides) as dp:
        base = run_load(lab, args.seconds, "base")
        flood = Flood(lab, args.flood_pps, args.seconds)
        with_flood = run_load(lab, args.seconds, "fl", flood)
        total = sum(flood.sent.values())
        log(f"flood: {total} packets in {args.seconds} s ({total / args.seconds:.0f}/s): {flood.sent}")
        log(f"P99 with flood {with_flood:.0f} us vs alone {base:.0f} us: x{with_flood / max(base, 1):.2f}")
        # The figures belong to docs/security.md (a quiet machine); under CI's two builds on a busy
        # 2-core machine an idle run's P99 alone moves between 0.4 and 85 ms, so the test only
        # catches a flood that stalls legitimate traffic: 2x plus 50 ms of scheduler noise.
        check(with_flood <= 2 * base + 50000, f"P99 with the flood {with_flood:.0f} us > 2 x {base:.0f} us + 50 ms")
        stats = dp.stop()
        ev, drops = events(stats), stats["totals"]["drops"]
        log(f"drops: {nonzero(drops)}")
        log(f"events: {nonzero(ev)}")
        check(ev["register_rejected_quota"] > 0 and ev["subscribe_rejected_quota"] + ev["subscribe_rejected"] > 0,
              "the REGISTER/SUBSCRIBE floods never reached a quota")
        check_conservation(stats)


def extra_args(ap):
    ap.add_argument("--flood-pps", type=int, default=4000, help="hostile packets per second in all (default 4000)")
    ap.add_argument("--seconds", type=int, default=4, help="length of each loadgen run (default 4)")


if __name__ == "__main__":
    run_test(main, __doc__, extra_args)
