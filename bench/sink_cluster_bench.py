#!/usr/bin/python3
"""The Redis Streams sink on one Redis node against the same sink on a Redis Cluster, in one run.

  bench/sink_cluster_bench.py --build-dir build [--out bench-results] [--reps 3] [--window 2] [--quick]

What it does: starts one redis-server, a Redis Cluster of three primaries with a replica each (six
redis-servers, `redis-cli --cluster create --cluster-replicas 1`) and one of three primaries without
replicas, every Redis process pinned to --redis-cpu
(default 0, the cpu the dataplane's lcores leave to its control threads), no persistence. Then, --reps times
round robin, under flock /tmp/fanout-dpdk.lock, fanout-dataplane (-l 0,1 --no-pci --no-huge, its own
--file-prefix) fed by net_pcap infinite_rx replay of bench/workload.py pcaps (4 publishers, --topics topics,
64 B, QoS 0: far more publishes than one sink takes, so its ring stays full and what is measured is the
sink's write rate) with a sink (batch 256) and a route bench/# -> "fanout:{topic}" to:
  single   the one node;
  cluster  the cluster (cluster: true): each topic's stream on the primary of its slot;
  wait1    the cluster with wait_replicas: 1 (each primary's part of a batch confirmed by WAIT);
  norepl   the cluster without replicas (the cost of the cluster protocol alone: no replica applies
           the entries again on the same cpu).
Entries/s from OUTPUTS' written counter over --window seconds after --warm seconds of writing; the ratio of
each cluster row to the single row of the same repetition; medians. Writes OUT/sink_cluster.json.

On a 2-core machine all seven Redis processes share one cpu: the figure is what the cluster protocol costs
the sink (one pipeline per primary, slot lookups), not what a cluster of machines would add."""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "test" / "e2e"))
from harness import DpdkLock, RedisCluster  # noqa: E402
from sink_bench import Dataplane, Redis, log, sink_of, workload  # noqa: E402


def config(w, target, a, tag):
    text = (w / "dataplane.yaml").read_text() + f"""sinks:
  - name: redis
    redis: {target['addr']}
    batch: 256
    batch_us: 1000
    maxlen: 1000000
    ring: 16384
{target['extra']}routes:
  - name: to-redis
    filter: "bench/#"
    sink: redis
    stream: "fanout:{{topic}}"
"""
    p = w / f"dataplane-{tag}.yaml"
    p.write_text(text)
    return p


def window(a, w, target, tag):
    cfg = config(w, target, a, tag)
    with DpdkLock(), Dataplane(a.build_dir, w, cfg, tag) as dp:
        t0 = time.monotonic()
        while sink_of(dp.outputs())["written"] == 0:
            if time.monotonic() - t0 > 20:
                raise RuntimeError(f"{tag}: the sink wrote nothing in 20 s: {sink_of(dp.outputs())}")
            time.sleep(0.05)
        time.sleep(a.warm)
        s0, t_0 = sink_of(dp.outputs()), time.monotonic()
        time.sleep(a.window)
        s1, t_1 = sink_of(dp.outputs()), time.monotonic()
    d = lambda k: s1.get(k, 0) - s0.get(k, 0)  # noqa: E731
    return {"entries_per_s": d("written") / (t_1 - t_0), "written": d("written"), "failed": d("failed"),
            "errors": d("errors"), "batches": d("batches"), "redirects": d("redirects"),
            "unreplicated": d("unreplicated"), "window_s": t_1 - t_0, "last_error": s1.get("last_error")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--warm", type=float, default=0.5)
    ap.add_argument("--topics", type=int, default=16)
    ap.add_argument("--redis-cpu", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="one repetition, 1.5 s windows")
    a = ap.parse_args()
    a.build_dir = str(Path(a.build_dir).resolve())
    if a.quick:
        a.reps, a.window = 1, 1.5
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fo-sinkcl-bench-") as tmp:
        w = workload(tmp, "w", publishers=4, subscribers=0, topics=a.topics, payload=64, qos_mix="0")
        with Redis(tmp, a.redis_cpu) as single, RedisCluster("bench") as cl, \
                RedisCluster("bench0", replicas=0) as cl0:
            for c in (cl, cl0):
                for p in c.live():
                    subprocess.run(["taskset", "-pc", str(a.redis_cpu), str(c.procs[p].pid)], check=True,
                                   capture_output=True)
            seed = f"127.0.0.1:{cl.ports[0]}"
            targets = {"single": {"addr": f"127.0.0.1:{single.port}", "extra": ""},
                       "cluster": {"addr": seed, "extra": "    cluster: true\n"},
                       "wait1": {"addr": seed, "extra": "    cluster: true\n    wait_replicas: 1\n"},
                       "norepl": {"addr": f"127.0.0.1:{cl0.ports[0]}", "extra": "    cluster: true\n"}}
            rows = {k: [] for k in targets}
            for rep in range(a.reps):
                for name, t in targets.items():
                    single.call("FLUSHALL")
                    for c in (cl, cl0):
                        for p in c.live():
                            if c.cli(p, "ROLE").startswith("master"):
                                c.cli(p, "FLUSHALL")
                    r = window(a, w, t, f"{name}{rep}")
                    rows[name].append(r)
                    log(f"rep {rep + 1}/{a.reps} {name:7s}: {r['entries_per_s']:10.0f} entries/s "
                        f"(errors {r['errors']}, redirects {r['redirects']}, unreplicated {r['unreplicated']})")
    res = {"command": " ".join(sys.argv), "topics": a.topics, "window_s": a.window, "reps": rows}
    print(f"\n{'target':8s} {'entries/s (median)':>20s} {'/ single (median of reps)':>26s}")
    for name, rs in rows.items():
        med = statistics.median(r["entries_per_s"] for r in rs)
        ratio = statistics.median(r["entries_per_s"] / s["entries_per_s"] for r, s in zip(rs, rows["single"]))
        res[name] = {"entries_per_s": med, "ratio_to_single": ratio}
        print(f"{name:8s} {med:20.0f} {ratio:26.2f}")
    (out / "sink_cluster.json").write_text(json.dumps(res, indent=1))
    log(f"wrote {out / 'sink_cluster.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
