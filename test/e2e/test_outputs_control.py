#!/usr/bin/env python3
"""fanout-control and fanoutctl over the dataplane's outputs (sinks and bridges), against a real dataplane and redis-server.

One dataplane with one Redis Streams sink `rd` (ring of 256 entries), the stable route tele/# -> rd
stream tele:{topic}; fanout-control polling it. Checks:
  1. under load: `fanoutctl outputs` (table, exit 0) and `--json` (rates.written_per_s > 0), `fanoutctl
     routes` (the sink route with its kind, target, template and counters), `fanoutctl status`
     (outputs summary), GET /api/outputs, and /metrics: fanout_output_* per output and
     fanout_generation_output_* per generation equal to the dataplane's OUTPUTS/ROUTES once idle,
     histograms cumulative with +Inf == _count;
  2. the sink_errors gate: a canary (stream tc:{topic}) rolled out with --gate 'sink_errors<1' passes
     its first step while Redis keeps up, and is rolled back by the gate when Redis stalls (DEBUG SLEEP)
     and the canary's sink ring overflows; history names the gate; the canary's counts balance;
  3. the dataplane gone: `fanoutctl outputs` shows the last figures, says so, and exits 4."""
import os
import re
import sys
import threading
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Control, Dataplane, Lab, RedisServer, TestFailure, check, check_conservation, lab_config,  # noqa: E402
                     loadgen_bg, loadgen_wait, log, route_balanced, run_test, scaled, wait_until)


def http(ctl, path):
    return ctl.api(path)


