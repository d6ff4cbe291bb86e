#!/usr/bin/env python3
"""The Redis Streams sink on a real Redis Cluster (docs/outputs.md), through the lab.

Six redis-servers with cluster-enabled on loopback, made a cluster of three primaries with a replica
each by `redis-cli --cluster create --cluster-replicas 1` (cluster-node-timeout 1 s). One dataplane with
a sink `cl` (cluster: true, redis: one node as the seed, wait_replicas: 1) and two routes: tele/# ->
"c:{topic}" (each topic's stream on the primary of its own slot) and grp/# -> "{grp}:{topic}" (a hash
tag: every stream of the route in the slot of "grp"). Checks:
  1. exactly once, in order, on every primary: 6 QoS 1 publishers x 300 messages on tele/<pub> and 2 on
     grp/<pub>; every stream holds exactly its publisher's messages once each in sequence order, read
     from the primary that serves its slot; the tele streams are spread over at least two primaries,
     the grp streams share the slot of "grp"; ROUTES matched == written;
  2. a primary killed (SIGKILL) in the middle of a QoS 1 run, on the node that serves streams in use:
     its replica takes over, the sink re-reads the slot map and goes on; afterwards every stream holds
     no duplicate, is in order, and holds exactly `written` entries over the run (wait_replicas: 1, so
     nothing confirmed is lost with the primary); per route matched == written + failed + ring_full +
     pool_empty once the backlog is empty; OUTPUTS shows the map reads;
  3. a slot moved between primaries while entries flow to it (CLUSTER SETSLOT IMPORTING / MIGRATING,
     MIGRATE, SETSLOT NODE): the sink follows ASK and MOVED (redirects counted), the stream stays
     whole, once and in order;
  4. conservation of packets holds."""
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Dataplane, Lab, RedisCluster, Resp, check, check_conservation, lab_config, loadgen,  # noqa: E402
                     loadgen_bg, loadgen_payload, loadgen_wait, log, output_balanced, route_balanced, run_test, wait_routes_idle,
                     wait_until, workdir)


def routes(dp):
    with Resp(dp.ctl) as r:
        return {x["name"]: x for x in r.json("ROUTES")["stable"]}


def output(dp):
    with Resp(dp.ctl) as r:
        return {x["name"]: x for x in r.json("OUTPUTS")["sinks"]}["cl"]


def wait_idle(dp, what, timeout=30):
    return wait_routes_idle(lambda: routes(dp), "sink", what, timeout)


def check_stream(cluster, key, pub, expect=None):
    """The loadgen sequence numbers of a stream: one publisher's, no duplicate, ascending; returns them."""
    seqs = []
    for eid, f in cluster.xrange(key):
        lp = loadgen_payload(f["payload"])
        check(lp is not None and lp[0] == pub, f"{key}: entry {eid} is not publisher {pub}'s")
        seqs.append(lp[1])
    check(len(set(seqs)) == len(seqs), f"{key}: {len(seqs) - len(set(seqs))} duplicate entries")
    check(seqs == sorted(seqs), f"{key}: entries out of order")
    if expect is not None:
        check(seqs == list(range(seqs[0] if seqs else 0, (seqs[0] if seqs else 0) + expect)),
              f"{key}: {len(seqs)} entries, expected {expect} in sequence")
    return seqs


