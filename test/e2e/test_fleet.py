#!/usr/bin/env python3
"""A fleet from one control plane: two appliances, each with its own fanout-control, and a third
fanout-control managing both (--member a=tcp:..., --member b=unix:...).

Real processes: two fanout-dataplanes, each on a lab of its own (subnets leased by the harness), each
with a fanout-control (a over TCP, b over a unix socket, each with its own token), the fleet
fanout-control, fanoutctl, fanout-loadgen on each lab with the same ClientIds (flp0..flp15 publishing
fl/<pub> at QoS 1, one subscriber) and UDP collectors on :9000 (stable routes) and :9001 (canary routes)
in each lab. Checks:
  a. FLEET STATUS and `fanoutctl fleet status`: both members up with their dataplanes; FLEET STATS: each
     member's totals as that member's own fanout-control reports them, and their sum; the fleet's
     /metrics carries fanout_rx_packets_total{appliance="a"|"b"} and the summed {appliance="*"}, one
     HELP/TYPE per family; per-appliance commands are refused by the fleet (it has no dataplane).
  b. Fleet-wide rollout that promotes: canaries (routes to :9001) applied per member with
     `fanoutctl fleet apply --appliance`, `fanoutctl fleet start --order fleet --steps 50,100`. While
     both are at 50 %, the route copies of each publisher go to one port only, the same on both
     appliances, and it is :9001 exactly for the ClientIds with fo_client_id_hash % 10000 < 5000
     (re-computed here): the rollout's client hash is the same function on every appliance; SESSIONS
     agrees. The fleet ends promoted and both dataplanes have the canary as stable.
  c. A gate that fails on one member rolls back every member: a's canary is good, b's routes to an
     address nobody answers ARP for, gate drop_rate<0.05. The fleet ends rolled_back naming b; b's own
     rollout failed its gate; a's was rolled back by the fleet; both dataplanes are at share 0 with the
     canary still loaded.
  d. One appliance at a time (--order each): b's share stays 0 until a has reached the last step, and
     both end promoted together.
  e. A member that cannot be reached is a failed gate (started with POST /api/fleet/rollout/start): b's
     fanout-control killed at 50 % rolls a back at once (b's dataplane keeps its share, nobody controls it;
     `fanoutctl fleet status` exits 4); when b's fanout-control is back (its state.json still has the rollout
     running), the fleet delivers its ROLLBACK and b's dataplane goes to share 0; POST
     /api/fleet/rollout/rollback then answers for both."""
import os
import re
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Collector, Control, Dataplane, Lab, Resp, check, end_process,  # noqa: E402
                     loadgen_bg, loadgen_payload, log, on_canary, run_test, wait_until)

PUBS = 16
PREFIX = "fl"
NOWHERE_HOST = 99  # on the lab segment, where no client is


def route(lab, port, host=None):
    return [{"name": "collect", "filter": "fl/#", "to": [f"{lab.addr(host) if host else lab.client_ip}:{port}"]}]


def config_with(dp, lab, port, host=None):
    """The member's running config with its route moved to host:port."""
    text = Path(dp.config_path).read_text()
    return text.replace(f"{lab.client_ip}:9000", f"{lab.addr(host) if host else lab.client_ip}:{port}")


def gens(sock):
    with Resp(sock) as r:
        return r.json("GENERATIONS")


def fleet_ended(fleet):
    fr = fleet.json("FLEET", "ROLLOUT")
    return fr if fr["state"] in ("promoted", "rolled_back", "aborted") else None


def apply_canaries(fleet, labs, dps, hosts=(None, None)):
    for name, lab, dp, host in zip("ab", labs, dps, hosts):
        f = Path(dp.dir) / f"canary-{time.monotonic_ns()}.yaml"
        f.write_text(config_with(dp, lab, 9001, host))
        out = fleet.ctl_ok("fleet", "apply", "--appliance", name, f)
        log(f"fanoutctl fleet apply --appliance {name}: {out.strip().splitlines()[0] if out.strip() else ''}")


def dataplane(tag, lab, sock):
    return Dataplane(tag, lab, overrides={"routes": route(lab, 9000)}, extra_app=["--control", str(sock)])


