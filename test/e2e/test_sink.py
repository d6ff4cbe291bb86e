#!/usr/bin/env python3
"""The Redis Streams sink (docs/outputs.md) against a real redis-server, through the lab.

One dataplane, one redis-server (ACL user "fanout" with a password; the sink logs in as that user
over TCP), two sinks on it: `rd` (PUBACK = accepted into the backlog, ring of 1024 entries) and
`rw` (PUBACK = written by Redis) over the unix socket. Routes: tele/# -> rd stream "tele:{topic}",
acked/# -> rw stream "acked:{topic}", and a UDP route tele/+ -> a collector in MQTT-SN format. Checks:
  1. exactly once, in order: 4 QoS 1 publishers x 400 messages (and a QoS 1 subscriber that must get
     all of them): every stream tele:tele/<pub> holds exactly that publisher's 400 payloads, once each,
     in sequence order, with topic, client, qos, ts_us and gen fields; ROUTES matched == written; the
     collector gets each publish once as an MQTT-SN PUBLISH (QoS 0, predefined topic id 77);
  2. Redis killed (SIGKILL) in the middle of a QoS 0 run and restarted 1.5 s later: the subscriber
     loses nothing, the sink reconnects, and per route matched == written + failed + ring_full +
     pool_empty once the backlog is empty (entries written after the restart are in the new Redis);
  3. a slow Redis (DEBUG SLEEP 2) under 4000 msg/s: the ring fills, ring_full counts the entries that
     found it full, the subscriber loses nothing (the workers never wait), a QoS 1 publish whose sink
     ring is full gets PUBACK "rejected: congestion", and the counts balance afterwards;
  4. written mode: a QoS 1 publish to acked/x is answered only once Redis has the entry -- during a
     DEBUG SLEEP the PUBACK waits for it -- and an XADD Redis refuses (the key holds a string:
     WRONGTYPE) is answered "rejected: congestion" and counted failed;
  5. a canary generation with its own stream, rolled back while its entries wait in the sink: they are
     still written, and counted under the retired generation;
  6. a third sink on another redis-server logs in with requirepass (no ACL user) and SELECTs db 3; a QoS 1
     publish resent twice with DUP gets three PUBACKs and is one stream entry;
  7. OUTPUTS reports connection, reconnects, batches, round trips; conservation of packets holds."""
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS1, PUBACK, Collector, Dataplane, Lab, RawClient, RedisServer, Resp, check,  # noqa: E402
                     check_conservation, decode, lab_config, loadgen, loadgen_bg, loadgen_payload, loadgen_wait,
                     log, m_publish, output_balanced, route_balanced, run_test, scaled, wait_routes_idle, wait_until,
                     workdir)

PW = "s3cret-pw"


def routes(dp):
    with Resp(dp.ctl) as r:
        return {x["name"]: x for x in r.json("ROUTES")["stable"]}


def outputs(dp):
    with Resp(dp.ctl) as r:
        return {x["name"]: x for x in r.json("OUTPUTS")["sinks"]}


def wait_idle(dp, what, timeout=20):
    """Until every sink route's backlog is empty and its counts balance; returns the routes."""
    return wait_routes_idle(lambda: routes(dp), "sink", what, timeout)


