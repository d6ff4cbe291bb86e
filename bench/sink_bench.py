#!/usr/bin/python3
"""The Redis Streams sink against a pipelined XADD baseline, on the same Redis, in one run.

  bench/sink_bench.py --build-dir build [--out bench-results] [--batches 256,16,1] [--qos 0,1] [--reps 2]
                      [--transport tcp|unix] [--own-core] [--quick] [--baseline-only]

What it does, in one run (about 85 s plus waits for the DPDK lock; --quick about 10 s):
  1. starts its own redis-server (Debian's, --save '' --appendonly no, a free loopback port and a unix
     socket in a temp dir), pinned to --redis-cpu (default 0), and drives everything against it;
  2. for each batch size B (default 256, 16, 1; the sink's default 256 first), in turn, under flock
     /tmp/fanout-dpdk.lock for both halves (so no other DPDK poller on the machine runs beside either):
       baseline  FLUSHALL, then build/bench/fanout-xadd-baseline (bench/xadd_baseline.c): one connection,
                 B XADDs appended then B replies read, entries of exactly the sink's shape (same keys,
                 field names, payload size, explicit increasing ids, MAXLEN ~), for --window seconds,
                 pinned to the SAME cpu as redis-server: the CPU the sink's writer thread gets below;
       sink      FLUSHALL, then fanout-dataplane (-l 0,1 --no-pci --no-huge, own --file-prefix) with a sink
                 `redis` (batch B) and a route `bench/#` -> stream `fanout:{topic}`, fed by net_pcap
                 infinite_rx replay of bench/workload.py pcaps (4 publishers, 4 topics, no subscribers,
                 --payload bytes, QoS 0): millions of publishes/s offered, far more than one Redis
                 connection takes, so the sink's ring stays full (the surplus is counted as ring_full drops)
                 and what is measured is the sink's own write rate. Entries/s from the control socket's
                 OUTPUTS counters (written) and from Redis (XLEN of the streams) over the same window, batch
                 sizes and batch round trips from OUTPUTS' histograms (differenced over the window);
     and the ratio sink / baseline. QoS 1 publishes (--qos 0,1) are run at the first batch size only
     (puback: accepted, the default). The points are repeated --reps times round robin; a row gives the
     medians and the median of the per-repetition ratios (each from a baseline and a sink window seconds
     apart). The sink's batch round trip is the same interval as the baseline's (flush of the pipelined
     batch to its last reply); the sink reports it as log2 buckets and a mean, so the table compares means
     and gives the sink's p50/p99 as bucket upper bounds. At the first point, the baseline is also run with
     --raw (the batch's RESP formatted into one buffer, no per-command hiredis formatting): the writer
     cost floor, as a reference. CPU per entry of the writer (baseline process / the sink's thread) and of
     redis-server, from /proc over each window, show where the shared cpu goes.
     cpu ratio = (baseline writer + redis cpu per entry) / (sink thread + redis cpu per entry): cpu 0 is
     saturated on both sides, so it predicts the ratio of rates and varies less with the machine's noise.
  3. prints a table and writes OUT/sink.json (the command, every figure, both sides' raw results).

CPU placement on a 2-core machine: the dataplane's lcore 1 polls (100 % of cpu 1); its main lcore (sleeping),
the sink's writer thread (a DPDK control thread: the cpus left by the lcores, else the main lcore's cpu 0) and
redis-server share cpu 0. The baseline client is pinned to cpu 0 beside redis-server for the same budget;
with --own-core the baseline is also run with the client on cpu 1 (a writer with a core of its own, a
reference the sink cannot reach here). Timings on a shared 2-core VM are noisy: compare within one run."""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test" / "e2e"))
from harness import DpdkLock, Resp  # noqa: E402

HIST = 24


T0 = time.monotonic()