def main(args):
    with Lab("fla") as la, Lab("flb") as lb:
        socks = [Path(f"/tmp/fo-e2e-fl{n}-{os.getpid()}.sock") for n in "ab"]
        with dataplane("fla", la, socks[0]) as da, dataplane("flb", lb, socks[1]) as db, \
                Collector(la, [9000, 9001]) as col_a, Collector(lb, [9000, 9001]) as col_b:
            labs, dps, cols = (la, lb), (da, db), (col_a, col_b)
            ca = Control(socks[0], Path(da.dir) / "control", tag="ctl-a")
            cb = Control(socks[1], Path(db.dir) / "control", tag="ctl-b")
            b_unix = Path(f"/tmp/fo-e2e-flb-ctl-{os.getpid()}.sock")
            cb.extra = ["--unix", str(b_unix)]
            fleet = Control(None, Path(da.dir) / "fleet", tag="fleet")
            with ca, cb:
                fleet.extra = ["--member", f"a=tcp:127.0.0.1:{ca.port},token-file={ca.token_file}",
                               "--member", f"b=unix:{b_unix},token-file={cb.token_file}"]
                with fleet:
                    run(fleet, (ca, cb), labs, dps, cols, socks)


def run(fleet, members, labs, dps, cols, socks):
    ca, cb = members
    # -- a. status, stats, /metrics
    st = wait_until("both members up with their dataplanes",
                    lambda: (lambda s: s if s["up"] == 2 and all(m["dataplane_up"] for m in s["members"]) else None)(
                        fleet.json("FLEET", "STATUS")), timeout=20, step=0.1)
    check([m["name"] for m in st["members"]] == ["a", "b"], f"FLEET STATUS members: {st}")
    check(st["members"][1]["endpoint"].startswith("unix:"), f"member b over its unix socket: {st['members'][1]}")
    out = fleet.ctl_ok("fleet", "status")
    check(re.search(r"\ba\s+tcp:127\.0\.0\.1:\d+\s+up\s+up\b", out) and re.search(r"\bb\s+unix:\S+\s+up\s+up\b", out),
          f"fanoutctl fleet status:\n{out}")
    rc, _, err = fleet.ctl("stats")
    check(rc == 1 and "runs a fleet" in err, f"fanoutctl stats on the fleet: exit {rc}: {err}")

    lgs = [loadgen_bg(lab, ["-p", PUBS, "-s", 1, "--topic", "fl/{pub}", "--filter", "fl/#", "--qos", 1,
                            "--total-rate", 64, "--duration", 3600, "--id-prefix", PREFIX]) for lab in labs]
    try:
        for lab, col in zip(labs, cols):
            wait_until(f"copies from all {PUBS} publishers at {lab.name}'s stable collector",
                       lambda: len(col.publishers(9000)) == PUBS, timeout=30, step=0.1)

        def sums_match():
            s = fleet.json("FLEET", "STATS")
            own = [c.json("STATS")["totals"]["rx"] for c in (ca, cb)]
            got = [m["totals"]["rx"] for m in s["members"]]
            # the fleet's figures are its last poll of each member: within a poll of the member's own
            ok = all(o - g >= 0 and o - g < 200 for o, g in zip(own, got)) and \
                s["sum"]["totals"]["rx"] == sum(got) and s["members_summed"] == 2
            return (s, own) if ok else None
        s, own = wait_until("FLEET STATS to match the members' own STATS", sums_match, timeout=10, step=0.2)
        log(f"FLEET STATS rx: a {s['members'][0]['totals']['rx']} b {s['members'][1]['totals']['rx']} "
            f"sum {s['sum']['totals']['rx']} (members' own: {own})")
        out = fleet.ctl_ok("fleet", "stats")
        check("sum of 2" in out, f"fanoutctl fleet stats:\n{out}")
        code, text = fleet.api("/metrics")
        check(code == 200, f"/metrics: HTTP {code}")
        vals = {m.group(1): int(m.group(2)) for m in
                re.finditer(r'^fanout_rx_packets_total\{appliance="([^"]+)"\} (\d+)$', text, re.M)}
        check(set(vals) == {"a", "b", "*"} and vals["*"] == vals["a"] + vals["b"],
              f"fanout_rx_packets_total per appliance and summed: {vals}")
        check(text.count("# TYPE fanout_rx_packets_total ") == 1, "one TYPE line per family")
        check('fanout_fleet_member_up{appliance="b"} 1' in text, "fanout_fleet_member_up of b")
        code, body = fleet.api("/api/fleet/stats")
        check(code == 200 and '"members_summed"' in body, f"/api/fleet/stats: HTTP {code} {body[:200]}")

        # -- b. fleet-wide rollout, promoted
        apply_canaries(fleet, labs, dps)
        canary_ids = [gens(sk)["canary"]["id"] for sk in socks]
        out = fleet.ctl_ok("fleet", "start", "--order", "fleet", "--steps", "50,100", "--hold", "8s",
                           "--gate", "drop_rate<0.05")
        log("fanoutctl fleet start:\n" + out)
        wait_until("both appliances at 50 %",
                   lambda: all(m.get("share_bp") == 5000 for m in fleet.json("FLEET", "STATUS")["members"]),
                   timeout=20, step=0.1)
        t0 = time.monotonic() + 0.3
        time.sleep(1.8)
        t1 = time.monotonic() - 0.2
        check(fleet.json("FLEET", "ROLLOUT")["step"] == 0, "still at step 1 after the window")
        want = {p: 9001 if on_canary(f"{PREFIX}p{p}", 5000) else 9000 for p in range(PUBS)}
        check(0 < sum(1 for v in want.values() if v == 9001) < PUBS, f"a 50 % share splits the publishers: {want}")
        for name, col in zip("ab", cols):
            ports = {}
            for port, t, data in col.snapshot():
                k = loadgen_payload(data)
                if k and t0 <= t <= t1:
                    ports.setdefault(k[0], set()).add(port)
            check(len(ports) == PUBS, f"{name}: copies from {len(ports)} publishers in the window at 50 %")
            for p, got in ports.items():
                check(got == {want[p]}, f"appliance {name}: {PREFIX}p{p}'s copies went to {sorted(got)} at 50 %, "
                                        f"fo_client_id_hash puts it on {want[p]}")
        sides = []
        for c in (ca, cb):
            ss = c.json("SESSIONS", "COUNT", 100)["sessions"]
            sides.append({x["client_id"]: x["side"] for x in ss if x["client_id"].startswith(f"{PREFIX}p")})
        check(sides[0] == sides[1] and len(sides[0]) == PUBS, f"SESSIONS sides differ between the appliances: {sides}")
        log(f"at 50 %: the same {sum(1 for v in want.values() if v == 9001)} of {PUBS} publishers on the canary "
            "on both appliances (route copies and SESSIONS)")
        fr = wait_until("the fleet rollout to end", lambda: fleet_ended(fleet), timeout=60, step=0.2)
        check(fr["state"] == "promoted", f"fleet rollout ended {fr['state']}: {fr}")
        for name, sk, cid in zip("ab", socks, canary_ids):
            g = gens(sk)
            check(g["stable"]["id"] == cid and g["canary"] is None, f"{name} after the fleet promote: {g}")

        # -- c. a gate fails on b: every appliance rolls back
        apply_canaries(fleet, labs, dps, hosts=(None, NOWHERE_HOST))
        check(any(on_canary(f"{PREFIX}p{p}", 5000) for p in range(PUBS)), "a publisher on the canary at 50 %")
        fleet.ctl_ok("fleet", "start", "--steps", "50,100", "--hold", "4s", "--gate", "drop_rate<0.05")
        fr = wait_until("the fleet rollout to end", lambda: fleet_ended(fleet), timeout=60, step=0.1)
        check(fr["state"] == "rolled_back" and fr.get("failed_appliance") == "b",
              f"fleet rollout: {fr['state']}, failed appliance {fr.get('failed_appliance')}: {fr}")
        rb = cb.rollout()
        check(rb["state"] == "rolled_back" and rb.get("failed_gate", {}).get("gate") == "drop_rate<0.05",
              f"b's own rollout: {rb}")
        ra = wait_until("a rolled back by the fleet",
                        lambda: (lambda r: r if r["state"] == "rolled_back" else None)(ca.rollout()), timeout=10)
        check("operator" in ra["reason"] or "rollback" in ra["reason"], f"a's rollout: {ra}")
        for name, sk in zip("ab", socks):
            g = wait_until(f"{name}'s dataplane at share 0",
                           lambda: (lambda g: g if g["share_bp"] == 0 else None)(gens(sk)), timeout=5)
            check(g["canary"] is not None, f"{name}: the canary stays loaded after the rollback: {g}")
        ma = next(m for m in fleet.json("FLEET", "ROLLOUT")["members"] if m["name"] == "a")
        check("rollback_ns" in ma, f"the fleet timed a's rollback: {ma}")
        log(f"gate failed on b: {fr['reason']}; a rolled back by the fleet in {ma['rollback_ns'] / 1e6:.2f} ms "
            f"(decided -> a's dataplane swapped; a's own part {ma.get('rollback_member_ns', 0) / 1e6:.2f} ms)")
        hist = fleet.json("HISTORY", "COUNT", 50)["events"]
        check(any(e["event"] == "fleet_rollback" and e.get("appliance") == "b" for e in hist),
              f"the fleet's history records the rollback: {hist[-5:]}")

        # -- d. one appliance at a time
        apply_canaries(fleet, labs, dps)
        canary_ids = [gens(sk)["canary"]["id"] for sk in socks]
        # FLEET STATUS is the fleet's last poll of each member's last poll: start from a view of both at 0
        wait_until("the fleet to see the new canaries at share 0",
                   lambda: [(m.get("canary"), m.get("share_bp")) for m in fleet.json("FLEET", "STATUS")["members"]]
                   == [(c, 0) for c in canary_ids], timeout=10, step=0.1)
        fleet.ctl_ok("fleet", "start", "--order", "each", "--steps", "50,100", "--hold", "2s")
        samples = []

        def sample_until_end():
            s = fleet.json("FLEET", "STATUS")
            samples.append([(m.get("share_bp"), m.get("canary")) for m in s["members"]])
            return s["fleet_rollout"] if s["fleet_rollout"]["state"] in ("promoted", "rolled_back", "aborted") else None
        fr = wait_until("the one-at-a-time rollout to end", sample_until_end, timeout=90, step=0.1)
        check(fr["state"] == "promoted", f"one at a time ended {fr['state']}: {fr}")
        b_moved = [(a, b) for a, b in samples if (b[0] or 0) > 0]
        check(b_moved, f"b never had a share above 0: {samples[-10:]}")
        for a, b in b_moved:
            check(a[0] == 10000 or a[1] is None, f"b at share {b[0]} while a was at {a[0]} (a must have passed all steps)")
        check(any((a[0] or 0) > 0 and (b[0] or 0) == 0 for a, b in samples), "a moved while b stayed at 0")
        for name, sk, cid in zip("ab", socks, canary_ids):
            g = gens(sk)
            check(g["stable"]["id"] == cid and g["canary"] is None, f"{name} after the one-at-a-time promote: {g}")
        log(f"one at a time: {len(samples)} samples, b moved only after a reached 100 %; both promoted")

        # -- e. a member that cannot be reached is a failed gate; it gets its ROLLBACK when it is back
        apply_canaries(fleet, labs, dps)
        fleet.api_json("/api/fleet/rollout/start", method="POST", body={"steps": [50, 100], "hold_s": 60})
        wait_until("both appliances at 50 %",
                   lambda: all(gens(sk)["share_bp"] == 5000 for sk in socks), timeout=20, step=0.1)
        cb.kill()
        fr = wait_until("the fleet rollout to end", lambda: fleet_ended(fleet), timeout=20, step=0.1)
        check(fr["state"] == "rolled_back" and fr.get("failed_appliance") == "b" and "unreachable" in fr["reason"],
              f"fleet rollout after b's fanout-control died: {fr}")
        wait_until("a's dataplane at share 0", lambda: gens(socks[0])["share_bp"] == 0, timeout=5)
        check(gens(socks[1])["share_bp"] == 5000, "b's dataplane keeps its share while nobody controls it")
        rc, out, _ = fleet.ctl("fleet", "status")
        check(rc == 4 and re.search(r"\bb\s+unix:\S+\s+DOWN", out), f"fanoutctl fleet status with b away: exit {rc}\n{out}")
        cb.start()
        wait_until("b rolled back once its fanout-control is back",
                   lambda: gens(socks[1])["share_bp"] == 0 and cb.rollout()["state"] == "rolled_back", timeout=20)
        mb = next(m for m in fleet.json("FLEET", "ROLLOUT")["members"] if m["name"] == "b")
        check(not mb["rollback_due"], f"b's ROLLBACK delivered: {mb}")
        rb = fleet.api_json("/api/fleet/rollout/rollback", method="POST", body={})
        check(rb["failed"] == 0 and set(rb["members"]) == {"a", "b"}, f"POST /api/fleet/rollout/rollback: {rb}")
        log(f"b unreachable: {fr['reason']}; a rolled back at once, b when its fanout-control came back")
    finally:
        for lg in lgs:
            end_process(lg)


if __name__ == "__main__":
    run_test(main, __doc__)
