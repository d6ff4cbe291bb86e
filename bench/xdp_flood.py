#!/usr/bin/env python3
"""The XDP pre-filter's verdict rates under a bounded flood, read back from its counters.

  flock /tmp/fanout-dpdk.lock python3 bench/xdp_flood.py [--build-dir build] [--seconds 5] [--json FILE]

A lab (deploy/lab.sh, as the e2e tests lease one) with a kernel address on the dataplane's veth;
fanout-dataplane on net_af_xdp with xdp_prog=fanout_prefilter.bpf.o and fanout-control beside it.
dpdk-testpmd --forward-mode=txonly on the client veth (in the namespace, over AF_XDP) sends 64-byte
UDP frames for --seconds per phase, at whatever rate it reaches:
  redirect    to the appliance's MQTT-SN port, no limit: verdict redirected (to the AF_XDP socket)
  rate_limit  the same after `fanoutctl limit set 1000 100`: verdict rate_limited, ~1000/s redirected
  block       the same from a source on the blocklist (`fanoutctl block add`): verdict blocked
  pass        to the kernel's own address (UDP port 9): verdict passed
Each phase prints testpmd's sent count and each verdict's delta per second of sending. The whole
script is one DPDK user: run it under the lock (both DPDK processes start inside it)."""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "e2e"))
import harness  # noqa: E402
from harness import Control, Dataplane, Lab, log  # noqa: E402


def txonly(lab, prefix, secs, src, dst, dport):
    """testpmd txonly in the namespace for secs: the packets it sent."""
    cmd = ["timeout", "-s", "INT", str(secs), "ip", "netns", "exec", lab.ns, "dpdk-testpmd", "--lcores", "0@0,1@0",
           "--no-pci", "--no-huge", "-m", "512", "--file-prefix", prefix, "--vdev", f"net_af_xdp0,iface={lab.cl_if}",
           "--", "--forward-mode=txonly", "--nb-cores=1", "--txpkts=64", "--total-num-mbufs=16384",
           "--stats-period", "1", f"--tx-ip={src},{dst}", f"--tx-udp=40000,{dport}", f"--eth-peer=0,{lab.dp_mac}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, stdin=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", f"/var/run/dpdk/{prefix}"])
    m = re.findall(r"TX-packets:\s+(\d+)", r.stdout)
    if not m:
        raise RuntimeError(f"testpmd txonly gave no TX-packets: {r.stdout[-1500:]} {r.stderr[-500:]}")
    return max(int(x) for x in m)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(harness.REPO / "build"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    harness.ARGS = argparse.Namespace(build_dir=str(Path(a.build_dir).resolve()), pmd="af_xdp", keep=False)
    with open("/proc/mounts") as f:
        if not any(ln.split()[1:3] == ["/sys/fs/bpf", "bpf"] for ln in f):
            subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
    obj = Path(harness.ARGS.build_dir) / "dataplane" / "xdp" / "fanout_prefilter.bpf.o"
    rows = []
    with Lab("xdpbench", clients=2) as lab:
        kaddr = lab.addr(100)
        subprocess.run(["ip", "addr", "add", f"{kaddr}/24", "dev", lab.dp_if], check=True)
        sock = Path(f"/tmp/fo-xdpbench-{os.getpid()}.sock")
        vdev = f"net_af_xdp0,iface={lab.dp_if},xdp_prog={obj}"
        with Dataplane("xdpbench", lab, vdev=vdev, extra_app=["--control", str(sock)]) as dp, \
                Control(sock, Path(dp.dir) / "control") as ctl:
            harness.wait_until("fanout-control to know the pins (its first STATS poll)",
                               lambda: ctl.ctl("xdp")[0] == 0, timeout=10)
            phases = [
                ("redirect", lab.addr(2), lab.appliance_ip, 1883, lambda: ctl.ctl_ok("limit", "set", 0)),
                ("rate_limit", lab.addr(2), lab.appliance_ip, 1883, lambda: ctl.ctl_ok("limit", "set", 1000, 100)),
                ("block", lab.addr(3), lab.appliance_ip, 1883, lambda: ctl.ctl_ok("block", "add", lab.addr(3))),
                ("pass", lab.addr(2), kaddr, 9, lambda: ctl.ctl_ok("limit", "set", 0)),
            ]
            for name, src, dst, port, setup in phases:
                setup()
                s0 = dp.settled_snapshot()
                v0 = s0["totals"]["xdp"]
                t0 = time.monotonic()
                sent = txonly(lab, f"fo-xdpbench-tx-{os.getpid()}", a.seconds, src, dst, port)
                el = time.monotonic() - t0
                s1 = dp.settled_snapshot()
                v1 = s1["totals"]["xdp"]
                d = {k: v1[k] - v0[k] for k in v0}
                rx = s1["totals"]["rx"] - s0["totals"]["rx"]
                missed = s1["ports"][0]["ethdev"]["imissed"] - s0["ports"][0]["ethdev"]["imissed"]
                row = {"phase": name, "sent": sent, "seconds": a.seconds, "verdicts": d, "dataplane_rx": rx,
                       "ethdev_imissed": missed, "per_s": {k: round(v / a.seconds) for k, v in d.items() if v}}
                rows.append(row)
                log(f"{name:10s} sent {sent} in {a.seconds} s ({sent / a.seconds:.0f}/s; testpmd ran {el:.1f} s "
                    f"with its start): verdicts {d} -> per second {row['per_s']}; dataplane rx +{rx}, imissed +{missed}")
            log("fanoutctl xdp:\n" + ctl.ctl_ok("xdp").rstrip())
            log("fanoutctl block list:\n" + ctl.ctl_ok("block", "list").rstrip())
            dp.stop()
        sock.unlink(missing_ok=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
