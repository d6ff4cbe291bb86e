#!/usr/bin/env python3
"""fanout-control and the dataplane restarting under each other (docs/control.md: "the dataplane forwards on
its own: fanout-control may die or restart at any time"; "when the dataplane (re)connects it pushes the desired
state").

Real processes: fanout-dataplane on the lab (subnet 114), fanout-control with a --state-dir, fanoutctl,
fanout-loadgen (8 publishers ckp0..ckp7, 1 subscriber, QoS 1, --expect-no-loss), UDP collectors in the lab
namespace on :9000 (generation 1's route), :9001 (the first canary's) and :9002 (the second canary's).

a. SIGKILL of fanout-control in the middle of a QoS 1 loadgen run does not interrupt forwarding: the loadgen
   passes with no loss, and the dataplane's rx counter, sampled from its own control socket every 100 ms
   (STATS), never stands still for 0.5 s while the load runs; the rate in the second after the kill is within
   the load's normal range; the dataplane's generations do not move while fanout-control is away.
b. fanout-control restarted with the same --state-dir resumes its rollout: a `--no-auto` rollout held at step 2
   (5 %) before the kill shows the same state, generation, plan, step, share and times after the restart;
   every history event from before the kill is still there, in order, followed by control_start (and no
   control_stop: it had no chance to write one); `fanoutctl rollout resume` then takes step 3 (25 %) on the
   dataplane.
c. Restarting the dataplane brings back the desired generations: with generation 2 promoted to stable and
   generation 3 a mirror canary at 40 %, the dataplane is stopped and a new one started on the same --control
   path with the boot config (generation 1 routes only). Within a few seconds of its ready line the new
   dataplane's GENERATIONS shows stable 2 and canary 3 with the fingerprints and route counts of before, share
   4000 and mode mirror; fanout-control's history has dataplane_down, dataplane_up and a reconciled event; a
   publish from a stable-side client and one from a canary-side client both reach :9001 (generation 2's route;
   mirror sends nothing for the canary) and the canary counts one mirror copy. The time from ready to
   re-synced is logged ("resync:").
Conservation holds on the final stats of both dataplanes."""
import os
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (CONNACK, F_QOS1, PUBACK, Collector, Control, Dataplane, Lab, RawClient, Resp, check,  # noqa: E402
                     check_conservation, loadgen_bg, loadgen_wait, log, m_connect, m_publish, on_canary, remove_workdir,
                     run_test, scaled, wait_until, workdir)

PUBS = 8
RATE = 200
ROLLOUT_KEYS = ("state", "generation", "plan", "step", "share_bp", "started_ms", "step_started_ms", "ended_ms",
                "reason")
STALL_S = 0.5  # the longest the dataplane's rx counter may stand still under load
RESYNC_S = 8.0  # reconnect backoff tops at 5 s, plus the push


def routes(lab, port):
    return [{"name": "collect", "filter": "ro/#", "to": [f"{lab.client_ip}:{port}"]}]


def dp_json(sock, *cmd):
    with Resp(sock, timeout=5) as r:
        return r.json(*cmd)


def wait_rollout(ctl, state, step, timeout=15):
    return wait_until(f"rollout {state} at step {step + 1}",
                      lambda: (lambda s: s if s["state"] == state and s["step"] == step else None)(ctl.rollout()),
                      timeout=timeout, step=0.05)


class Sampler:
    """The dataplane's STATS every 100 ms on its own control socket: (monotonic s, totals.rx)."""

    def __init__(self, sock):
        self.sock, self.samples, self.errors = sock, [], []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            with Resp(self.sock, timeout=5) as r:
                while not self.stop_ev.is_set():
                    s = r.json("STATS")
                    self.samples.append((time.monotonic(), s["totals"]["rx"]))
                    self.stop_ev.wait(0.1)
        except Exception as e:  # reported by the main thread
            self.errors.append(repr(e))

    def stop(self):
        self.stop_ev.set()
        self.t.join(timeout=10)
        return self.samples


