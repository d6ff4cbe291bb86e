#!/usr/bin/env python3
"""The XDP pre-filter in front of net_af_xdp, on the lab veth with a kernel address of its own.

The dataplane runs on net_af_xdp with xdp_prog=fanout_prefilter.bpf.o; the veth's root side also
carries a kernel address (198.18.K.100) with a TCP echo server on it. Checked:
  1. load: the PMD attached the program, the dataplane pinned its maps in /sys/fs/bpf/fanout/<if>;
  2. MQTT-SN to the appliance (198.18.K.1:1883) reaches the dataplane through AF_XDP (CONNACK,
     PINGRESP; dataplane rx == verdict redirected), and ping of the appliance is answered by it;
  3. ping and a TCP connection to the kernel address are answered by the kernel (verdict passed
     grows, the dataplane's rx does not);
  4. `fanoutctl block add` of one client address: its CONNECTs are dropped in XDP (verdict blocked,
     the prefix's own count, no CONNECT reaches the dataplane), `block del` restores it; an IPv6
     prefix is added, listed and deleted; a prefix with host bits is refused;
  5. `fanoutctl limit set 100 20` and a one-second flood of PINGREQ from one source: what the
     dataplane got of it stays within burst + rate x time, the rest is rate_limited, while another
     source's PINGREQs every 50 ms are all answered; the verdicts reach /metrics and `fanoutctl xdp`;
  6. unload: after SIGTERM no XDP program is left on the interface and the pins are gone;
  7. a second dataplane (new program, empty maps): fanout-control, still running, applies the blocklist
     and the limit kept in its state.json again (the blocked source is dropped at once), and it unloads
     cleanly too.
Needs bpffs at /sys/fs/bpf (mounted here if absent)."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, PINGRESP, Control, Dataplane, Lab, RawClient, TestFailure, check,  # noqa: E402
                     check_conservation, log, m_connect, m_pingreq, remove_workdir, run_test, scaled,
                     wait_until, workdir)

PIN_ROOT = Path("/sys/fs/bpf/fanout")
# In a sanitizer build: net_af_xdp's own process-lifetime allocations for xdp_prog= are suppressed
# (test/lsan.supp), which needs full malloc stacks to see the PMD's frames.
os.environ.setdefault("LSAN_OPTIONS", f"suppressions={Path(__file__).resolve().parents[1] / 'lsan.supp'}"
                      ":print_suppressions=0")
os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":fast_unwind_on_malloc=0").lstrip(":")
MAPS = {"xsks_map", "fo_cfg", "fo_block4", "fo_block6", "fo_rate", "fo_verdicts"}
RATE, BURST = 100, 20
FLOOD_S = 1.0


def ensure_bpffs():
    with open("/proc/mounts") as f:
        if any(ln.split()[1:3] == ["/sys/fs/bpf", "bpf"] for ln in f):
            return
    log("mounting bpffs on /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)")
    subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)


def xdp_attached(ifname):
    """The link's XDP attachment as ip -j shows it ({"mode": .., "prog": {"id": ..}}), or None."""
    r = subprocess.run(["ip", "-j", "-d", "link", "show", "dev", ifname], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)[0].get("xdp")


def verdicts(dp):
    return dp.snapshot()["totals"]["xdp"]


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def connect(cl, client_id):
    """CONNECT as a client does: sent again after a second without an answer. The first CONNACK
    to a secondary address of the lab can be lost while the dataplane resolves that address
    (its ARP request goes out with the CONNACK, which has no next hop yet: out drop no_neighbour)."""
    for _ in range(3):
        cl.send(m_connect(client_id))
        m = cl.recv(scaled(1.0))
        while m is not None and m[0] != CONNACK:
            m = cl.recv(scaled(1.0))
        if m is not None:
            return m[1][0]
    raise TestFailure(f"no CONNACK for {client_id} after 3 CONNECTs")