def log(msg):
    print(f"[sink-bench {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(path):
    """utime + stime of /proc/PID/stat or /proc/PID/task/TID/stat, in seconds (10 ms resolution)."""
    f = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


def thread_stat(pid, name):
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (t / "comm").read_text().strip() == name:
                return str(t / "stat")
        except OSError:
            pass
    return None


class Redis:
    """redis-server on a free loopback port and a unix socket, no persistence, pinned to one cpu."""

    def __init__(self, tmp, cpu):
        self.port = free_port()
        self.unix = str(Path(tmp) / "redis.sock")
        self.logf = Path(tmp) / "redis.log"
        self.cmd = ["taskset", "-c", str(cpu), "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                    "--unixsocket", self.unix, "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--logfile", str(self.logf), "--dir", str(tmp)]

    def __enter__(self):
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        while True:
            try:
                self.r = Resp(("127.0.0.1", self.port))
                if self.r.call("PING") == "PONG":
                    break
            except OSError:
                pass
            if self.p.poll() is not None or time.monotonic() - t0 > 10:
                self.p.kill()
                self.p.wait()
                raise RuntimeError(f"redis-server did not start: {self.logf.read_text()[-2000:] if self.logf.exists() else ''}")
            time.sleep(0.05)
        self.version = self.r.call("INFO", "server").split("redis_version:")[1].split()[0]
        return self

    def call(self, *a):
        return self.r.call(*a)

    def cpu_s(self):
        return cpu_s(f"/proc/{self.p.pid}/stat")  # taskset execs redis-server: same pid

    def xlen(self, keys):
        return sum(self.r.call("XLEN", k) for k in keys)

    def __exit__(self, *exc):
        try:
            self.r.close()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return False


def workload(tmp, name, **kw):
    d = Path(tmp) / name
    args = [sys.executable, str(REPO / "bench" / "workload.py"), "--out", str(d)]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    subprocess.run(args, check=True, capture_output=True, text=True)
    return d


def sink_config(w, redis_addr, batch, a, tag):
    """The workload's dataplane.yaml plus the sink and its route (docs/performance.md, "Redis Streams sink")."""
    text = (w / "dataplane.yaml").read_text() + f"""sinks:
  - name: redis
    redis: {redis_addr}
    batch: {batch}
    batch_us: {a.batch_us}
    maxlen: {a.maxlen}
    ring: {a.ring}
    puback: {a.puback}
routes:
  - name: to-redis
    filter: "bench/#"
    sink: redis
    stream: "fanout:{{topic}}"
"""
    p = w / f"dataplane-{tag}.yaml"
    p.write_text(text)
    return p


class Dataplane:
    """fanout-dataplane on a workload's pcaps with a sink config; control socket for OUTPUTS."""

    def __init__(self, build, w, config, tag):
        self.prefix = f"fosink-{tag}-{os.getpid()}"
        self.sock = f"/tmp/{self.prefix}.sock"
        self.log = Path(tempfile.gettempdir()) / f"{self.prefix}.log"
        self.stats_path = str(self.log) + ".stats.json"
        self.cmd = [str(Path(build) / "dataplane" / "fanout-dataplane"), "-l", "0,1", "--no-pci", "--no-huge",
                    "-m", "1024", "--file-prefix", self.prefix,
                    "--vdev", f"net_pcap0,rx_pcap={w}/preamble.pcap",
                    "--vdev", f"net_pcap1,rx_pcap={w}/steady.pcap,infinite_rx=1",
                    "--", "--config", str(config), "--control", self.sock, "--stats", self.stats_path]
        self.final = None

    def __enter__(self):
        self.lf = open(self.log, "w")
        self.p = subprocess.Popen(self.cmd, stdout=self.lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            t0 = time.monotonic()
            while "ready" not in self.log.read_text():
                if self.p.poll() is not None or time.monotonic() - t0 > 30:
                    raise RuntimeError(f"fanout-dataplane did not start:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.05)
            self.r = Resp(self.sock)
        except BaseException:
            self._kill()
            raise
        return self

    def outputs(self):
        return json.loads(self.r.call("OUTPUTS"))

    def stats(self):
        return json.loads(self.r.call("STATS"))

    def routes(self):
        return json.loads(self.r.call("ROUTES"))

    def _kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.lf.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def __exit__(self, *exc):
        try:
            self.r.close()
        except Exception:  # noqa: BLE001
            pass
        self._kill()
        try:
            self.final = json.loads(Path(self.stats_path).read_text())
        except (OSError, ValueError):
            self.final = None
        for p in (self.stats_path, self.sock) + (() if exc[0] else (self.log,)):  # the log stays after a failure
            try:
                os.unlink(p)
            except OSError:
                pass
        return False


def hist_pct(delta, q):
    """Upper bound (2^b - 1) of the log2 bucket holding quantile q (bucket b = bit length of the value)."""
    n = sum(delta)
    if n == 0:
        return None
    want = max(1, int(n * q + 0.999999))
    acc = 0
    for b, c in enumerate(delta):
        acc += c
        if acc >= want:
            return 0 if b == 0 else (1 << b) - 1
    return (1 << (len(delta) - 1)) - 1


def hist_sizes(delta):
    """{"1": n, "2-3": n, ..., "256-511": n} of a batch-size histogram."""
    out = {}
    for b, c in enumerate(delta):
        if c:
            lo, hi = (0, 0) if b == 0 else (1 << (b - 1), (1 << b) - 1)
            out[str(lo) if lo == hi else f"{lo}-{hi}"] = c
    return out


def run_baseline(a, redis, addr, batch, qos, cpu, raw=False):
    redis.call("FLUSHALL")
    cmd = ["taskset", "-c", str(cpu), str(Path(a.build_dir) / "bench" / "fanout-xadd-baseline"), "--redis", addr,
           "--entries", str(a.max_entries), "--max-seconds", str(a.window), "--batch", str(batch),
           "--payload", str(a.payload), "--topics", str(a.topics), "--clients", str(a.publishers),
           "--maxlen", str(a.maxlen), "--qos", str(qos), "--topic-pattern", "bench/t{t}",
           "--stream", "fanout:{topic}", "--client-prefix", "p"] + (["--raw"] if raw else [])
    ru0, rc0 = resource.getrusage(resource.RUSAGE_CHILDREN), redis.cpu_s()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.window + 60)
    ru1, rc1 = resource.getrusage(resource.RUSAGE_CHILDREN), redis.cpu_s()
    if r.returncode != 0:
        raise RuntimeError(f"baseline failed ({r.returncode}): {r.stderr[-2000:]} {r.stdout[-2000:]}")
    res = json.loads(r.stdout)
    res["command"] = " ".join(cmd)
    n = max(1, res["written"])
    res["cpu_us_per_entry"] = {"writer": 1e6 * (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / n,
                               "redis": 1e6 * (rc1 - rc0) / n}
    keys = [f"fanout:bench/t{t}" for t in range(a.topics)]
    res["xlen"] = redis.xlen(keys)
    res["sample_entry"] = sample_entry(redis, keys[0])
    res["rtt_bucket_p50"] = hist_pct(res["rtt_hist"], 0.5)
    res["rtt_bucket_p99"] = hist_pct(res["rtt_hist"], 0.99)
    return res


def sample_entry(redis, key):
    """Field names and payload length of the stream's last entry (to check both sides write one shape)."""
    with Resp(("127.0.0.1", redis.port), raw=True) as r:
        e = r.call("XREVRANGE", key, "+", "-", "COUNT", 1)
    if not e:
        return None
    eid, fields = e[0]
    kv = dict(zip(fields[0::2], fields[1::2]))
    txt = lambda k: kv[k].decode(errors="replace") if k in kv else None  # noqa: E731
    return {"id": eid.decode(), "fields": [f.decode(errors="replace") for f in fields[0::2]],
            "payload_len": len(kv.get(b"payload", b"")), "topic": txt(b"topic"), "client": txt(b"client"),
            "qos": txt(b"qos"), "gen": txt(b"gen")}


def sink_of(outputs):
    s = [x for x in outputs.get("sinks", []) if x.get("name") == "redis"]
    if not s:
        raise RuntimeError(f"no sink 'redis' in OUTPUTS: {outputs}")
    return s[0]


def run_sink(a, redis, addr, w, batch, qos, tag):
    redis.call("FLUSHALL")
    cfg = sink_config(w, addr, batch, a, tag)
    keys = [f"fanout:bench/t{t}" for t in range(a.topics)]
    with Dataplane(a.build_dir, w, cfg, tag) as dp:  # the caller holds the DPDK lock
        t0 = time.monotonic()
        while sink_of(dp.outputs())["written"] == 0:  # connected and writing
            if time.monotonic() - t0 > 15:
                raise RuntimeError(f"the sink wrote nothing in 15 s: {sink_of(dp.outputs())}")
            time.sleep(0.05)
        time.sleep(a.warm)
        tstat = thread_stat(dp.p.pid, "fo-sink-0")
        c0 = (cpu_s(tstat) if tstat else 0.0, redis.cpu_s())
        s0, x0, t_s0 = sink_of(dp.outputs()), redis.xlen(keys), time.monotonic()
        st0, routes0 = dp.stats(), dp.routes()
        time.sleep(a.window)
        s1, x1, t_s1 = sink_of(dp.outputs()), redis.xlen(keys), time.monotonic()
        st1, routes1 = dp.stats(), dp.routes()
        c1 = (cpu_s(tstat) if tstat else 0.0, redis.cpu_s())
        entry = sample_entry(redis, keys[0])
    dt = t_s1 - t_s0
    d = lambda k: s1[k] - s0[k]  # noqa: E731
    bh = [y - x for x, y in zip(s0["batch_hist"], s1["batch_hist"])]
    rh = [y - x for x, y in zip(s0["rtt_hist"], s1["rtt_hist"])]
    r0, r1 = s0["rtt_us"], s1["rtt_us"]
    rtt_n = r1["n"] - r0["n"]
    rtt_mean = (r1["mean"] * r1["n"] - r0["mean"] * r0["n"]) / rtt_n if rtt_n else None
    pub = lambda st: st["totals"]["events"]["publish_accepted"]  # noqa: E731
    res = {
        "batch": batch, "qos": qos, "window_s": dt,
        "entries_per_s": d("written") / dt, "xlen_per_s": (x1 - x0) / dt,
        "written": d("written"), "failed": d("failed"), "errors": d("errors"), "reconnects": d("reconnects"),
        "batches": d("batches"), "mean_batch": d("written") / d("batches") if d("batches") else None,
        "batch_sizes": hist_sizes(bh), "batch_hist": bh, "rtt_hist": rh,
        "batch_rtt_us": {"p50": hist_pct(rh, 0.5), "p99": hist_pct(rh, 0.99), "mean": rtt_mean,
                         "max_run": r1["max"], "n": rtt_n, "note": "p50/p99: upper bound of the log2 bucket"},
        "offered_publishes_per_s": (pub(st1) - pub(st0)) / dt,
        "backlog_end": s1.get("backlog"), "ring_size": s1.get("ring_size"),
        "last_error": s1.get("last_error"), "sample_entry": entry,
        "outputs_end": s1, "config": cfg.read_text(), "command": " ".join(dp.cmd),
    }
    n = max(1, res["written"])
    res["cpu_us_per_entry"] = {"writer": 1e6 * (c1[0] - c0[0]) / n if tstat else None,
                               "redis": 1e6 * (c1[1] - c0[1]) / n}
    res["route_end"] = route_of(routes1)
    res["route_window"] = {k: v - route_of(routes0).get(k, 0) for k, v in route_of(routes1).items()
                           if isinstance(v, int) and k != "backlog"}
    res["final"] = final_outputs(dp.final)
    # the sink's own rate is measured only while publishes were turned away (its ring stayed full, or in
    # puback: written mode the entry pool ran out first)
    rw = res["route_window"]
    res["saturated"] = rw.get("ring_full", 0) + rw.get("pool_empty", 0) > 0
    return res


def route_of(routes):
    """The sink route's counters in the ROUTES reply (stable generation)."""
    return next((r for r in (routes or {}).get("stable") or [] if r.get("name") == "to-redis"), {})


def final_outputs(final):
    """The stable generation's output counters in the exit snapshot, and whether they balance:
    matched == written + failed + ring_full + pool_empty + backlog, backlog 0 after the drain."""
    try:
        g = next(g for g in final["genstats"]["generations"] if g.get("role") == "stable")
        o = dict(g["outputs"])
    except (TypeError, KeyError, StopIteration):
        return None
    o["balanced"] = o["matched"] == o["written"] + o["failed"] + o["ring_full"] + o["pool_empty"] + o["backlog"]
    return o


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--out", default="bench-results", help="directory for sink.json")
    ap.add_argument("--batches", default="256,16,1", help="sink batch sizes, the first is the headline")
    ap.add_argument("--qos", default="0,1", help="QoS of the publishes; those after the first at the first batch only")
    ap.add_argument("--payload", type=int, default=64)
    ap.add_argument("--transport", choices=("tcp", "unix"), default="tcp")
    ap.add_argument("--window", type=float, default=2.0, help="seconds measured per side and point")
    ap.add_argument("--warm", type=float, default=0.5, help="seconds of sink writing before its window")
    ap.add_argument("--batch-us", type=int, default=1000)
    ap.add_argument("--maxlen", type=int, default=1000000)
    ap.add_argument("--ring", type=int, default=16384)
    ap.add_argument("--puback", default="accepted", choices=("accepted", "written"))
    ap.add_argument("--redis-cpu", type=int, default=0, help="cpu of redis-server and of the baseline client")
    ap.add_argument("--no-raw-ref", dest="raw_ref", action="store_false",
                    help="skip the baseline --raw reference (at the first batch size)")
    ap.add_argument("--own-core", action="store_true",
                    help="also run the baseline with its client on the other cpu (at the first batch size)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions, round robin over the points (median)")
    ap.add_argument("--quick", action="store_true", help="1.5 s windows, batch 256 only, one repetition")
    ap.add_argument("--baseline-only", action="store_true", help="the baseline side only (no dataplane)")
    a = ap.parse_args(argv)
    a.build_dir = str(Path(a.build_dir).resolve())
    if a.quick:
        a.window, a.warm, a.batches, a.reps = 1.5, 0.5, a.batches.split(",")[0], 1
    a.topics, a.publishers = 4, 4
    a.max_entries = 100_000_000  # the window bounds the run; this bounds the count
    a.argv = list(sys.argv[1:] if argv is None else argv)
    return a


def measure(a, redis, addr, w, b, q, other_cpu, first):
    """One baseline window and, right after it, one sink window at batch b, QoS q, both under the DPDK
    lock: no other session's DPDK poller runs beside either side."""
    with DpdkLock():
        return measure_locked(a, redis, addr, w, b, q, other_cpu, first)


def measure_locked(a, redis, addr, w, b, q, other_cpu, first):
    m = {}
    base = m["baseline"] = run_baseline(a, redis, addr, b, q, a.redis_cpu)
    log(f"baseline batch {b} QoS {q}: {base['entries_per_s']:,.0f} entries/s, batch rtt p50 "
        f"{base['batch_rtt_us']['p50']} us p99 {base['batch_rtt_us']['p99']} us; cpu per entry: client "
        f"{base['cpu_us_per_entry']['writer']:.2f} us, redis {base['cpu_us_per_entry']['redis']:.2f} us")
    if first and a.raw_ref:
        rb = m["baseline_raw"] = run_baseline(a, redis, addr, b, q, a.redis_cpu, raw=True)
        log(f"baseline batch {b} QoS {q} --raw (RESP formatted in one buffer): {rb['entries_per_s']:,.0f} entries/s; "
            f"cpu per entry: client {rb['cpu_us_per_entry']['writer']:.2f} us, redis {rb['cpu_us_per_entry']['redis']:.2f} us")
    if first and a.own_core:
        oc = m["baseline_own_core"] = run_baseline(a, redis, addr, b, q, other_cpu)
        log(f"baseline batch {b} QoS {q}, client on cpu {other_cpu}: {oc['entries_per_s']:,.0f} entries/s")
    if a.baseline_only:
        return m
    sk = m["sink"] = run_sink(a, redis, addr, w, b, q, f"b{b}q{q}")
    m["ratio"] = sk["entries_per_s"] / base["entries_per_s"]
    m["ratio_xlen"] = sk["xlen_per_s"] / base["entries_per_s"]
    m["same_shape"] = bool(base["sample_entry"] and sk["sample_entry"] and
                           base["sample_entry"]["fields"] == sk["sample_entry"]["fields"] and
                           base["sample_entry"]["payload_len"] == sk["sample_entry"]["payload_len"])
    log(f"sink     batch {b} QoS {q}: {sk['entries_per_s']:,.0f} entries/s (XLEN {sk['xlen_per_s']:,.0f}/s), "
        f"mean batch {sk['mean_batch'] or 0:.1f}, batch rtt mean {sk['batch_rtt_us']['mean'] or 0:.0f} us "
        f"(p50 <= {sk['batch_rtt_us']['p50']}, p99 <= {sk['batch_rtt_us']['p99']}), offered "
        f"{sk['offered_publishes_per_s']:,.0f} publishes/s; cpu per entry: sink thread "
        f"{sk['cpu_us_per_entry']['writer'] or 0:.2f} us, redis {sk['cpu_us_per_entry']['redis']:.2f} us; ratio {m['ratio']:.3f}"
        f"{'' if m['same_shape'] else ' (ENTRY SHAPES DIFFER)'}; counters at exit "
        f"{'balance' if (sk['final'] or {}).get('balanced') else 'DO NOT balance'}"
        f"{'' if sk['saturated'] else '; NOT SATURATED (no ring_full or pool_empty in the window): the load was the limit'}")
    return m


def hsum(hists):
    out = [0] * HIST
    for h in hists:
        for i, v in enumerate(h[:HIST]):
            out[i] += v
    return out


def aggregate(b, q, reps):
    """A row of the result: medians over the repetitions (ratios are taken per repetition, baseline and
    sink side by side in time, then the median)."""
    med = statistics.median
    row = {"batch": b, "qos": q}
    errs = [r["error"] for r in reps if "error" in r]
    if errs:
        row["errors"] = errs
    ok = [r for r in reps if "error" not in r]
    if ok:
        bs = [r["baseline"] for r in ok]
        h = hsum(x["rtt_hist"] for x in bs)
        row.update({
            "baseline_entries_per_s": med(x["entries_per_s"] for x in bs),
            "baseline_batch_rtt_us": {"p50": med(x["batch_rtt_us"]["p50"] for x in bs),
                                      "p99": med(x["batch_rtt_us"]["p99"] for x in bs),
                                      "mean": med(x["batch_rtt_us"]["mean"] for x in bs),
                                      "max": max(x["batch_rtt_us"]["max"] for x in bs),
                                      "p50_bucket": hist_pct(h, 0.5), "p99_bucket": hist_pct(h, 0.99)},
            "baseline_cpu_us_per_entry": {k: med(x["cpu_us_per_entry"][k] for x in bs) for k in ("writer", "redis")},
            "baseline_command": bs[0]["command"]})
        oc = [r["baseline_own_core"] for r in ok if "baseline_own_core" in r]
        if oc:
            row["baseline_own_core_entries_per_s"] = med(x["entries_per_s"] for x in oc)
        rw = [r["baseline_raw"] for r in ok if "baseline_raw" in r]
        if rw:
            row["baseline_raw_entries_per_s"] = med(x["entries_per_s"] for x in rw)
            row["baseline_raw_cpu_us_per_entry"] = {k: med(x["cpu_us_per_entry"][k] for x in rw)
                                                    for k in ("writer", "redis")}
            row["baseline_raw_batch_rtt_us"] = {"p50": med(x["batch_rtt_us"]["p50"] for x in rw),
                                                "p99": med(x["batch_rtt_us"]["p99"] for x in rw),
                                                "mean": med(x["batch_rtt_us"]["mean"] for x in rw)}
    sk_ok = [r for r in ok if "sink" in r]
    if sk_ok:
        sk = [r["sink"] for r in sk_ok]
        rh, bh = hsum(x["rtt_hist"] for x in sk), hsum(x["batch_hist"] for x in sk)
        row.update({
            "sink_entries_per_s": med(x["entries_per_s"] for x in sk),
            "sink_xlen_per_s": med(x["xlen_per_s"] for x in sk),
            "ratio": med(r["ratio"] for r in sk_ok), "ratio_xlen": med(r["ratio_xlen"] for r in sk_ok),
            "ratio_to_raw": (med(r["sink"]["entries_per_s"] / r["baseline_raw"]["entries_per_s"] for r in sk_ok
                                 if "baseline_raw" in r) if any("baseline_raw" in r for r in sk_ok) else None),
            "ratios": [r["ratio"] for r in sk_ok],
            "sink_batch_rtt_us": {"mean": med(x["batch_rtt_us"]["mean"] or 0 for x in sk),
                                  "p50_bucket": hist_pct(rh, 0.5), "p99_bucket": hist_pct(rh, 0.99),
                                  "max": max(x["outputs_end"]["rtt_us"]["max"] for x in sk),
                                  "note": "bucket = upper bound of the sink's log2 histogram bucket"},
            "sink_mean_batch": med(x["mean_batch"] or 0 for x in sk), "sink_batch_sizes": hist_sizes(bh),
            "sink_cpu_us_per_entry": {k: med(x["cpu_us_per_entry"][k] or 0 for x in sk) for k in ("writer", "redis")},
            "offered_publishes_per_s": med(x["offered_publishes_per_s"] for x in sk),
            "ring_full_per_s": med(x["route_window"].get("ring_full", 0) / x["window_s"] for x in sk),
            "pool_empty_per_s": med(x["route_window"].get("pool_empty", 0) / x["window_s"] for x in sk),
            "same_shape": all(r["same_shape"] for r in sk_ok), "saturated": all(x["saturated"] for x in sk),
            "balanced_at_exit": all((x["final"] or {}).get("balanced") for x in sk),
            "sink_command": sk[0]["command"], "sink_config": sk[0]["config"]})
    if "sink_cpu_us_per_entry" in row and row["sink_cpu_us_per_entry"]["writer"]:
        # cpu 0 is saturated on both sides (redis + writer), so entries/s ~ 1 / (cpu per entry): this ratio
        # of costs is the steadier companion of the ratio of rates on a noisy machine
        bc, sc = row["baseline_cpu_us_per_entry"], row["sink_cpu_us_per_entry"]
        row["cpu_ratio"] = (bc["writer"] + bc["redis"]) / (sc["writer"] + sc["redis"])
    row["reps"] = reps
    return row


def run(a):
    """The whole bench; returns the result (also written to OUT/sink.json). Raises RuntimeError when it
    cannot start (not root, a program missing)."""
    batches = [int(b) for b in a.batches.split(",")]
    qoss = [int(q) for q in a.qos.split(",")]
    if os.geteuid() != 0 and not a.baseline_only:
        raise RuntimeError("run as root (DPDK)")
    for exe in ("bench/fanout-xadd-baseline",) + (() if a.baseline_only else ("dataplane/fanout-dataplane",)):
        if not (Path(a.build_dir) / exe).exists():
            raise RuntimeError(f"{a.build_dir}/{exe} is not built")
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (deploy/install-deps.sh)")
    other_cpu = 1 - a.redis_cpu if (os.cpu_count() or 1) >= 2 else a.redis_cpu
    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(["bench/sink_bench.py"] + a.argv),
           "machine": f"{os.cpu_count()} x " + next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                                                      if ln.startswith("model name")), "?"),
           "git": subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                                 text=True).stdout.strip(),
           "build_dir": a.build_dir, "payload_bytes": a.payload, "transport": a.transport, "reps": a.reps,
           "window_s": a.window, "batch_us": a.batch_us, "maxlen": a.maxlen, "ring": a.ring, "puback": a.puback,
           "placement": {"redis_cpu": a.redis_cpu, "baseline_client_cpu": a.redis_cpu,
                         "dataplane": "-l 0,1: lcore 1 polls (rx, worker, tx); main lcore 0 sleeps; the sink thread "
                                      "is a DPDK control thread (cpus not used by lcores, else the main lcore's)"},
           "load": "net_pcap infinite_rx replay of bench/workload.py steady.pcap (4 publishers, 4 topics, "
                   "0 subscribers, predefined topic ids), far above what the sink writes",
           "rows": []}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    plan = [(b, qoss[0]) for b in batches] + [(batches[0], q) for q in qoss[1:]]
    reps = {p: [] for p in plan}
    with tempfile.TemporaryDirectory(prefix="fosink-") as tmp, Redis(tmp, a.redis_cpu) as redis:
        addr = f"127.0.0.1:{redis.port}" if a.transport == "tcp" else redis.unix
        res["redis"] = {"version": redis.version, "address": addr, "command": " ".join(redis.cmd)}
        log(f"redis-server {redis.version} at {addr} (cpu {a.redis_cpu})")
        wls = {q: workload(tmp, f"q{q}", publishers=a.publishers, subscribers=0, topics=a.topics,
                           payload=a.payload, qos_mix=str(q)) for q in qoss}
        for rep in range(a.reps):  # round robin over the points: a slow spell hits every point alike
            for i, (b, q) in enumerate(plan):
                try:
                    reps[(b, q)].append(measure(a, redis, addr, wls[q], b, q, other_cpu, i == 0))
                except Exception as e:  # noqa: BLE001 - one point failing must not lose the others
                    reps[(b, q)].append({"error": f"{type(e).__name__}: {e}"})
                    log(f"batch {b} QoS {q} failed: {reps[(b, q)][-1]['error']}")
    res["rows"] = [aggregate(b, q, reps[(b, q)]) for b, q in plan]
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    head = res["rows"][0]
    if "ratio" in head:
        res["summary"] = {k: head[k] for k in (
            "batch", "qos", "baseline_entries_per_s", "sink_entries_per_s", "sink_xlen_per_s", "ratio",
            "baseline_batch_rtt_us", "sink_batch_rtt_us", "sink_mean_batch", "sink_batch_sizes",
            "offered_publishes_per_s", "same_shape", "saturated", "balanced_at_exit",
            "baseline_cpu_us_per_entry", "sink_cpu_us_per_entry", "cpu_ratio")}
        for k in ("baseline_raw_entries_per_s", "baseline_raw_cpu_us_per_entry", "ratio_to_raw",
                  "baseline_own_core_entries_per_s"):
            if head.get(k) is not None:
                res["summary"][k] = head[k]
        res["summary"]["payload_bytes"] = a.payload
        res["summary"]["ratios"] = {f"batch {r['batch']} qos {r['qos']}": r.get("ratio") for r in res["rows"]}
    (out / "sink.json").write_text(json.dumps(res, indent=1) + "\n")
    print()
    print(f"{'batch':>5} {'qos':>3} {'baseline/s':>11} {'sink/s':>11} {'XLEN/s':>11} {'ratio':>6}  "
          f"{'baseline rtt us p50/p99/mean':>28}  {'sink rtt us mean (p50/p99 <=)':>29}  {'batch':>5}  "
          f"{'cpu us/entry writer, redis: baseline | sink':>43}  {'cpu ratio':>9}")
    for r in res["rows"]:
        if "baseline_entries_per_s" not in r:
            print(f"{r['batch']:>5} {r['qos']:>3} error: {r.get('errors')}")
            continue
        br = r["baseline_batch_rtt_us"]
        line = (f"{r['batch']:>5} {r['qos']:>3} {r['baseline_entries_per_s']:>11,.0f} "
                f"{r.get('sink_entries_per_s', 0):>11,.0f} {r.get('sink_xlen_per_s', 0):>11,.0f} "
                f"{r.get('ratio', 0):>6.3f}  "
                f"{'%.0f / %.0f / %.0f' % (br['p50'], br['p99'], br['mean']):>28}  ")
        if "sink_batch_rtt_us" in r:
            sr = r["sink_batch_rtt_us"]
            bc, sc = r["baseline_cpu_us_per_entry"], r["sink_cpu_us_per_entry"]
            line += (f"{'%.0f (%s / %s)' % (sr['mean'], sr['p50_bucket'], sr['p99_bucket']):>29}  "
                     f"{r['sink_mean_batch']:>5.1f}  "
                     f"{'%.2f, %.2f | %.2f, %.2f' % (bc['writer'], bc['redis'], sc['writer'], sc['redis']):>43}  "
                     f"{r.get('cpu_ratio') or 0:>9.3f}")
        if r.get("errors"):
            line += f"  errors: {r['errors']}"
        print(line)
    for r in res["rows"]:
        if r.get("baseline_raw_entries_per_s"):
            rc = r["baseline_raw_cpu_us_per_entry"]
            print(f"batch {r['batch']} QoS {r['qos']}: baseline --raw (one RESP buffer per batch, no hiredis formatting) "
                  f"{r['baseline_raw_entries_per_s']:,.0f} entries/s, cpu per entry client {rc['writer']:.2f} us, "
                  f"redis {rc['redis']:.2f} us; sink / raw {r.get('ratio_to_raw') or 0:.3f}")
        if r.get("baseline_own_core_entries_per_s"):
            print(f"batch {r['batch']} QoS {r['qos']}: baseline with its client on the other cpu "
                  f"{r['baseline_own_core_entries_per_s']:,.0f} entries/s")
    log(f"wrote {out / 'sink.json'}")
    return res


def main():
    # SIGTERM unwinds like Ctrl-C, so redis-server and the dataplane are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    a = parse_args()
    try:
        res = run(a)
    except RuntimeError as e:
        print(f"bench/sink_bench.py: {e}", file=sys.stderr)
        return 2
    return 1 if any(r.get("errors") or "baseline_entries_per_s" not in r for r in res["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
