#!/usr/bin/python3
"""Fanout's benchmark, one command: fanout-dataplane against the DPDK limit on this machine, in one run.

  bench/run.py --build-dir build [--out bench-results] [--quick]
               [--only efficiency,scaling,latency,scale,lab,labqos,sink] [--plot | --no-plot]

The plot needs matplotlib (Debian's python3-matplotlib, which only /usr/bin/python3 imports). Run by
another python3 that lacks it, the script re-runs itself under /usr/bin/python3 when that one has it;
else it writes the JSON and says how to get the plot, failing only if --plot asked for one.

Parts (each writes into the JSON result; a PNG plot of all of them goes beside it):
  efficiency  fanout-dataplane (one lcore: rx, worker and tx) fed by net_pcap with infinite_rx from
              bench/workload.py's pcaps (port 0: the preamble that establishes the sessions; port 1: the
              steady PUBLISHes, replayed in a loop) against dpdk-testpmd --forward-mode=io on the SAME two
              vdevs, alternated --pairs times in this run. Messages/s, TSC cycles per message (the forwarding
              lcore is 100 % busy, so cycles/message = TSC Hz / rate), and the ratio fanout/testpmd per pair.
              net_pcap without a tx_pcap drops what is sent (as net_null would), for both programs.
  scaling     deliveries/s and cycles per delivery at fan-out 1 -> 1, 4, 16, 64, 256, exact and wildcard.
  latency     in-appliance rx -> tx latency (TSC stamped per rx burst, read before tx_burst; the stable
              generation's histogram, differenced over the window) at 10 %, 50 % and 90 % of the measured
              1 -> 1 capacity, offered with the dataplane's RXPACE.
  scale       bench/fanout-scale-bench (1M sessions, 1M topics, 100k subscriptions) when it is built.
  lab         fanout-loadgen through the AF_XDP lab (veth + netns) at fan-out 1 -> 1 and 1 -> 10, against
              testpmd -> testpmd over AF_XDP on the same kind of veth (the kernel path's ceiling).
  labqos      fanout-loadgen through the af_packet lab at QoS 0, 1 and 2 (publishers and subscribers at the
              same QoS, one exact topic), 1 -> 10 and 4 -> 4, a bounded count of messages each, as fast as the QoS
              allows
              (QoS 0 unpaced, so its row shows what the lab drops, and paced; QoS 1 and 2 bounded by --window
              messages in flight per publisher). Rates end to end, from the first PUBLISH to the last copy
              received, and the dataplane's own QoS counters; --expect-no-loss at QoS 1 and 2 (QoS 0 loss is
              reported, not judged).
  sink        the Redis Streams sink against a pipelined XADD baseline on the same redis-server, batch 256, 16
              and 1 (bench/sink_bench.py; its sink.json goes beside bench.json).

Every DPDK process gets --no-pci, --no-huge and its own --file-prefix, one at a time (flock on
/tmp/fanout-dpdk.lock). Timings on a shared 2-core VM are noisy: read the ratios of one run."""
import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test" / "e2e"))
import harness  # noqa: E402
from harness import DpdkLock, Resp  # noqa: E402


def log(msg):
    print(f"[bench] {msg}", flush=True)


def cleanup_prefix(prefix):
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)


def workload(tmp, name, **kw):
    d = Path(tmp) / name
    args = [sys.executable, str(REPO / "bench" / "workload.py"), "--out", str(d)]
    for k, v in kw.items():
        if v is True:
            args.append("--" + k.replace("_", "-"))
        elif v is not False and v is not None:
            args += ["--" + k.replace("_", "-"), str(v)]
    subprocess.run(args, check=True, capture_output=True, text=True)
    return d


def pcap_vdevs(w):
    return ["--vdev", f"net_pcap0,rx_pcap={w}/preamble.pcap",
            "--vdev", f"net_pcap1,rx_pcap={w}/steady.pcap,infinite_rx=1"]