def check_no_stall(samples, t_from, t_to, t_kill):
    """No span of STALL_S or more without rx growing between t_from and t_to; rates around the kill."""
    win = [(t, rx) for t, rx in samples if t_from <= t <= t_to]
    check(len(win) >= 10, f"only {len(win)} STATS samples between the loadgen's start and end")
    longest, since = 0.0, win[0][0]
    gaps = []
    for (t0, rx0), (t1, rx1) in zip(win, win[1:]):
        if rx1 > rx0:
            since = t1
        longest = max(longest, t1 - since)
        gaps.append(t1 - t0)
    per_s = []
    t = win[0][0]
    while t + 1.0 <= win[-1][0]:
        a = [x for x in win if t <= x[0] <= t + 1.0]
        if len(a) >= 2:
            per_s.append((a[-1][1] - a[0][1]) / (a[-1][0] - a[0][0]))
        t += 1.0

    def rate(t_a, t_b):
        a = [x for x in win if t_a <= x[0] <= t_b]
        return (a[-1][1] - a[0][1]) / (a[-1][0] - a[0][0]) if len(a) >= 2 and a[-1][0] > a[0][0] else 0.0
    before, after = rate(t_kill - 1.0, t_kill), rate(t_kill, t_kill + 1.0)
    log(f"forwarding: {len(win)} STATS samples (largest sampling gap {max(gaps) * 1e3:.0f} ms), longest span "
        f"without rx {longest * 1e3:.0f} ms; rx per second {min(per_s):.0f}..{max(per_s):.0f}; "
        f"1 s before the kill {before:.0f} pkt/s, 1 s after {after:.0f} pkt/s")
    check(longest < STALL_S, f"the dataplane's rx stood still for {longest * 1e3:.0f} ms under load")
    check(after >= 0.5 * before and after >= 0.5 * PUBS * RATE,
          f"rx rate after the kill {after:.0f} pkt/s, before {before:.0f} pkt/s (load {PUBS * RATE} publishes/s)")