def main(args):
    with Lab("sinkcl") as lab, RedisCluster("sinkcl") as cluster:
        ctl = str(Path(workdir("sinkcl-ctl")) / "dp.sock")
        seed = cluster.ports[0]
        overrides = {
            "sinks": [{"name": "cl", "redis": f"127.0.0.1:{seed}", "cluster": True, "wait_replicas": 1,
                       "ring": 4096, "batch": 64, "batch_us": 500, "timeout_ms": 1000, "reconnect_min_ms": 50,
                       "reconnect_max_ms": 400}],
            "routes": [
                {"name": "tele", "filter": "tele/#", "sink": "cl", "stream": "c:{topic}"},
                {"name": "grp", "filter": "grp/#", "sink": "cl", "stream": "{grp}:{topic}"},
            ],
        }
        text = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0], overrides)
        with Dataplane("sinkcl", lab, config_text=text, extra_app=["--control", ctl]) as dp:
            dp.ctl = ctl
            wait_until("the sink connected to the cluster",
                       lambda: output(dp)["connected"] and output(dp)["cluster_slots"] == 16384, timeout=15)
            o = output(dp)
            check(o["cluster"] is True and o["cluster_nodes"] == 3, f"OUTPUTS: cluster {o.get('cluster')} nodes "
                                                                    f"{o.get('cluster_nodes')}, expected 3 primaries")

            # 1. exactly once and in order, over the three primaries
            rep, rc = loadgen(lab, ["-p", 6, "-s", 1, "--topic", "tele/{pub}", "--filter", "tele/#", "--qos", 1,
                                    "--sub-qos", 1, "--rate", 300, "--count", 300, "--drain-ms", 1500,
                                    "--expect-no-loss", "--id-prefix", "clt"])
            check(rc == 0, f"loadgen (QoS 1, tele): {rep['result']['verdict']}")
            rep, rc = loadgen(lab, ["-p", 2, "-s", 1, "--topic", "grp/{pub}", "--filter", "grp/#", "--qos", 1,
                                    "--sub-qos", 1, "--rate", 300, "--count", 300, "--drain-ms", 1500,
                                    "--expect-no-loss", "--id-prefix", "clg"])
            check(rc == 0, f"loadgen (QoS 1, grp): {rep['result']['verdict']}")
            rs = wait_idle(dp, "exactly-once run")
            check(rs["tele"]["matched"] == 1800 and rs["tele"]["written"] == 1800,
                  f"tele: matched {rs['tele']['matched']} written {rs['tele']['written']}, expected 1800")
            check(rs["grp"]["matched"] == 600 and rs["grp"]["written"] == 600,
                  f"grp: matched {rs['grp']['matched']} written {rs['grp']['written']}, expected 600")
            owners = {}
            for p in range(6):
                key = f"c:tele/{p}"
                check_stream(cluster, key, p, 300)
                owners.setdefault(cluster.owner(cluster.keyslot(key)), []).append(key)
            check(len(owners) >= 2, f"the tele streams all landed on one primary: {owners}")
            grp_slot = cluster.keyslot("grp")
            for p in range(2):
                key = f"{{grp}}:grp/{p}"
                check(cluster.keyslot(key) == grp_slot, f"{key}: slot {cluster.keyslot(key)}, expected {grp_slot}")
                check_stream(cluster, key, p, 300)
            log(f"exactly once and in order: 6 + 2 streams x 300 entries on {len(owners)} primaries "
                f"({ {k: len(v) for k, v in owners.items()} }); hash-tagged streams in slot {grp_slot}")

            # 2. a primary killed under load; its replica takes over
            keys = [f"c:tele/f{p}" for p in range(6)]
            victim = cluster.owner(cluster.keyslot(keys[0]))
            on_victim = [k for k in keys if cluster.owner(cluster.keyslot(k)) == victim]
            o0, r0 = output(dp), routes(dp)["tele"]
            lg = loadgen_bg(lab, ["-p", 6, "-s", 1, "--topic", "tele/f{pub}", "--filter", "tele/#", "--qos", 1,
                                  "--sub-qos", 1, "--rate", 200, "--duration", 3600, "--drain-ms", 1500,
                                  "--expect-no-loss", "--id-prefix", "clf"])
            try:
                def xlen(k):
                    try:
                        return len(cluster.xrange(k))
                    except (OSError, ValueError):
                        return 0
                wait_until("entries on the primary to be killed", lambda: xlen(on_victim[0]) > 100, timeout=30,
                           step=0.1)
                cluster.kill(victim)
                t_kill = time.monotonic()
                log(f"primary {victim} killed (SIGKILL); it served {on_victim}")
                wait_until("a replica promoted for the killed primary's slots",
                           lambda: cluster.owner(cluster.keyslot(on_victim[0])) not in (None, victim), timeout=30,
                           step=0.2)
                n_then = xlen(on_victim[0])
                wait_until("the sink writing to the promoted replica", lambda: xlen(on_victim[0]) > n_then + 100,
                           timeout=30, step=0.1)
                log(f"failover: the sink writes to {cluster.owner(cluster.keyslot(on_victim[0]))} "
                    f"{time.monotonic() - t_kill:.1f} s after the kill")
            finally:
                lg.terminate()
            rep, rc = loadgen_wait(lg)
            check(rc == 0, f"loadgen during the failover: {rep['result']['verdict']} (the workers must not wait)")
            rs = wait_idle(dp, "after the failover")
            t, o1 = rs["tele"], output(dp)
            run = {k: t[k] - r0[k] for k in ("matched", "written", "failed", "ring_full", "pool_empty")}
            present = sum(len(check_stream(cluster, k, p)) for p, k in enumerate(keys))
            log(f"failover run: matched {run['matched']} written {run['written']} failed {run['failed']} "
                f"ring_full {run['ring_full']} pool_empty {run['pool_empty']}; {present} entries in the streams; "
                f"map reads {o0['map_refreshes']} -> {o1['map_refreshes']}, reconnects {o1['reconnects']}, "
                f"connect failures {o1['connect_failures']}, unreplicated {o1['unreplicated']}, "
                f"dup_suppressed {o1['dup_suppressed']}")
            check(route_balanced(t), f"tele counts do not balance: {t}")
            check(present == run["written"], f"{present} entries in the streams, but {run['written']} counted written")
            check(run["written"] > 0 and o1["map_refreshes"] > o0["map_refreshes"],
                  "the sink did not re-read the slot map after the failover")

            # 3. a slot moved while entries flow to it: ASK during the move, MOVED after it
            key = "c:tele/m0"
            slot = cluster.keyslot(key)
            src = cluster.owner(slot)
            dst = next(p for p in {prim for _, prim, _ in cluster.slots().values()} if p != src)
            ids = {p: cluster.cli(p, "CLUSTER", "MYID") for p in cluster.live()}
            r0, o0 = routes(dp)["tele"], output(dp)
            lg = loadgen_bg(lab, ["-p", 1, "-s", 1, "--topic", "tele/m{pub}", "--filter", "tele/#", "--qos", 1,
                                  "--sub-qos", 1, "--rate", 300, "--duration", 3600, "--drain-ms", 1500,
                                  "--expect-no-loss", "--id-prefix", "clm"])
            try:
                wait_until("entries in the stream to be moved", lambda: len(cluster.xrange(key)) > 100, timeout=30,
                           step=0.1)
                check(cluster.cli(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src]) == "OK", "SETSLOT IMPORTING")
                check(cluster.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[dst]) == "OK", "SETSLOT MIGRATING")
                time.sleep(0.3)  # entries keep coming to the source while the slot is migrating
                out = cluster.cli(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", key)
                check(out == "OK", f"MIGRATE: {out}")
                wait_until("the sink to follow ASK to the importing node",
                           lambda: output(dp)["redirects"] > o0["redirects"], timeout=20, step=0.05)
                for p in cluster.live():
                    cluster.cli(p, "CLUSTER", "SETSLOT", slot, "NODE", ids[dst])
                n_then = len(cluster.xrange(key))
                wait_until("entries written to the slot's new primary", lambda: len(cluster.xrange(key)) > n_then + 100,
                           timeout=20, step=0.1)
            finally:
                lg.terminate()
            rep, rc = loadgen_wait(lg)
            check(rc == 0, f"loadgen during the slot move: {rep['result']['verdict']}")
            rs = wait_idle(dp, "after the slot move")
            t, o1 = rs["tele"], output(dp)
            seqs = check_stream(cluster, key, 0)
            written = t["written"] - r0["written"]
            log(f"slot {slot} moved {src} -> {dst}: redirects {o0['redirects']} -> {o1['redirects']}, "
                f"{len(seqs)} entries, written {written}, failed {t['failed'] - r0['failed']}")
            check(cluster.owner(slot) == dst, "the slot did not move")
            check(len(seqs) == written, f"{len(seqs)} entries in {key}, {written} counted written")
            check(seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{key}: a gap in the sequence")
            check(route_balanced(t), f"tele counts do not balance: {t}")

            stats = dp.stop()
            log(check_conservation(stats))
            fin = {x["name"]: x for x in stats["outputs"]["sinks"]}["cl"]
            check(output_balanced(fin), f"exit stats, sink cl: {dict((k, fin[k]) for k in ('matched', 'written', 'dropped', 'backlog'))}")


if __name__ == "__main__":
    run_test(main, __doc__)