class Fanout:
    """fanout-dataplane on a workload's pcaps, with a control socket."""

    def __init__(self, build, w, tag):
        self.prefix = f"fobench-{tag}-{os.getpid()}"
        self.sock = f"/tmp/{self.prefix}.sock"
        self.log = Path(tempfile.gettempdir()) / f"{self.prefix}.log"
        self.cmd = [str(Path(build) / "dataplane" / "fanout-dataplane"), "-l", "0,1", "--no-pci", "--no-huge",
                    "-m", "1024", "--file-prefix", self.prefix] + pcap_vdevs(w) + \
                   ["--", "--config", str(w / "dataplane.yaml"), "--control", self.sock,
                    "--stats", str(self.log) + ".stats.json"]

    def __enter__(self):
        self.lf = open(self.log, "w")
        self.p = subprocess.Popen(self.cmd, stdout=self.lf, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while "ready" not in self.log.read_text():
            if self.p.poll() is not None or time.monotonic() - t0 > 30:
                raise RuntimeError(f"fanout-dataplane did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        self.r = Resp(self.sock)
        return self

    def stats(self):
        s = json.loads(self.r.call("STATS"))
        t = s["totals"]
        return {"t": time.monotonic(), "rx": t["rx"], "publishes": t["events"]["publish_accepted"],
                "deliveries": t["events"]["deliveries"], "out_sent": t["out"]["sent"],
                "dropped": t["dropped"], "out_dropped": t["out"]["dropped"],
                "busy_pct": max((lc.get("busy_pct", 0) for lc in s["lcores"]), default=0)}

    def genstats(self):
        return json.loads(self.r.call("GENSTATS"))

    def __exit__(self, *exc):
        try:
            self.r.close()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self.p.terminate()
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.lf.close()
        cleanup_prefix(self.prefix)
        return False


def fanout_window(build, w, tag, warm, secs):
    with Fanout(build, w, tag) as f:
        time.sleep(warm)
        a = f.stats()
        time.sleep(secs)
        b = f.stats()
        tsc_hz = f.genstats()["tsc_hz"]
    dt = b["t"] - a["t"]
    rate = lambda k: (b[k] - a[k]) / dt  # noqa: E731
    return {"msgs_per_s": rate("publishes"), "deliveries_per_s": rate("deliveries"), "rx_pps": rate("rx"),
            "tx_pps": rate("out_sent"), "drops": b["dropped"] - a["dropped"] + b["out_dropped"] - a["out_dropped"],
            "tsc_hz": tsc_hz, "window_s": dt}


def testpmd_window(w, tag, warm, secs):
    prefix = f"fobench-tp-{tag}-{os.getpid()}"
    cmd = ["dpdk-testpmd", "-l", "0,1", "--no-pci", "--no-huge", "-m", "1024", "--file-prefix", prefix] + \
        pcap_vdevs(w) + ["--", "--forward-mode=io", "--nb-cores=1", "--stats-period", "1",
                         "--total-num-mbufs=32768"]
    try:
        r = subprocess.run(["timeout", "-s", "INT", str(int(warm + secs + 3)), *cmd], capture_output=True, text=True,
                           timeout=warm + secs + 30)
    finally:
        cleanup_prefix(prefix)
    port, per_port = None, {}
    for line in r.stdout.splitlines():
        m = re.search(r"NIC statistics for port (\d+)", line)
        if m:
            port = int(m.group(1))
        m = re.search(r"Rx-pps:\s+(\d+)", line)
        if m and port is not None:
            per_port.setdefault(port, []).append(int(m.group(1)))
    steady = per_port.get(1, [])
    nonzero = [v for v in steady if v > 0]
    vals = nonzero[1:] if len(nonzero) > 1 else nonzero  # the first is a partial second
    if not vals:
        raise RuntimeError(f"testpmd reported no rx rate on port 1:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return {"msgs_per_s": statistics.median(vals), "samples": len(vals)}


def part_efficiency(a, tmp, res):
    w = workload(tmp, "eff", publishers=4, subscribers=1, topics=4, payload=64, qos_mix="0")
    pairs = []
    for i in range(a.pairs):
        with DpdkLock():
            tp = testpmd_window(w, f"e{i}", a.warm, a.window)
        with DpdkLock():
            fo = fanout_window(a.build_dir, w, f"e{i}", a.warm, a.window)
        ratio = fo["msgs_per_s"] / tp["msgs_per_s"]
        pairs.append({"testpmd_msgs_per_s": tp["msgs_per_s"], "fanout_msgs_per_s": fo["msgs_per_s"], "ratio": ratio,
                      "fanout_drops": fo["drops"]})
        log(f"efficiency pair {i + 1}/{a.pairs}: testpmd {tp['msgs_per_s'] / 1e6:.2f} Mmsg/s, fanout "
            f"{fo['msgs_per_s'] / 1e6:.2f} Mmsg/s, ratio {ratio:.3f}")
    tsc = fo["tsc_hz"]
    med = lambda k: statistics.median(p[k] for p in pairs)  # noqa: E731
    res["efficiency"] = {
        "workload": "1 -> 1, QoS 0, 64 B payload, 4 publishers, established sessions",
        "tsc_hz": tsc, "pairs": pairs,
        "testpmd_msgs_per_s": med("testpmd_msgs_per_s"), "fanout_msgs_per_s": med("fanout_msgs_per_s"),
        "testpmd_cycles_per_msg": tsc / med("testpmd_msgs_per_s"), "fanout_cycles_per_msg": tsc / med("fanout_msgs_per_s"),
        "ratio": med("ratio"), "target_ratio": 0.5,
    }
    res["efficiency"]["meets_target"] = res["efficiency"]["ratio"] >= 0.5


def part_scaling(a, tmp, res):
    """Each fan-out point is run --pairs times, round robin over the points (so slow spells of a shared
    machine hit every point alike); the median of each point is reported."""
    points = [(s, wild) for wild in (False, True) for s in a.fanouts]
    wls = {p: workload(tmp, f"fan{p[0]}{'w' if p[1] else 'e'}", publishers=4, subscribers=p[0], topics=4, payload=64,
                       qos_mix="0", wildcard=p[1]) for p in points}
    runs = {p: [] for p in points}
    for rep in range(a.pairs):
        for p in points:
            with DpdkLock():
                runs[p].append(fanout_window(a.build_dir, wls[p], f"f{p[0]}", a.warm, a.window))
    rows = []
    for (s, wild) in points:
        rr = runs[(s, wild)]
        med = lambda k: statistics.median(r[k] for r in rr)  # noqa: E731
        tsc = rr[0]["tsc_hz"]
        row = {"fanout": s, "wildcard": wild, "msgs_per_s": med("msgs_per_s"), "deliveries_per_s": med("deliveries_per_s"),
               "drops": sum(r["drops"] for r in rr), "runs": [r["deliveries_per_s"] for r in rr]}
        row["cycles_per_delivery"] = tsc / row["deliveries_per_s"] if row["deliveries_per_s"] else None
        row["cycles_per_msg"] = tsc / row["msgs_per_s"] if row["msgs_per_s"] else None
        rows.append(row)
        log(f"fan-out 1 -> {s} {'wildcard' if wild else 'exact'}: {row['msgs_per_s'] / 1e6:.2f} Mmsg/s, "
            f"{row['deliveries_per_s'] / 1e6:.2f} Mdeliveries/s, "
            f"{row['cycles_per_delivery'] or 0:.0f} cycles/delivery (median of {len(rr)})")
    one = next(r for r in rows if r["fanout"] == 1 and not r["wildcard"])
    sixteen = next((r for r in rows if r["fanout"] == 16 and not r["wildcard"]), None)
    res["scaling"] = {"rows": rows}
    if sixteen:
        x = sixteen["deliveries_per_s"] / one["msgs_per_s"]
        res["scaling"].update({"x16_over_x1": x, "target": 3.0, "meets_target": x >= 3.0})
        log(f"1 -> 16 deliveries/s over 1 -> 1 msgs/s: {x:.2f} (target 3)")


def hist_window(h0, h1):
    """Percentiles (ns) of the samples between two cumulative latency_hist snapshots."""
    b0 = {b[0]: b[2] for b in h0}
    delta = sorted((b[0], b[1], b[2] - b0.get(b[0], 0)) for b in h1)
    total = sum(d[2] for d in delta)
    out = {"samples": total}
    for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)):
        want = max(1, int(q * total))
        acc = 0
        for _, upper, n in delta:
            acc += n
            if acc >= want:
                out[name] = upper
                break
    return out


def part_latency(a, tmp, res):
    cap = res.get("efficiency", {}).get("fanout_msgs_per_s")
    w = workload(tmp, "lat", publishers=4, subscribers=1, topics=4, payload=64, qos_mix="0")
    rows = []
    with DpdkLock():
        if not cap:
            cap = fanout_window(a.build_dir, w, "lcap", a.warm, a.window)["msgs_per_s"]
        with Fanout(a.build_dir, w, "lat") as f:
            for frac in (0.1, 0.5, 0.9):
                f.r.call("RXPACE", 1, int(frac * cap))
                time.sleep(a.warm)
                g0, s0 = f.genstats(), f.stats()
                time.sleep(a.window)
                g1, s1 = f.genstats(), f.stats()
                stable = lambda g: next(x for x in g["generations"] if x["role"] == "stable")  # noqa: E731
                lat = hist_window(stable(g0)["latency_hist"], stable(g1)["latency_hist"])
                rate = (s1["publishes"] - s0["publishes"]) / (s1["t"] - s0["t"])
                rows.append({"fraction": frac, "offered_msgs_per_s": frac * cap, "msgs_per_s": rate,
                             "latency_ns": lat})
                log(f"latency at {frac:.0%} of {cap / 1e6:.2f} Mmsg/s: {rate / 1e6:.2f} Mmsg/s, p50 {lat.get('p50')} ns, "
                    f"p99 {lat.get('p99')} ns, p99.9 {lat.get('p999')} ns, max {lat.get('max')} ns")
    res["latency"] = {"capacity_msgs_per_s": cap, "rows": rows, "target_p99_ns_at_50pct": 10000}
    mid = next(r for r in rows if r["fraction"] == 0.5)
    res["latency"]["meets_target"] = mid["latency_ns"].get("p99", 1e18) <= 10000


def part_scale(a, tmp, res):
    exe = Path(a.build_dir) / "bench" / "fanout-scale-bench"
    if not exe.exists():
        res["scale"] = {"skipped": f"{exe} is not built"}
        return
    out = Path(tmp) / "scale.json"
    args = [str(exe), "--json", str(out)] + (["--quick"] if a.quick else [])
    log("scale: " + " ".join(args))
    subprocess.run(args, check=True, timeout=1800)
    res["scale"] = json.loads(out.read_text())


def part_lab(a, tmp, res):
    harness.ARGS = argparse.Namespace(build_dir=a.build_dir, pmd="af_xdp", keep=False)
    rows = []
    with DpdkLock(), harness.Lab("bench-lab") as lab:
        ceiling = veth_ceiling(lab, a.window)
        for subs in (1, 10):
            # 1 -> 1 unbounded (the sender is the limit); 1 -> 10 offered at 3/4 of the veth ceiling in
            # deliveries, since an unbounded sender only measures the kernel's drops
            rate = 0 if subs == 1 else int(0.75 * (ceiling or 200000) / subs)
            with harness.Dataplane("benchlab", lab, pmd="af_xdp") as dp:
                rep, _ = harness.loadgen(lab, ["-p", 1, "-s", subs, "--topic", "lab/{pub}", "--filter", "lab/#",
                                               "--qos", 0, "--rate", rate, "--duration", a.window, "--id-prefix", "bl"])
                dp.stop()
            d = rep["deliver"]
            rows.append({"fanout": subs, "offered_msgs_per_s": rate or None, "msgs_per_s": rep["publish"]["rate_msgs_per_s"],
                         "deliveries_per_s": d["rate_msgs_per_s"], "lost": d["lost_msgs"],
                         "p99_us": rep["latency_us"]["p99"],
                         "packets_per_s": rep["publish"]["rate_msgs_per_s"] + d["rate_msgs_per_s"]})
            log(f"lab 1 -> {subs}: {rows[-1]['msgs_per_s']:.0f} msg/s sent, {d['rate_msgs_per_s']:.0f} deliveries/s, "
                f"lost {d['lost_msgs']}, p99 {rep['latency_us']['p99']:.0f} us")
    for r in rows:  # the busier direction of the veth against what testpmd gets through one direction
        r["fraction_of_veth_ceiling"] = max(r["msgs_per_s"], r["deliveries_per_s"]) / ceiling if ceiling else None
    res["lab"] = {"veth_ceiling_pps": ceiling, "rows": rows, "pmd": "net_af_xdp"}


LABQOS_SHAPES = ((1, 10), (4, 4))  # publishers, subscribers: every subscriber gets every publisher's messages
LABQOS_MSGS = 20000  # publishes per row, split between the publishers (5000 with --quick)
# (QoS, window, total rate) per row. QoS 2 with a window of 4: the appliance keeps 4 MsgIds awaiting PUBREL per
# client and refuses a fifth QoS 2 PUBLISH with PUBACK "congestion" (docs/dataplane.md); QoS 1 at the same
# window, and at 64. QoS 0 unpaced (what the lab loses when a sender does not wait) and paced at 10,000 msg/s.
LABQOS_ROWS = ((0, None, 0), (0, None, 10000), (1, 4, 0), (1, 64, 0), (2, 4, 0))


def part_labqos(a, tmp, res):
    harness.ARGS = argparse.Namespace(build_dir=a.build_dir, pmd="af_packet", keep=False)
    msgs = 5000 if a.quick else LABQOS_MSGS
    rows, failed = [], []
    res["labqos"] = {"pmd": "net_af_packet", "payload_bytes": 64, "rows": rows}
    with DpdkLock(), harness.Lab("bench-labqos") as lab:
        for pubs, subs in LABQOS_SHAPES:
            for qos, window, total_rate in LABQOS_ROWS:
                count = msgs // pubs
                # one exact topic for every publisher: no gateway REGISTER, so no copy waits for a REGACK
                # (under a wildcard the first copies of each new name do, at most 64 per session)
                args = ["-p", pubs, "-s", subs, "--topic", "lq/data", "--filter", "lq/data", "--qos", qos,
                        "--sub-qos", qos, "--rate", 0, "--count", count,
                        # a copy lost on the way is resent every retry_interval_ms (500) up to retry_limit (5)
                        # times: wait that long for the last ones
                        "--drain-ms", 3000 if qos else 1000,
                        "--id-prefix", f"lq{pubs}{subs}{qos}"]
                if total_rate:
                    args += ["--total-rate", total_rate]
                if window:
                    args += ["--window", window]
                if qos:
                    args.append("--expect-no-loss")
                with harness.Dataplane("benchlabqos", lab) as dp:
                    rep, rc = harness.loadgen(lab, args, timeout=300)
                    ev = harness.events(dp.stop())
                p, d, lat = rep["publish"], rep["deliver"], rep["latency_us"]
                row = {"publishers": pubs, "subscribers": subs, "qos": qos, "window": window,
                       "offered_msgs_per_s": total_rate or None, "sent": p["sent_msgs"], "completed": p["acked_msgs"],
                       "rejected": p["rejected_msgs"], "retransmitted": p["retransmitted_msgs"],
                       "publish_s": p["elapsed_s"], "msgs_per_s": p["rate_msgs_per_s"],
                       "expected": d["expected_msgs"], "received": d["received_msgs"], "unique": d["unique_msgs"],
                       "lost": d["lost_msgs"], "deliver_s": d["elapsed_s"], "deliveries_per_s": d["rate_msgs_per_s"],
                       "p50_us": lat["p50"], "p99_us": lat["p99"], "verdict": rep["result"]["verdict"],
                       "dataplane": {k: ev.get(k, 0) for k in (
                           "publish_accepted", "deliveries", "deliveries_qos1", "qos1_acked", "qos1_retransmits",
                           "qos1_giveups", "session_paused", "delivery_paused", "delivery_held", "delivery_held_full",
                           "deliveries_qos2", "qos2_received",
                           "qos2_released", "qos2_completed", "qos2_pubrel_resent")}}
                rows.append(row)
                log(f"labqos {pubs} -> {subs} QoS {qos} window {window} rate {total_rate or 'unpaced'}: "
                    f"{p['sent_msgs']} sent at {p['rate_msgs_per_s']:.0f} msg/s, "
                    f"{d['received_msgs']} of {d['expected_msgs']} received at {d['rate_msgs_per_s']:.0f} "
                    f"deliveries/s, lost {d['lost_msgs']}, p50 {lat['p50']:.0f} us p99 {lat['p99']:.0f} us "
                    f"({rep['result']['verdict']})")
                if qos and (rc != 0 or p["rejected_msgs"]):
                    failed.append(f"{pubs} -> {subs} QoS {qos} window {window}: {rep['result']['verdict']}, "
                                  f"{p['rejected_msgs']} rejected")
    if failed:
        raise RuntimeError("labqos: " + "; ".join(failed))


def part_sink(a, tmp, res):
    import sink_bench  # bench/sink_bench.py: takes the DPDK lock itself, for each dataplane run
    sa = sink_bench.parse_args(["--build-dir", a.build_dir, "--out", a.out] + (["--quick"] if a.quick else []))
    sr = sink_bench.run(sa)
    res["sink"] = sr.get("summary") or {}
    errs = [f"batch {r['batch']} qos {r['qos']}: {r['error']}" for r in sr["rows"] if "error" in r]
    if errs:
        raise RuntimeError("; ".join(errs))


def veth_ceiling(lab, secs):
    """testpmd txonly on the lab's client veth (in its namespace, AF_XDP) -> testpmd rxonly on the dataplane
    veth (AF_XDP): packets/s the kernel's veth path delivers between two DPDK processes."""
    rx_prefix, tx_prefix = f"fobench-vrx-{os.getpid()}", f"fobench-vtx-{os.getpid()}"
    rx = subprocess.Popen(["timeout", "-s", "INT", str(secs + 6), "dpdk-testpmd", "-l", "0,1", "--no-pci", "--no-huge",
                           "-m", "512", "--file-prefix", rx_prefix, "--vdev", f"net_af_xdp0,iface={lab.dp_if}",
                           "--", "--forward-mode=rxonly", "--nb-cores=1", "--stats-period", "1",
                           "--total-num-mbufs=16384"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    tx = subprocess.Popen(["timeout", "-s", "INT", str(secs + 2), "ip", "netns", "exec", lab.ns, "dpdk-testpmd",
                           "--lcores", "0@0,1@0", "--no-pci", "--no-huge", "-m", "512", "--file-prefix", tx_prefix,
                           "--vdev", f"net_af_xdp0,iface={lab.cl_if}", "--", "--forward-mode=txonly",
                           "--nb-cores=1", "--txpkts=64", "--total-num-mbufs=16384", "--stats-period", "1"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tx_out, _ = tx.communicate(timeout=secs + 30)
    rx_out, _ = rx.communicate(timeout=secs + 30)
    cleanup_prefix(rx_prefix)
    cleanup_prefix(tx_prefix)
    vals = [int(v) for v in re.findall(r"Rx-pps:\s+(\d+)", rx_out)]
    vals = [v for v in vals if v > 0]
    if len(vals) < 2:
        log(f"veth ceiling: testpmd gave no rx rate (rx: {rx_out[-800:]!r} tx: {tx_out[-800:]!r})")
        return None
    c = statistics.median(vals[1:])
    log(f"veth ceiling (testpmd txonly -> rxonly over AF_XDP): {c / 1e6:.3f} Mpps")
    return c


def plot(res, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    e = res.get("efficiency")
    if e:
        a0 = ax[0][0]
        a0.bar(["testpmd io", "fanout"], [e["testpmd_msgs_per_s"] / 1e6, e["fanout_msgs_per_s"] / 1e6],
               color=["#888", "#2a7"])
        a0.set_ylabel("Mmsg/s (one lcore)")
        a0.set_title(f"core efficiency 1->1 QoS 0 64 B: ratio {e['ratio']:.2f} (target 0.5)\n"
                     f"cycles/msg: testpmd {e['testpmd_cycles_per_msg']:.0f}, fanout {e['fanout_cycles_per_msg']:.0f}")
    s = res.get("scaling")
    if s:
        a1 = ax[0][1]
        for wild, style in ((False, "o-"), (True, "s--")):
            rows = [r for r in s["rows"] if r["wildcard"] == wild]
            a1.plot([r["fanout"] for r in rows], [r["deliveries_per_s"] / 1e6 for r in rows], style,
                    label=f"deliveries/s ({'wildcard' if wild else 'exact'})")
        a1.set_xscale("log", base=2)
        a1.set_xlabel("subscribers per topic")
        a1.set_ylabel("M deliveries/s")
        a1.set_title("fan-out scaling (one lcore)")
        a1.legend()
    lt = res.get("latency")
    if lt:
        a2 = ax[1][0]
        fr = [f"{int(r['fraction'] * 100)} %" for r in lt["rows"]]
        for k, c in (("p50", "#2a7"), ("p99", "#e90"), ("p999", "#c33")):
            a2.plot(fr, [r["latency_ns"].get(k, 0) / 1000 for r in lt["rows"]], "o-", label=k, color=c)
        a2.axhline(10, ls=":", color="k", label="target p99 at 50 %")
        a2.set_ylabel("rx -> tx latency (us)")
        a2.set_xlabel(f"offered load (of {lt['capacity_msgs_per_s'] / 1e6:.2f} Mmsg/s)")
        a2.set_yscale("log")
        a2.set_title("in-appliance latency")
        a2.legend()
    lab = res.get("lab")
    if lab and lab.get("rows"):
        a3 = ax[1][1]
        a3.bar([f"1->{r['fanout']}" for r in lab["rows"]],
               [max(r["msgs_per_s"], r["deliveries_per_s"]) / 1e3 for r in lab["rows"]], color="#27a")
        if lab.get("veth_ceiling_pps"):
            a3.axhline(lab["veth_ceiling_pps"] / 1e3, ls=":", color="k", label="testpmd->testpmd veth ceiling")
            a3.legend()
        a3.set_ylabel("k packets/s, busier veth direction")
        a3.set_title("lab end to end (fanout-loadgen, AF_XDP)")
    fig.suptitle(f"Fanout bench {res['started']} on {res['machine']}")
    fig.tight_layout()
    fig.savefig(png, dpi=90)


SYSTEM_PYTHON = "/usr/bin/python3"


def can_import_matplotlib(python):
    return subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode == 0


def plot_interpreter(args):
    """True when this interpreter can plot. One that cannot is replaced by SYSTEM_PYTHON (exec, same
    arguments) when that one can; otherwise False, and the caller writes the JSON only."""
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.access(SYSTEM_PYTHON, os.X_OK) and can_import_matplotlib(SYSTEM_PYTHON):
        log(f"{sys.executable} cannot import matplotlib; running again under {SYSTEM_PYTHON}")
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, str(Path(__file__).resolve())] + args)
    return False


def no_plot_advice():
    return ("no plot: matplotlib is missing here. Install it with `apt-get install python3-matplotlib` and run "
            f"`{SYSTEM_PYTHON} bench/run.py ...` (the results JSON is written either way)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--quick", action="store_true", help="short windows, fewer points (a few minutes)")
    ap.add_argument("--only", default="efficiency,scaling,latency,scale,lab,labqos,sink")
    ap.add_argument("--pairs", type=int, default=3, help="testpmd/fanout alternations (default 3)")
    pl = ap.add_mutually_exclusive_group()
    pl.add_argument("--plot", dest="plot", action="store_true", default=None,
                    help="the plot is required: exit non-zero when it cannot be drawn")
    pl.add_argument("--no-plot", dest="plot", action="store_false", help="write the JSON only")
    a = ap.parse_args()
    can_plot = a.plot is not False and plot_interpreter(sys.argv[1:])
    if a.plot is not False and not can_plot:
        log(no_plot_advice())  # said now, before a long run, and again at the end
    a.build_dir = str(Path(a.build_dir).resolve())
    a.window = 1.5 if a.quick else 3.0
    a.warm = 1.0
    a.fanouts = [1, 16] if a.quick else [1, 4, 16, 64, 256]
    if a.quick:
        a.pairs = min(a.pairs, 2)
    if os.geteuid() != 0:
        print("bench/run.py: run as root (DPDK, network namespaces)", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{os.cpu_count()} x {cpu}",
           "build_dir": a.build_dir, "quick": a.quick}
    parts = {"efficiency": part_efficiency, "scaling": part_scaling, "latency": part_latency, "scale": part_scale,
             "lab": part_lab, "labqos": part_labqos, "sink": part_sink}
    with tempfile.TemporaryDirectory(prefix="fobench-") as tmp:
        for name in a.only.split(","):
            log(f"--- {name}")
            try:
                parts[name](a, tmp, res)
            except Exception as e:  # noqa: BLE001 - one part failing must not lose the others
                res.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"
                log(f"{name} failed: {e}")
    (out / "bench.json").write_text(json.dumps(res, indent=2) + "\n")
    plotted = False
    if can_plot:
        try:
            plot(res, out / "bench.png")
            plotted = True
        except Exception as e:  # noqa: BLE001
            log(f"plot failed: {e}")
    elif a.plot is not False:
        log(no_plot_advice())
    log(f"wrote {out / 'bench.json'}" + (f" and {out / 'bench.png'}" if plotted else ""))
    return 1 if res.get("errors") or (a.plot and not plotted) else 0


if __name__ == "__main__":
    sys.exit(main())