def metrics(ctl):
    """{(name, frozenset(labels)): value} from the Prometheus text; checks each line's shape."""
    _, text = http(ctl, "/metrics")
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)', line)
        check(m is not None, f"/metrics: malformed line {line!r}")
        labels = frozenset(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out, text


def lab(**kw):
    return frozenset(kw.items())


def sink_routes(ctl, role="stable"):
    return {r["name"]: r for r in (ctl.json("ROUTES")[role] or []) if r.get("kind") == "sink"}


def views_under_load(ctl, redis):
    """Phase 1's views, read while the loadgen sends."""
    j = wait_until("a written rate in fanoutctl --json outputs",
                   lambda: (lambda x: x if x["sinks"][0].get("rates", {}).get("written_per_s", 0) > 0
                            else None)(ctl.ctl_json("outputs")), timeout=10)
    rd = j["sinks"][0]
    check(rd["name"] == "rd" and rd["kind"] == "sink" and rd["connected"] and j["dataplane_up"],
          f"OUTPUTS through fanout-control: {rd}")
    log(f"fanoutctl --json outputs: written {rd['written']}, {rd['rates']['written_per_s']:.0f} msg/s")
    rc, out, err = ctl.ctl("outputs")
    check(rc == 0, f"fanoutctl outputs exited {rc}: {err}")
    for want in ("rd", "sink", " up ", "msg/s", f"Redis 127.0.0.1:{redis.port}", "PUBACK when accepted",
                 "ring ", "entries per batch"):
        check(want in out, f"fanoutctl outputs lacks {want!r}:\n{out}")
    log("fanoutctl outputs:\n" + out.rstrip())


def main(args):
    with Lab("outputs-control") as lb, RedisServer("oc") as redis:
        sock = Path(f"/tmp/fo-e2e-oc-{os.getpid()}.sock")
        overrides = {
            "sinks": [{"name": "rd", "redis": f"127.0.0.1:{redis.port}", "ring": 256, "batch": 16, "batch_us": 200,
                       "timeout_ms": 1000, "reconnect_min_ms": 50, "reconnect_max_ms": 400}],
            "routes": [{"name": "tele", "filter": "tele/#", "sink": "rd", "stream": "tele:{topic}"}],
        }
        text = lab_config(f"{lb.appliance_ip}/24", lb.vdev().split(",")[0], overrides)
        with Dataplane("oc", lb, config_text=text, extra_app=["--control", str(sock)]) as dp, \
                Control(sock, Path(dp.dir) / "control") as ctl:
            wait_until("fanout-control sees the sink connected",
                       lambda: any(o["connected"] for o in ctl.json("OUTPUTS")["sinks"]), timeout=10)

            # 1. the views under load
            # Until the views have been read: a rate is only seen while traffic flows.
            lg = loadgen_bg(lb, ["-p", 4, "-s", 1, "--topic", "tele/{pub}", "--filter", "tele/#", "--qos", 0,
                                 "--rate", 200, "--duration", 3600, "--id-prefix", "oc"])
            try:
                views_under_load(ctl, redis)
            finally:
                lg.terminate()  # the loadgen ends its send phase on SIGTERM and reports
            rep, rc = loadgen_wait(lg)
            check(rc == 0 and rep["publish"]["sent_msgs"] > 0, f"loadgen: {rep['result']['verdict']}")
            t = wait_until("the sink route idle and balanced",
                           lambda: (lambda r: r if r and route_balanced(r) else None)(sink_routes(ctl).get("tele")),
                           timeout=15, step=0.2)
            # A ring of 256 entries on this shared 2-core machine may overflow for a moment when the
            # sink thread is not scheduled: such entries are counted drops (balanced above), so
            # only require that nearly everything was written.
            check(t["matched"] > 0 and t["written"] >= 0.95 * t["matched"], f"tele route: {t}")
            rc, out, err = ctl.ctl("routes")
            check(rc == 0 and "sink and bridge routes" in out and "tele:{topic}" in out and " rd " in out,
                  f"fanoutctl routes ({rc}):\n{out}{err}")
            log("fanoutctl routes:\n" + out.rstrip())
            rc, out, err = ctl.ctl("status")
            check(rc == 0 and "outputs:\n  rd (sink) up" in out, f"fanoutctl status ({rc}):\n{out}{err}")
            code, body = http(ctl, "/api/outputs")
            check(code == 200 and '"rd"' in body, f"GET /api/outputs: {code} {body[:200]}")

            L = lab(output="rd", kind="sink")

            def settled():
                """OUTPUTS and /metrics from one poll that followed the last write."""
                o = ctl.json("OUTPUTS")["sinks"][0]
                m, _ = metrics(ctl)
                same = o["written"] == t["written"] and m.get(("fanout_output_written_total", L)) == o["written"]
                return (o, m) if same else None
            o, m = wait_until("fanout-control to poll the idle sink", settled, timeout=10, step=0.2)
            check(m.get(("fanout_output_connected", L)) == 1, "fanout_output_connected{rd} != 1")
            for key, name in (("written", "fanout_output_written_total"), ("failed", "fanout_output_failed_total"),
                              ("batches", "fanout_output_batches_total"), ("reconnects", "fanout_output_reconnects_total"),
                              ("errors", "fanout_output_errors_total"), ("backlog", "fanout_output_backlog")):
                check(m.get((name, L)) == o[key], f"{name} = {m.get((name, L))}, OUTPUTS {key} = {o[key]}")
            G = lab(generation="1", role="stable")
            check(m.get(("fanout_generation_output_written_total", G)) == t["written"] and
                  m.get(("fanout_generation_output_matched_total", G)) == t["matched"],
                  "per-generation output metrics differ from ROUTES")
            for h in ("fanout_output_batch_entries", "fanout_output_batch_rtt_seconds"):
                buckets = sorted(((float("inf") if dict(k[1])["le"] == "+Inf" else float(dict(k[1])["le"])), v)
                                 for k, v in m.items() if k[0] == h + "_bucket")
                check(len(buckets) == 24, f"{h}: {len(buckets)} buckets")
                check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), f"{h}: buckets not cumulative")
                check(buckets[-1][1] == m[(h + "_count", L)] == o["batches"],
                      f"{h}: +Inf {buckets[-1][1]}, count {m[(h + '_count', L)]}, batches {o['batches']}")
            check(("fanout_output_batch_rtt_seconds_sum", L) in m, "no rtt _sum")
            log(f"/metrics: {sum(1 for k in m if 'output' in k[0])} output series, consistent with OUTPUTS and ROUTES")

            # 2. the sink_errors gate
            canary = Path(dp.dir) / "canary.yaml"
            ctext = Path(dp.config_path).read_text()
            check("tele:{topic}" in ctext, "config text does not hold the stream template")
            canary.write_text(ctext.replace("tele:{topic}", "tc:{topic}"))
            ctl.ctl_ok("config", "apply", canary)
            # Traffic until the rollout has ended, however long the steps take on this build: the
            # stall below must meet a full sink ring, so the loadgen must still be sending then.
            # 96 msg/s in all: the 6 s stall overflows the ring (256) by twice its size, while the
            # sink thread may be starved for two seconds by other work on this machine without
            # overflowing it, which would fail step 1's gate (sink_errors<1) by chance (at 200
            # msg/s a starved second and a half did, on a loaded machine).
            lg = loadgen_bg(lb, ["-p", 8, "-s", 1, "--topic", "tele/{pub}", "--filter", "tele/#", "--qos", 0,
                                 "--rate", 12, "--duration", 3600, "--id-prefix", "og"])
            try:
                matched0 = t["matched"]
                wait_until("the second loadgen's traffic at the sink route",
                           lambda: sink_routes(ctl)["tele"]["matched"] > matched0 + 100, timeout=15, step=0.1)
                # Each step holds long enough for the stall to be seen within step 2 on a slow build.
                hold = max(3, round(scaled(3)))
                ctl.ctl_ok("rollout", "start", "--steps", "50,100", "--hold", f"{hold}s", "--gate", "sink_errors<1")
                st = wait_until("step 2 (first step passed its gate), or the rollout's end",
                                lambda: (lambda s: s if s["step"] == 1 or s["state"] != "running" else None)(
                                    ctl.rollout()), timeout=hold + 10)
                check(st["state"] == "running", f"the rollout ended in step 1 ({st['state']}): {st}")
                log(f"step 1 (50 %) held {hold} s with sink_errors = 0; step 2 running; stalling Redis (DEBUG SLEEP 6)")
                th = threading.Thread(target=redis.cli, args=("DEBUG", "SLEEP", "6"), daemon=True)
                th.start()
                st = wait_until("the rollout to end",
                                lambda: (lambda s: s if s["state"] in ("promoted", "rolled_back", "aborted") else None)(
                                    ctl.rollout()), timeout=hold + 12, step=0.1)
                check(st["state"] == "rolled_back" and st.get("failed_gate", {}).get("gate") == "sink_errors<1",
                      f"rollout ended {st['state']}: {st}")
                log(f"rolled back by the gate: {st['reason']}")
                th.join(scaled(10))
            finally:
                lg.terminate()  # the loadgen ends its send phase on SIGTERM and reports
            rep, rc = loadgen_wait(lg)
            hist = ctl.json("HISTORY", "COUNT", 20)["events"]
            gf = [e for e in hist if e["event"] == "gate_failed"]
            check(gf and gf[-1]["gate"] == "sink_errors" and gf[-1]["value"] >= 1, f"history: {hist}")
            rc, out, err = ctl.ctl("rollout", "status")
            check("failed gate: sink_errors<1 with sink_errors = " in out, f"fanoutctl rollout status:\n{out}")
            c = wait_until("the canary's sink route idle and balanced",
                           lambda: (lambda r: r if r and route_balanced(r) else None)(sink_routes(ctl, "canary").get("tele")),
                           timeout=20, step=0.2)
            check(c["ring_full"] + c["failed"] + c["pool_empty"] >= 1, f"canary sink route has no drops: {c}")
            log(f"canary sink route: matched {c['matched']} = written {c['written']} + failed {c['failed']} + "
                f"ring_full {c['ring_full']} + pool_empty {c['pool_empty']}")
            G2 = lab(generation="2", role="canary")

            def metric_drops():
                m, _ = metrics(ctl)
                return sum(m.get(("fanout_generation_output_dropped_total", G2 | lab(reason=r)), 0)
                           for r in ("failed", "ring_full", "pool_empty"))
            want = c["ring_full"] + c["failed"] + c["pool_empty"]
            try:
                wait_until("a poll of fanout-control after the canary route went idle",
                           lambda: metric_drops() == want, timeout=10, step=0.2)
            except TestFailure:
                check(False, f"fanout_generation_output_dropped_total{{generation=2}} sums to {metric_drops()}, "
                             f"ROUTES says {c}")

            # 3. the dataplane gone
            final = dp.stop()
            wait_until("fanout-control to notice", lambda: not ctl.json("STATUS")["dataplane"]["up"], timeout=10)
            rc, out, err = ctl.ctl("outputs")
            check(rc == 4 and "dataplane unreachable" in out and "rd" in out,
                  f"fanoutctl outputs with the dataplane gone: exit {rc}\n{out}{err}")
            log("dataplane stopped: fanoutctl outputs shows the last figures and exits 4")
        check_conservation(final)


if __name__ == "__main__":
    run_test(main, __doc__)