def echo_server(addr):
    """A TCP echo server in the root namespace on the kernel's own address of the veth."""
    srv = socket.create_server((addr, 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                data = c.recv(100)
                c.sendall(data)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv, stop, t


def main(args):
    ensure_bpffs()
    obj = Path(args.build_dir) / "dataplane" / "xdp" / "fanout_prefilter.bpf.o"
    check(obj.is_file(), f"{obj} missing: build first")
    with Lab("xdp", clients=3) as lab:
        kaddr = lab.addr(100)
        subprocess.run(["ip", "addr", "add", f"{kaddr}/24", "dev", lab.dp_if], check=True)
        Path(f"/proc/sys/net/ipv4/conf/{lab.dp_if}/arp_ignore").write_text("0")
        pin_dir = PIN_ROOT / lab.dp_if
        vdev = f"net_af_xdp0,iface={lab.dp_if},xdp_prog={obj}"
        sock = Path(f"/tmp/fo-e2e-xdp-{os.getpid()}.sock")
        srv, stop_srv, srv_thread = echo_server(kaddr)
        ctl_dir = workdir("xdp-control")  # fanout-control outlives the first dataplane (7.)
        try:
            with Control(sock, ctl_dir) as ctl:
                with Dataplane("xdp", lab, vdev=vdev, extra_app=["--control", str(sock)]) as dp:
                    # 1. loaded, attached, pinned
                    check(f"maps pinned in {pin_dir}" in dp.log(), "the dataplane did not report the pre-filter's pins")
                    att = xdp_attached(lab.dp_if)
                    check(att is not None, f"no XDP program on {lab.dp_if}")
                    log(f"{lab.dp_if}: XDP program {att.get('prog', {}).get('id')} attached, mode {att.get('mode')} "
                        f"(1 native, 2 generic)")
                    check(set(os.listdir(pin_dir)) == MAPS, f"pins in {pin_dir}: {sorted(os.listdir(pin_dir))}")

                    # 2. MQTT-SN through AF_XDP, ping of the appliance answered by the dataplane
                    a = RawClient(lab, bind_ip=lab.addr(2))
                    check(a.connect("xdp-a") == 0, "CONNECT through the pre-filter refused")
                    a.send(m_pingreq())
                    a.expect(PINGRESP)
                    lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", lab.appliance_ip])
                    s = dp.settled_snapshot()
                    v = s["totals"]["xdp"]
                    log(f"after CONNECT, PINGREQ, ping of the appliance: verdicts {v}, dataplane rx "
                        f"{s['totals']['rx']}, answered {s['totals']['answered']}")
                    check(v["redirected"] == s["totals"]["rx"] and v["redirected"] >= 5,
                          f"redirected {v['redirected']} != dataplane rx {s['totals']['rx']}")
                    check(s["totals"]["mqttsn_rx"].get("CONNECT") == 1, "the CONNECT did not reach the dataplane")

                    # 3. the kernel's own address: ping and TCP answered by the kernel
                    s0, rx0 = s, s["totals"]["rx"]
                    r = lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", kaddr])
                    check("3 received" in r.stdout, f"ping {kaddr}: {r.stdout}")
                    conn = lab._in_ns(lambda: socket.create_connection((kaddr, srv.getsockname()[1]), timeout=5))
                    with conn:
                        conn.sendall(b"through the kernel")
                        check(conn.recv(100) == b"through the kernel", "TCP echo from the kernel address wrong")
                    s = dp.settled_snapshot()
                    v2 = s["totals"]["xdp"]
                    log(f"ping (3) and a TCP echo to the kernel address {kaddr}: passed +{v2['passed'] - v['passed']}, "
                        f"dataplane rx +{s['totals']['rx'] - rx0}")
                    check(v2["passed"] - v["passed"] >= 3 + 3, f"passed grew only {v2['passed'] - v['passed']}")
                    # none of it reached the dataplane (which would answer the echo or count the TCP segments
                    # and the foreign destination as drops); an ARP exchange of its own may have
                    seen = (s["totals"]["answered"] - s0["totals"]["answered"],
                            s["totals"]["drops"]["ip_not_for_us"] - s0["totals"]["drops"]["ip_not_for_us"],
                            s["totals"]["drops"]["ip_proto_unsupported"] - s0["totals"]["drops"]["ip_proto_unsupported"])
                    check(seen == (0, 0, 0) and s["totals"]["rx"] - rx0 <= 2,
                          f"the kernel's traffic reached the dataplane: answered, ip_not_for_us, ip_proto_unsupported "
                          f"+{seen}, rx +{s['totals']['rx'] - rx0}")

                    # 4. blocklist (fanout-control knows the pins from its STATS polls)
                    wait_until("fanout-control to know the pins", lambda: ctl.ctl("xdp")[0] == 0, timeout=10)
                    blocked_ip = lab.addr(3)
                    out = ctl.ctl_ok("block", "add", blocked_ip)
                    log(f"fanoutctl block add {blocked_ip}: {out.strip()}")
                    rc, _, err = ctl.ctl("block", "add", f"{lab.lease.prefix}.3/24")
                    check(rc == 1 and "host bits" in err, f"block add with host bits: exit {rc}: {err}")
                    b = RawClient(lab, bind_ip=blocked_ip)
                    v0 = verdicts(dp)
                    connects0 = dp.snapshot()["totals"]["mqttsn_rx"].get("CONNECT", 0)
                    for _ in range(20):
                        b.send(m_connect("xdp-blocked"))
                    b.expect_nothing(0.5)
                    v1 = wait_until("20 blocked verdicts", lambda: (lambda x: x if x["blocked"] - v0["blocked"] >= 20
                                                                     else None)(verdicts(dp)), timeout=5)
                    lst = ctl.ctl_json("block", "list")
                    ent = {e["prefix"]: e["drops"] for e in lst["entries"]}
                    log(f"20 CONNECTs from {blocked_ip}: blocked +{v1['blocked'] - v0['blocked']}; block list {ent}")
                    check(ent.get(f"{blocked_ip}/32", 0) >= 20, f"block list: {lst}")
                    check(dp.snapshot()["totals"]["mqttsn_rx"].get("CONNECT", 0) == connects0,
                          "a CONNECT of the blocked source reached the dataplane")
                    ctl.ctl_ok("block", "add", "2001:db8::/32")
                    ent = {e["prefix"] for e in ctl.ctl_json("block", "list")["entries"]}
                    check(ent == {f"{blocked_ip}/32", "2001:db8::/32"}, f"block list: {ent}")
                    ctl.ctl_ok("block", "del", "2001:db8::/32")
                    ctl.ctl_ok("block", "del", blocked_ip)
                    rc, _, err = ctl.ctl("block", "del", blocked_ip)
                    check(rc == 1 and "not on the blocklist" in err, f"second block del: exit {rc}: {err}")
                    check(ctl.ctl_json("block", "list")["entries"] == [], "block list not empty after del")
                    check(connect(b, "xdp-unblocked") == 0, "CONNECT refused after block del")

                    # 5. rate limit under a flood from one source, another source served
                    out = ctl.ctl_ok("limit", "set", RATE, BURST)
                    log(f"fanoutctl limit set {RATE} {BURST}: {out.strip()}")
                    c = RawClient(lab, bind_ip=lab.addr(4))
                    check(connect(c, "xdp-other") == 0, "the other source's CONNECT refused")
                    flood = lab.udp_socket(lab.addr(2))
                    ping = m_pingreq()
                    sent = {"n": 0, "t": 0.0}

                    def flooder():
                        t0 = time.monotonic()
                        while time.monotonic() - t0 < FLOOD_S:
                            for _ in range(64):
                                try:
                                    flood.sendto(ping, (lab.appliance_ip, 1883))
                                    sent["n"] += 1
                                except OSError:
                                    pass
                        sent["t"] = time.monotonic() - t0
                    s0 = dp.settled_snapshot()
                    v0 = s0["totals"]["xdp"]
                    ft = threading.Thread(target=flooder)
                    ft.start()
                    asked = answered = 0
                    worst = 0.0
                    while ft.is_alive():
                        t = time.monotonic()
                        c.send(m_pingreq())
                        asked += 1
                        c.expect(PINGRESP, timeout=1.0)
                        answered += 1
                        worst = max(worst, time.monotonic() - t)
                        time.sleep(0.05)
                    ft.join()
                    flood.close()
                    s1 = dp.settled_snapshot()
                    d = delta(v0, s1["totals"]["xdp"])
                    rx = s1["totals"]["rx"] - s0["totals"]["rx"]
                    bound = BURST + RATE * (sent["t"] + 0.2)
                    from_flooder = d["redirected"] - asked  # the other source's PINGREQs are the rest
                    log(f"flood: {sent['n']} PINGREQ from {lab.addr(2)} in {sent['t']:.2f} s "
                        f"({sent['n'] / max(sent['t'], 1e-9):.0f}/s); verdicts {d}; dataplane rx +{rx}; "
                        f"from the flooder to the dataplane {from_flooder} (bound {bound:.0f}); other source "
                        f"{answered}/{asked} PINGRESP, slowest {worst * 1000:.1f} ms")
                    check(sent["t"] <= FLOOD_S + scaled(1.0), f"the flood took {sent['t']:.2f} s")
                    check(from_flooder <= bound, f"{from_flooder} of the flood reached the dataplane, bound {bound:.0f}")
                    check(sent["n"] >= 3 * bound, f"the flood sent only {sent['n']} in {sent['t']:.2f} s: "
                                                      f"too few to show a limit of {bound:.0f}")
                    check(d["rate_limited"] >= (sent["n"] - bound) // 2,
                          f"rate_limited {d['rate_limited']} of {sent['n']} sent (bound {bound:.0f})")
                    check(answered == asked and asked >= 5, f"other source: {answered}/{asked} answered")

                    # the verdicts in /metrics and fanoutctl xdp
                    wait_until("/metrics with the blocked and rate_limited verdicts", lambda: (
                        lambda t: f'fanout_xdp_packets_total{{reason="rate_limited"}} {s1["totals"]["xdp"]["rate_limited"]}'
                        in t or None)(ctl.api("/metrics")[1]), timeout=10)
                    x = ctl.ctl_json("xdp")["ports"][0]
                    check(x["rate_pps"] == RATE and x["rate_burst"] == BURST and x["pins"] == str(pin_dir),
                          f"fanoutctl xdp: {x}")
                    log("fanoutctl xdp:\n" + ctl.ctl_ok("xdp").rstrip())
                    ctl.ctl_ok("block", "add", blocked_ip)  # kept, with the limit, for the restart (7.)
                    for cl in (a, b, c):
                        cl.close()
                    stats = dp.stop()
                    log(f"final verdicts {stats['totals']['xdp']}")
                    check_conservation(stats)
                # 6. unloaded
                att = xdp_attached(lab.dp_if)
                check(att is None, f"XDP program still on {lab.dp_if} after the dataplane exited: {att}")
                left = sorted(os.listdir(pin_dir)) if pin_dir.exists() else None
                check(left is None, f"{pin_dir} still there after exit, holding {left}")
                log(f"after exit: no XDP program on {lab.dp_if}, {pin_dir} removed")

                # 7. a new dataplane (new program, empty maps): fanout-control applies the blocklist and
                # the limit of its state.json again
                with Dataplane("xdp2", lab, vdev=vdev, extra_app=["--control", str(sock)]) as dp2:
                    wait_until("fanout-control to apply the blocklist to the new program", lambda: [
                        e["prefix"] for e in ctl.ctl_json("block", "list")["entries"]] == [f"{blocked_ip}/32"],
                        timeout=10)
                    x = ctl.ctl_json("xdp")["ports"][0]
                    check(x["rate_pps"] == RATE and x["rate_burst"] == BURST, f"after the restart: {x}")
                    b = RawClient(lab, bind_ip=blocked_ip)
                    for _ in range(5):
                        b.send(m_connect("xdp-blocked-again"))
                    b.expect_nothing(0.5)
                    b.close()
                    v = wait_until("5 blocked verdicts after the restart",
                                   lambda: (lambda x: x if x["blocked"] >= 5 else None)(verdicts(dp2)), timeout=5)
                    log(f"restarted dataplane: blocklist and limit {x['rate_pps']}/{x['rate_burst']} applied again "
                        f"by fanout-control; 5 CONNECTs from {blocked_ip}: verdicts {v}")
                    ctl.ctl_ok("block", "del", blocked_ip)
                    ctl.ctl_ok("limit", "set", 0)
                    dp2.stop()
                check(xdp_attached(lab.dp_if) is None and not pin_dir.exists(),
                      "the second dataplane left its program or pins behind")
        finally:
            stop_srv.set()
            remove_workdir(ctl_dir)
            srv_thread.join(timeout=2)
            srv.close()
            sock.unlink(missing_ok=True)


if __name__ == "__main__":
    run_test(main, "XDP pre-filter: AF_XDP steering, kernel traffic, blocklist, rate limit, clean unload")