def main(args):
    with Lab("sink") as lab, RedisServer("sink", users={"fanout": PW}) as redis, \
            RedisServer("sinkpw", requirepass=PW) as redis_pw:
        ctl = str(Path(workdir("sink-ctl")) / "dp.sock")
        overrides = {
            "sinks": [
                {"name": "rd", "redis": f"127.0.0.1:{redis.port}", "username": "fanout", "password": PW,
                 "ring": 1024, "batch": 64, "batch_us": 500, "timeout_ms": 1000, "reconnect_min_ms": 50,
                 "reconnect_max_ms": 400},
                {"name": "rw", "redis": redis.sock, "username": "fanout", "password": PW, "ring": 1024,
                 "batch": 16, "batch_us": 200, "timeout_ms": 5000, "puback": "written"},
                {"name": "rp", "redis": f"127.0.0.1:{redis_pw.port}", "password": PW, "db": 3},
            ],
            "routes": [
                {"name": "tele", "filter": "tele/#", "sink": "rd", "stream": "tele:{topic}"},
                {"name": "acked", "filter": "acked/#", "sink": "rw", "stream": "acked:{topic}"},
                {"name": "pw", "filter": "pw/#", "sink": "rp", "stream": "pw:{topic}"},
                {"name": "relay", "filter": "tele/+", "format": "mqttsn", "topic_id": 77,
                 "to": [f"{lab.client_ip}:9100"]},
            ],
        }
        text = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0], overrides)
        with Dataplane("sink", lab, config_text=text, extra_app=["--control", ctl]) as dp:
            dp.ctl = ctl
            wait_until("sinks connected", lambda: all(o["connected"] for o in outputs(dp).values()), timeout=10)

            # 1. exactly once, in order, per client (and a UDP route in MQTT-SN format beside it)
            coll = Collector(lab, [9100])
            rep, rc = loadgen(lab, ["-p", 4, "-s", 1, "--topic", "tele/{pub}", "--filter", "tele/#", "--qos", 1,
                                    "--sub-qos", 1, "--rate", 400, "--count", 400, "--drain-ms", 1500,
                                    "--expect-no-loss", "--id-prefix", "snk"])
            check(rc == 0, f"loadgen (QoS 1 into the sink): {rep['result']['verdict']}")
            rs = wait_idle(dp, "exactly-once run")
            t = rs["tele"]
            log(f"tele route: matched {t['matched']} queued {t['queued']} written {t['written']} failed "
                f"{t['failed']} ring_full {t['ring_full']}")
            check(t["matched"] == 1600 and t["written"] == 1600, f"tele: matched {t['matched']} written {t['written']}, "
                                                                 "expected 1600 each")
            for p in range(4):
                entries = redis.xrange(f"tele:tele/{p}")
                seqs = []
                for eid, f in entries:
                    lp = loadgen_payload(f["payload"])
                    check(lp is not None and lp[0] == p, f"tele/{p}: entry {eid} payload is not publisher {p}'s")
                    check(f["topic"] == f"tele/{p}".encode() and f["client"] == f"snkp{p}".encode() and
                          f["qos"] == b"1" and f["gen"] == b"1" and int(f["ts_us"]) > 1.7e15,
                          f"tele/{p}: entry {eid} fields {dict((k, v[:32]) for k, v in f.items())}")
                    seqs.append(lp[1])
                check(len(seqs) == 400, f"tele/{p}: {len(seqs)} entries, expected 400")
                check(len(set(seqs)) == len(seqs), f"tele/{p}: {len(seqs) - len(set(seqs))} duplicates")
                check(seqs == sorted(seqs), f"tele/{p}: entries out of order")
                check(seqs == list(range(seqs[0], seqs[0] + 400)), f"tele/{p}: sequence has gaps")
            log("exactly once and in order: 4 streams x 400 entries, XRANGE checked")
            coll.wait_quiet()
            got = coll.snapshot()
            coll.close()
            seen = {}
            for _, _, d in got:
                mtype, body = decode(d)
                flags, tid, mid = body[0], int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big")
                check(mtype == 0x0C and flags == 0x01 and tid == 77 and mid == 0,
                      f"relay: not a QoS 0 PUBLISH to predefined topic 77: type {mtype:#x} flags {flags:#x} "
                      f"topic id {tid} msg id {mid}")
                lp = loadgen_payload(body[5:])
                check(lp is not None, "relay: the PUBLISH does not carry the loadgen payload")
                seen[lp] = seen.get(lp, 0) + 1
            r = routes(dp)["relay"]
            check(len(got) == 1600 and len(seen) == 1600 and r["copies"] == 1600 and r["dropped"] == 0,
                  f"relay (format mqttsn): {len(got)} datagrams, {len(seen)} distinct, route copies {r['copies']} "
                  f"dropped {r['dropped']}; expected 1600")
            log("UDP route in MQTT-SN format: 1600 PUBLISHes (predefined topic id 77), one per publish")

            # 2. Redis killed mid-run
            o0 = outputs(dp)["rd"]
            # The load runs until the restarted Redis has entries, however long that takes here.
            lg = loadgen_bg(lab, ["-p", 2, "-s", 1, "--topic", "tele/k{pub}", "--filter", "tele/#", "--qos", 0,
                                  "--rate", 500, "--duration", 3600, "--drain-ms", 1500, "--expect-no-loss",
                                  "--id-prefix", "kil"])
            try:
                wait_until("the load's entries in Redis", lambda: int(redis.cli("XLEN", "tele:tele/k0") or 0) > 100,
                           timeout=20, step=0.1)
                redis.kill()
                log("redis-server killed (SIGKILL)")
                time.sleep(1.5)  # Redis stays away this long under load: the sink's reconnect loop is tested
                redis.start()
                log("redis-server restarted (empty)")
                wait_until("the load's entries in the restarted Redis",
                           lambda: int(redis.cli("XLEN", "tele:tele/k0") or 0) > 100, timeout=20, step=0.1)
            finally:
                lg.terminate()  # the loadgen ends its send phase on SIGTERM, drains and reports
            rep, rc = loadgen_wait(lg)
            check(rc == 0, f"loadgen during the Redis kill: {rep['result']['verdict']}")
            rs = wait_idle(dp, "after the Redis restart")
            o1 = outputs(dp)["rd"]
            t = rs["tele"]
            check(o1["reconnects"] > o0["reconnects"], f"sink rd: reconnects {o0['reconnects']} -> {o1['reconnects']}")
            new = sum(int(redis.cli("XLEN", f"tele:tele/k{p}") or 0) for p in range(2))
            log(f"Redis kill: reconnects {o0['reconnects']} -> {o1['reconnects']}, connect failures "
                f"{o1['connect_failures']}; route tele matched {t['matched']} written {t['written']} failed "
                f"{t['failed']} ring_full {t['ring_full']}; {new} entries in the restarted Redis")
            check(new > 0, "nothing was written after the restart")
            check(route_balanced(t), f"tele counts do not balance: {t}")

            # 3. slow Redis: DEBUG SLEEP backs up into counted drops, not into the workers
            lg = loadgen_bg(lab, ["-p", 4, "-s", 1, "--topic", "tele/s{pub}", "--filter", "tele/+", "--qos", 0,
                                  "--rate", 1000, "--duration", 3600, "--drain-ms", 1500, "--expect-no-loss",
                                  "--id-prefix", "slw"])
            try:
                m0 = routes(dp)["tele"]
                wait_until("the load at the tele route", lambda: routes(dp)["tele"]["written"] > m0["written"] + 500,
                           timeout=20, step=0.1)
                # Long enough to outlast the checks below on a slow build; Redis wakes up by itself.
                sleeper = threading.Thread(target=lambda: redis.cli("DEBUG", "SLEEP", round(scaled(2))))
                sleeper.start()
                wait_until("the sink ring to overflow while Redis sleeps",
                           lambda: routes(dp)["tele"]["ring_full"] > m0["ring_full"], timeout=10, step=0.05)
                pc = RawClient(lab)
                check(pc.connect("slow-q1") == 0, "slow-q1: CONNACK refused")
                tid = pc.register("tele/x/slow-q1")  # the route's, not the loadgen subscriber's (tele/+)
                pc.send(m_publish(tid, 7, b"while Redis sleeps", F_QOS1))
                ack = pc.expect(PUBACK, timeout=3.0)
                check(ack[4] == 1, f"QoS 1 publish with the sink ring full: PUBACK rc {ack[4]}, expected 1 "
                                      "(rejected: congestion)")
                sleeper.join()
            finally:
                lg.terminate()  # the loadgen ends its send phase on SIGTERM, drains and reports
            rep, rc = loadgen_wait(lg)
            check(rc == 0, f"loadgen during DEBUG SLEEP: {rep['result']['verdict']} (the workers must not wait)")
            rs = wait_idle(dp, "after DEBUG SLEEP")
            t = rs["tele"]
            log(f"DEBUG SLEEP 2: route tele matched {t['matched']} written {t['written']} ring_full {t['ring_full']} "
                f"failed {t['failed']}; subscriber lost {rep['deliver']['lost_msgs']}")
            check(t["ring_full"] > 0, "no ring_full drops while Redis slept")
            check(route_balanced(t), f"tele counts do not balance: {t}")

            # 4. written mode
            wc = RawClient(lab)
            check(wc.connect("w-q1") == 0, "w-q1: CONNACK refused")
            tid = wc.register("acked/x")
            t0 = time.monotonic()
            wc.send(m_publish(tid, 11, b"one", F_QOS1))
            ack = wc.expect(PUBACK, timeout=3.0)
            check(ack[4] == 0, f"written mode: PUBACK rc {ack[4]}")
            check(redis.cli("XLEN", "acked:acked/x") == "1", "written mode: PUBACK before the entry is in Redis")
            sleeper = threading.Thread(target=lambda: redis.cli("DEBUG", "SLEEP", "1.5"))
            sleeper.start()
            wait_until("Redis asleep", redis.asleep, timeout=5, step=0.01)
            t0 = time.monotonic()
            wc.send(m_publish(tid, 12, b"two", F_QOS1))
            ack = wc.expect(PUBACK, timeout=5.0)
            waited = time.monotonic() - t0
            sleeper.join()
            check(ack[4] == 0 and waited > 0.8, f"written mode during DEBUG SLEEP: PUBACK rc {ack[4]} after "
                                                   f"{waited * 1000:.0f} ms (expected accepted after the sleep)")
            log(f"written mode: the PUBACK waited {waited * 1000:.0f} ms for Redis")
            redis.cli("SET", "acked:acked/bad", "not a stream")
            tb = wc.register("acked/bad")
            wc.send(m_publish(tb, 13, b"refused", F_QOS1))
            ack = wc.expect(PUBACK, timeout=3.0)
            check(ack[4] == 1, f"written mode, XADD refused (WRONGTYPE): PUBACK rc {ack[4]}, expected 1")
            rs = wait_idle(dp, "written mode")
            a = rs["acked"]
            check(a["written"] == 2 and a["failed"] == 1, f"acked route: written {a['written']} failed {a['failed']}")
            o = outputs(dp)
            check("WRONGTYPE" in o["rw"]["last_error"], f"rw last_error {o['rw']['last_error']!r}")

            # 5. a canary generation with its own stream, rolled back while its entries wait for Redis:
            #    the retired generation's entries are still written and counted under it
            cand = text.replace('"tele:{topic}"', '"canary:{topic}"')
            check(cand != text, "canary config: stream template not found")
            with Resp(dp.ctl) as r:
                r.json("CONFIG", "LOAD", cand)
                r.json("CANARY", "SHARE", 10000)
            lg = loadgen_bg(lab, ["-p", 2, "-s", 1, "--topic", "tele/c{pub}", "--filter", "tele/+", "--qos", 0,
                                  "--rate", 200, "--duration", 3600, "--drain-ms", 1000, "--expect-no-loss",
                                  "--id-prefix", "can"])

            def canary_outputs():
                with Resp(dp.ctl) as r:
                    return {g["id"]: g for g in r.json("GENSTATS")["generations"]}[2]["outputs"]
            try:
                wait_until("the load's entries under the canary", lambda: canary_outputs()["written"] > 20,
                           timeout=20, step=0.1)
                sleeper = threading.Thread(target=lambda: redis.cli("DEBUG", "SLEEP", round(scaled(1.5), 1)))
                sleeper.start()
                wait_until("Redis asleep", redis.asleep, timeout=5, step=0.01)
                wait_until("canary entries waiting for the sleeping Redis", lambda: canary_outputs()["backlog"] > 0,
                           timeout=5, step=0.02)
                with Resp(dp.ctl) as r:
                    r.json("ROLLBACK")
                    gs = {g["id"]: g for g in r.json("GENSTATS")["generations"]}
                check(gs[2]["outputs"]["backlog"] > 0, f"no canary entries waiting at the rollback: {gs[2]['outputs']}")
                log(f"rolled back with {gs[2]['outputs']['backlog']} canary entries waiting for Redis")
                sleeper.join()
            finally:
                lg.terminate()  # the loadgen ends its send phase on SIGTERM, drains and reports
            rep, rc = loadgen_wait(lg)
            check(rc == 0, f"loadgen across the rollback: {rep['result']['verdict']}")

            def canary_done():
                with Resp(dp.ctl) as r:
                    g2 = {g["id"]: g for g in r.json("GENSTATS")["generations"]}[2]["outputs"]
                return g2 if g2["backlog"] == 0 else None
            g2 = wait_until("the retired canary's entries finished", canary_done, timeout=15)
            canary_len = sum(int(redis.cli("XLEN", f"canary:tele/c{p}") or 0) for p in range(2))
            log(f"retired canary: matched {g2['matched']} written {g2['written']} failed {g2['failed']} ring_full "
                f"{g2['ring_full']}; {canary_len} entries in its streams")
            check(route_balanced(g2),
                  f"canary counts do not balance: {g2}")
            check(canary_len == g2["written"] and canary_len > 0, f"canary streams hold {canary_len}, written "
                                                                  f"{g2['written']}")
            o = outputs(dp)

            # 6. a sink that logs in with requirepass (no ACL user) and SELECTs db 3
            pc = RawClient(lab)
            check(pc.connect("pw-q1") == 0, "pw-q1: CONNACK refused")
            tp = pc.register("pw/a")
            pc.send(m_publish(tp, 21, b"via requirepass", F_QOS1))
            check(pc.expect(PUBACK, timeout=3.0)[4] == 0, "pw sink: PUBACK not accepted")
            wait_until("the requirepass sink wrote its entry",
                       lambda: redis_pw.cli("-n", 3, "XLEN", "pw:pw/a") == "1", timeout=5)

            # 6b. a QoS 1 resend with DUP (as after a lost PUBACK) is answered again, not written again
            td = pc.register("tele/x/dup")
            for dup in (False, True, True):
                pc.send(m_publish(td, 31, b"once", F_QOS1, dup=dup))
                check(pc.expect(PUBACK, timeout=3.0)[4] == 0, "DUP resend: PUBACK not accepted")
            wait_until("the DUP test's entry is written", lambda: routes(dp)["tele"]["backlog"] == 0, timeout=5)
            n = redis.cli("XLEN", "tele:tele/x/dup")
            check(n == "1", f"a publish resent twice with DUP is {n} entries in its stream, expected 1")
            log("QoS 1 resent twice with DUP: three PUBACKs, one stream entry")
            o = outputs(dp)

            # 7. OUTPUTS
            for name, x in o.items():
                log(f"sink {name}: connected {x['connected']} written {x['written']} failed {x['failed']} batches "
                    f"{x['batches']} reconnects {x['reconnects']} rtt p50 {x['rtt_us']['p50']} us p99 "
                    f"{x['rtt_us']['p99']} us max {x['rtt_us']['max']} us")
            check(o["rd"]["batches"] > 0 and o["rd"]["rtt_us"]["n"] > 0, "rd: no batches or round trips counted")
            stats = dp.stop()
            check_conservation(stats)
            fin = {x["name"]: x for x in stats["outputs"]["sinks"]}
            for name in ("rd", "rw", "rp"):
                check(fin[name]["written"] >= o[name]["written"] and output_balanced(fin[name]),
                      f"exit stats, sink {name}: {dict((k, fin[name][k]) for k in ('matched', 'written', 'dropped', 'backlog'))}")
            log("exit stats: every sink idle and balanced (matched == written + dropped)")


if __name__ == "__main__":
    run_test(main, __doc__)