def kill_and_restart(lab, sock, ctl):
    """a + b: SIGKILL fanout-control under load with a held rollout; restart; it resumes."""
    # The load runs until this function has done its part, however long that takes on this build;
    # the forwarding check looks at the span from the load's first second to its end.
    rx0 = dp_json(sock, "STATS")["totals"]["rx"]
    lg = loadgen_bg(lab, ["-p", PUBS, "-s", 1, "--topic", "ro/{pub}", "--filter", "ro/#", "--qos", 1,
                          "--rate", RATE, "--duration", 3600, "--id-prefix", "ck", "--expect-no-loss"])
    t_lg = time.monotonic()
    smp = Sampler(sock)
    t_flow = t_stop = None
    try:
        # The publishers have connected once half a second of the load's publishes has come in.
        t_flow = wait_until("the load at the dataplane", lambda: next(
            (t for t, rx in list(smp.samples) if rx - rx0 >= PUBS * RATE // 2), None), timeout=20, step=0.1)
        time.sleep(1.5)  # the load's rate before the kill is measured over the last second of this
        before = ctl.rollout()
        hist_before = ctl.json("HISTORY", "COUNT", 1000)["events"]
        g_before = dp_json(sock, "GENERATIONS")
        pid = ctl.proc.pid
        t_kill = time.monotonic()
        ctl.kill()
        log(f"fanout-control (pid {pid}) killed with SIGKILL {t_kill - t_lg:.1f} s into the load")
        for _ in range(10):
            time.sleep(0.2)
            g = dp_json(sock, "GENERATIONS")
            check(g["share_bp"] == 500 and g["canary"]["id"] == 2 and g["stable"]["id"] == 1 and
                  g["swaps"] == g_before["swaps"], f"generations moved while fanout-control was away: {g}")
        ctl.start()
        t_up = time.monotonic()
        st = wait_until("fanout-control to re-sync with the dataplane",
                        lambda: (lambda s: s if s["dataplane"]["up"] and s["dataplane"]["synced"] else None)(
                            ctl.json("STATUS")), timeout=10)
        log(f"fanout-control restarted (pid {ctl.proc.pid}), synced {time.monotonic() - t_up:.2f} s after it "
            f"answered PING")
        after = ctl.rollout()
        for k in ROLLOUT_KEYS:
            check(after.get(k) == before.get(k), f"rollout {k} after the restart: {after.get(k)!r}, "
                                                 f"before the kill: {before.get(k)!r}")
        check(after["state"] == "held" and after["step"] == 1 and after["share_bp"] == 500,
              f"rollout after restart: {after}")
        d = st["desired"]
        check(d["stable"] is None and d["canary"] == 2 and d["share_bp"] == 500 and d["mode"] == "split",
              f"desired state after the restart: {d}")
        hist = ctl.json("HISTORY", "COUNT", 1000)["events"]
        check(hist[:len(hist_before)] == hist_before,
              "history before the kill is not a prefix of the history after the restart: "
              f"{len(hist_before)} events before, {len(hist)} after")
        new = [e["event"] for e in hist[len(hist_before):]]
        check(new and new[0] == "control_start" and "control_stop" not in new,
              f"events after the kill: {new}")
        check(hist[len(hist_before)]["pid"] == ctl.proc.pid, f"control_start: {hist[len(hist_before)]}")
        check(not [e for e in hist[len(hist_before):] if e["event"] == "reconciled"],
              f"the restart pushed something although the dataplane had the desired state: {new}")
        g = dp_json(sock, "GENERATIONS")
        check(g["swaps"] == g_before["swaps"], f"the restart changed the dataplane's generations: {g}")
        out = ctl.ctl_ok("rollout", "resume")
        log("fanoutctl rollout resume: " + out.strip().splitlines()[0])
        wait_until("share 2500 on the dataplane after resume", lambda: dp_json(sock, "GENERATIONS")["share_bp"] == 2500,
                   timeout=5, step=0.02)
        r = ctl.rollout()
        check(r["step"] == 2 and r["share_bp"] == 2500 and r["state"] in ("running", "held"),
              f"rollout after resume: {r}")
    finally:
        t_stop = time.monotonic()
        lg.terminate()  # the loadgen ends its send phase on SIGTERM, drains and reports
        rep, rc = loadgen_wait(lg)
        samples = smp.stop()
    d, p = rep["deliver"], rep["publish"]
    log(f"loadgen: sent {p['sent_msgs']} acked {p['acked_msgs']} received {d['received_msgs']} lost {d['lost_msgs']}"
        f" duplicated {d['duplicated_msgs']}; verdict {rep['result']['verdict']}")
    check(rc == 0 and rep["result"]["pass"] and d["lost_msgs"] == 0 and p["acked_msgs"] == p["sent_msgs"],
          f"QoS 1 loss around the fanout-control kill: {rep['result']['verdict']}")
    check(not smp.errors, f"STATS sampler: {smp.errors}")
    check_no_stall(samples, t_flow, t_stop, t_kill)


def publish_once(lab, cid, tag):
    """CONNECT (retried like a real client: a restarted dataplane has an empty neighbour table, so its first
    reply to us is a counted no_neighbour drop while it ARPs), REGISTER, one QoS 1 PUBLISH."""
    c = RawClient(lab)
    try:
        for attempt in range(3):
            c.send(m_connect(cid))
            body = c.recv(scaled(1.0))
            if body is not None:
                break
        check(body is not None and body[0] == CONNACK and body[1][0] == 0, f"{cid}: no CONNACK in 3 tries: {body}")
        tid = c.register("ro/restart")
        c.send(m_publish(tid, c.next_id(), tag.encode(), F_QOS1))
        c.expect(PUBACK, timeout=3)
    finally:
        c.close()


def main(args):
    with Lab("cr") as lab, Collector(lab, [9000, 9001, 9002]) as coll:
        sock = Path(f"/tmp/fo-e2e-cr-{os.getpid()}.sock")
        cdir = workdir("cr-ctl")
        ctl = Control(sock, cdir)
        ok = False
        try:
            with Dataplane("cr", lab, overrides={"routes": routes(lab, 9000)}, extra_app=["--control", str(sock)]) as dp:
                boot = Path(dp.config_path).read_text()
                ctl.start()
                c1 = Path(cdir) / "canary-9001.yaml"
                c1.write_text(boot.replace(f"{lab.client_ip}:9000", f"{lab.client_ip}:9001"))
                ctl.ctl_ok("config", "apply", c1)
                ctl.ctl_ok("rollout", "start", "--steps", "1,5,25", "--hold", "1s", "--no-auto")
                wait_rollout(ctl, "held", 0)
                ctl.ctl_ok("rollout", "resume")
                wait_rollout(ctl, "held", 1)
                g = dp_json(sock, "GENERATIONS")
                check(g["canary"]["id"] == 2 and g["share_bp"] == 500, f"held at step 2: {g}")

                kill_and_restart(lab, sock, ctl)

                # c. Desired: stable 2 (promoted), canary 3 in mirror at 40 %.
                wait_rollout(ctl, "held", 2)
                ctl.ctl_ok("rollout", "promote")
                g = dp_json(sock, "GENERATIONS")
                check(g["stable"]["id"] == 2 and g["canary"] is None, f"after promote: {g}")
                c2 = Path(cdir) / "canary-9002.yaml"
                c2.write_text(boot.replace(f"{lab.client_ip}:9000", f"{lab.client_ip}:9002"))
                ctl.ctl_ok("config", "apply", c2)
                ctl.ctl_ok("rollout", "start", "--steps", "40,100", "--hold", "60s", "--mode", "mirror")
                want = wait_until("canary 3 at 40 % mirror", lambda: (lambda x: x if x["share_bp"] == 4000 and
                                  x["mode"] == "mirror" and x["canary"]["id"] == 3 else None)(
                                  dp_json(sock, "GENERATIONS")), timeout=5)
                check(want["stable"]["id"] == 2, f"desired generations: {want}")
                final1 = dp.stop()
            log("first dataplane stopped")
            check_conservation(final1)
            n_hist = ctl.json("HISTORY", "COUNT", 1000)["total"]

            with Dataplane("cr2", lab, overrides={"routes": routes(lab, 9000)}, extra_app=["--control", str(sock)]) as dp2:
                t_ready = time.monotonic()
                g = wait_until("the new dataplane to get the desired generations back",
                               lambda: (lambda x: x if x["share_bp"] == 4000 and x["canary"] else None)(
                                   dp_json(sock, "GENERATIONS")), timeout=RESYNC_S + 5, step=0.01)
                t_sync = time.monotonic()
                log(f"resync: the new dataplane had the desired generations {1e3 * (t_sync - t_ready):.0f} ms after "
                    f"its ready line (reconnect backoff up to 5 s)")
                check(t_sync - t_ready <= scaled(RESYNC_S),
                      f"re-sync took {t_sync - t_ready:.1f} s (> {scaled(RESYNC_S)} s)")
                for role in ("stable", "canary"):
                    for k in ("id", "fingerprint", "routes"):
                        check(g[role][k] == want[role][k], f"new dataplane's {role} {k}: {g[role][k]!r}, "
                                                           f"desired {want[role][k]!r} ({g})")
                check(g["mode"] == "mirror" and g["share_bp"] == 4000, f"new dataplane: {g}")
                st = wait_until("fanout-control synced", lambda: (lambda s: s if s["dataplane"]["synced"] else None)(
                    ctl.json("STATUS")), timeout=5)
                check(st["rollout"]["state"] == "running" and st["rollout"]["share_bp"] == 4000,
                      f"rollout across the dataplane restart: {st['rollout']}")
                ev = ctl.json("HISTORY", "COUNT", 1000)["events"][n_hist - 1:]
                names = [e["event"] for e in ev]
                check("dataplane_down" in names and "dataplane_up" in names, f"history after the restart: {names}")
                rec = [e for e in ev if e["event"] == "reconciled"]
                check(len(rec) == 1 and rec[0]["commands"] == 4 and rec[0]["desired"]["stable"] == 2 and
                      rec[0]["desired"]["canary"] == 3, f"reconciled events: {rec} ({names})")
                check("renumbered" not in names, f"history: {names}")

                # A publish from each side: generation 2's route (:9001) for both, canary 3 only counts a mirror copy.
                stable_cid = next(f"cks{i}" for i in range(100) if not on_canary(f"cks{i}", 4000))
                canary_cid = next(f"ckc{i}" for i in range(100) if on_canary(f"ckc{i}", 4000))
                g3 = next(x for x in dp_json(sock, "GENSTATS")["generations"] if x["id"] == 3)
                n0 = len(coll.snapshot())
                publish_once(lab, stable_cid, f"{stable_cid}:after-restart")
                publish_once(lab, canary_cid, f"{canary_cid}:after-restart")
                wait_until("both publishes at a collector", lambda: len(coll.snapshot()) >= n0 + 2, timeout=5,
                           fail=False)
                time.sleep(0.2)  # a quiet window: a third copy (to :9000 or twice) would land in it
                got = [(p, d.decode(errors="replace")) for p, _, d in coll.snapshot()[n0:]]
                want_got = [(9001, f"{stable_cid}:after-restart"), (9001, f"{canary_cid}:after-restart")]
                check(sorted(got) == sorted(want_got),
                      f"after the dataplane restart the collectors got {got}; expected both publishes on :9001 only")
                g3b = next(x for x in dp_json(sock, "GENSTATS")["generations"] if x["id"] == 3)
                mirrored = g3b["mirror_copies"] + g3b["mirror_no_neighbour"] - g3["mirror_copies"] - \
                    g3["mirror_no_neighbour"]
                check(mirrored == 1 and g3b["route_copies"] == g3["route_copies"],
                      f"canary 3 in mirror: {mirrored} mirror copies (expected 1), route copies "
                      f"{g3['route_copies']} -> {g3b['route_copies']}")
                log(f"after the restart: {stable_cid} (stable side) and {canary_cid} (canary side, mirrored) both "
                    f"routed by generation 2 to :9001")
                final2 = dp2.stop()
            check_conservation(final2)
            ok = True
        finally:
            if not ok:
                ctl.print_log()
            ctl.stop()
            remove_workdir(cdir)


if __name__ == "__main__":
    run_test(main, __doc__)
